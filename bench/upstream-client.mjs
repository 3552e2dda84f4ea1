#!/usr/bin/env node
// Benchmark: which HTTP client should the core use for its upstream connections to app
// processes over unix sockets: node:http with a keep-alive Agent, undici 7 (Pool.request /
// Pool.dispatch, what the core used until issue 17), or Ferry's own pool over node:net
// (src/core/upstream, what the proxy uses now; F needs `npm run build` first)?
//
// Usage:
//   node bench/upstream-client.mjs [--rounds 3] [--duration 5] [--connections 50] [--warmup 1]
//                                  [--configs baseline,A,C,F]
//
// Configs:
//   baseline  the hello app itself on a TCP port (no proxy)
//   A         proxy with node:http + keep-alive Agent (the shape of the removed node:http proxy)
//   B         proxy with undici Pool.request(), body piped to res
//   C         proxy with undici Pool.dispatch() and a raw handler writing straight to res
//   S         (optional) proxy with undici Pool.stream(), factory returns res
//   F         proxy with Ferry's UpstreamPool.dispatch() (dist/core/upstream) and a handler
//             writing straight to res, as the removed node:http proxy did
//
// The same file is re-executed as the child proxies (`--role proxy --variant X --socket P`).
// Every child is spawned by this process, tracked by pid and killed at the end (also on error
// and on SIGINT/SIGTERM); the temp dir is removed.

import { spawn, execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SELF = fileURLToPath(import.meta.url);

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const key = a.slice(2);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) out[key] = true;
    else { out[key] = next; i++; }
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));

// ---------------------------------------------------------------------------------------------
// Header handling shared by every proxy variant (a condensed copy of src/core/proxy/headers.ts:
// hop-by-hop headers dropped both ways, X-Forwarded-* and X-Request-Id added upstream).
// ---------------------------------------------------------------------------------------------

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

function connectionTokens(raw) {
  let tokens;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].toLowerCase() !== 'connection') continue;
    for (const t of raw[i + 1].split(',')) {
      const n = t.trim().toLowerCase();
      if (n) (tokens ??= new Set()).add(n);
    }
  }
  return tokens;
}

/**
 * Upstream request headers as a flat [name, value, ...] array. node:http keeps
 * Transfer-Encoding (it re-frames the body itself); undici refuses a
 * Transfer-Encoding header (it frames the body itself: Content-Length if given, else chunked),
 * so the undici variants drop it.
 */
function upstreamHeaders(raw, remoteAddress, keepTransferEncoding) {
  const listed = connectionTokens(raw);
  const out = [];
  let xff;
  let host;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    const lower = name.toLowerCase();
    if (lower === 'x-forwarded-for') { xff = xff === undefined ? value : `${xff}, ${value}`; continue; }
    if (lower === 'x-forwarded-proto' || lower === 'x-forwarded-host' || lower === 'x-request-id' || lower === 'expect') continue;
    if (lower === 'host') host = value;
    if (lower === 'transfer-encoding') { if (keepTransferEncoding) out.push(name, value); continue; }
    if (HOP_BY_HOP.has(lower) || listed?.has(lower)) continue;
    out.push(name, value);
  }
  const client = remoteAddress ?? 'unknown';
  out.push('X-Forwarded-For', xff === undefined ? client : `${xff}, ${client}`);
  out.push('X-Forwarded-Proto', 'http');
  if (host !== undefined) out.push('X-Forwarded-Host', host);
  out.push('X-Request-Id', crypto.randomUUID());
  return out;
}

/** Downstream response headers from a raw [name, value, ...] string array. */
function downstreamHeaders(raw) {
  const listed = connectionTokens(raw);
  const out = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i].toLowerCase();
    if (HOP_BY_HOP.has(lower) || listed?.has(lower)) continue;
    out.push(raw[i], raw[i + 1]);
  }
  return out;
}

/** Downstream response headers from undici's parsed object (lowercased names, arrays for repeats). */
function downstreamHeadersFromObject(obj) {
  const conn = obj.connection;
  let listed;
  if (conn !== undefined) {
    listed = new Set();
    for (const v of Array.isArray(conn) ? conn : [conn]) for (const t of v.split(',')) { const n = t.trim().toLowerCase(); if (n) listed.add(n); }
  }
  const out = {};
  for (const k in obj) {
    if (HOP_BY_HOP.has(k) || listed?.has(k)) continue;
    out[k] = obj[k];
  }
  return out;
}

function hasRequestBody(req) {
  const te = req.headers['transfer-encoding'];
  if (te !== undefined) return true;
  const cl = req.headers['content-length'];
  return cl !== undefined && cl !== '0';
}

function send502(res) {
  if (res.headersSent) { res.destroy(); return; }
  const body = 'Bad Gateway\n';
  res.writeHead(502, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

// ---------------------------------------------------------------------------------------------
// Proxy role
// ---------------------------------------------------------------------------------------------

async function runProxy(variant, socketPath) {
  let handler;

  if (variant === 'A') {
    const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 256, scheduling: 'lifo' });
    handler = (req, res) => {
      const upstream = http.request({
        agent,
        socketPath,
        method: req.method,
        path: req.url,
        headers: upstreamHeaders(req.rawHeaders, req.socket.remoteAddress, true),
        setHost: false,
      });
      upstream.on('response', (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, downstreamHeaders(upRes.rawHeaders));
        upRes.pipe(res);
        upRes.on('error', () => res.destroy());
      });
      upstream.on('error', () => send502(res));
      res.on('close', () => { if (!res.writableFinished) upstream.destroy(); });
      req.on('error', () => upstream.destroy());
      req.pipe(upstream);
    };
  } else if (variant === 'F') {
    const { UpstreamPool } = await import('../dist/core/upstream/upstream-pool.js');
    const pool = new UpstreamPool({ socketPath });
    // One handler object per request, as the proxy has: no closures per request.
    class Relay {
      constructor(res) { this.res = res; this.exchange = undefined; this.drainListened = false; }
      onHead(head) {
        const { fields } = head;
        const raw = new Array(fields.length * 2);
        for (let i = 0; i < fields.length; i++) { raw[2 * i] = fields[i].name; raw[2 * i + 1] = fields[i].value; }
        this.res.writeHead(head.status, head.reason, downstreamHeaders(raw));
      }
      onData(chunk) {
        if (this.res.write(chunk)) return true;
        if (!this.drainListened) { this.drainListened = true; this.res.on('drain', () => this.exchange.resume()); }
        return false;
      }
      onComplete() { this.res.end(); }
      onError() { send502(this.res); }
    }
    handler = (req, res) => {
      const relay = new Relay(res);
      res.on('close', () => { if (!res.writableFinished) relay.exchange.abort(new Error('client closed')); });
      relay.exchange = pool.dispatch({
        method: req.method,
        path: req.url,
        headers: upstreamHeaders(req.rawHeaders, req.socket.remoteAddress, false),
        body: hasRequestBody(req) ? req : null,
      }, relay);
    };
  } else {
    const { Pool } = await import('undici');
    const pool = new Pool('http://localhost', { socketPath, connections: 128, pipelining: 1 });

    if (variant === 'B') {
      handler = (req, res) => {
        const ac = new AbortController();
        res.on('close', () => { if (!res.writableFinished) ac.abort(); });
        req.on('error', () => ac.abort());
        pool.request({
          path: req.url,
          method: req.method,
          headers: upstreamHeaders(req.rawHeaders, req.socket.remoteAddress, false),
          body: hasRequestBody(req) ? req : null,
          signal: ac.signal,
        }).then(({ statusCode, statusText, headers, body }) => {
          res.writeHead(statusCode, statusText, downstreamHeadersFromObject(headers));
          body.pipe(res);
          body.on('error', () => res.destroy());
        }, () => send502(res));
      };
    } else if (variant === 'C') {
      // Raw (legacy-shape) dispatch handler: the core dispatcher speaks this shape natively, so no
      // UnwrapHandler layer, and it hands over raw header buffers (case, order, duplicates kept).
      // Backpressure: onData returns false when res is full -> undici pauses the parser until
      // resume() is called on res 'drain'.
      handler = (req, res) => {
        let abort = null;
        let clientGone = false;
        res.on('close', () => {
          if (!res.writableFinished) { clientGone = true; abort?.(new Error('client closed')); }
        });
        req.on('error', () => abort?.(new Error('client request error')));
        pool.dispatch({
          path: req.url,
          method: req.method,
          headers: upstreamHeaders(req.rawHeaders, req.socket.remoteAddress, false),
          body: hasRequestBody(req) ? req : null,
        }, {
          onConnect(a) {
            abort = a;
            if (clientGone) a(new Error('client closed'));
          },
          onHeaders(statusCode, rawHeaders, resume, statusText) {
            if (statusCode < 200) return true; // 1xx informational: not forwarded here
            const raw = new Array(rawHeaders.length);
            for (let i = 0; i < rawHeaders.length; i++) raw[i] = rawHeaders[i].toString('latin1');
            res.writeHead(statusCode, statusText, downstreamHeaders(raw));
            res.on('drain', resume);
            return true;
          },
          onData(chunk) {
            return res.write(chunk);
          },
          onComplete() {
            res.end();
          },
          onError() {
            send502(res);
          },
        });
      };
    } else if (variant === 'S') {
      handler = (req, res) => {
        const ac = new AbortController();
        res.on('close', () => { if (!res.writableFinished) ac.abort(); });
        req.on('error', () => ac.abort());
        pool.stream({
          path: req.url,
          method: req.method,
          headers: upstreamHeaders(req.rawHeaders, req.socket.remoteAddress, false),
          body: hasRequestBody(req) ? req : null,
          signal: ac.signal,
        }, ({ statusCode, statusText, headers }) => {
          res.writeHead(statusCode, statusText, downstreamHeadersFromObject(headers));
          return res;
        }).catch(() => send502(res));
      };
    } else {
      throw new Error(`unknown variant ${variant}`);
    }
  }

  const server = http.createServer(handler);
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`LISTENING ${server.address().port}\n`);
  });
}

// ---------------------------------------------------------------------------------------------
// Hello app (written to the temp dir and run as a child)
// ---------------------------------------------------------------------------------------------

const APP_SOURCE = `
import http from 'node:http';
import fs from 'node:fs';
const target = process.argv[2];
let connections = 0;
const server = http.createServer((req, res) => {
  if (req.url === '/__conns') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(String(connections));
    return;
  }
  if (req.url === '/echo') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      res.writeHead(200, [
        'Content-Type', req.headers['content-type'] || 'application/octet-stream',
        'Content-Length', String(body.length),
        'Set-Cookie', 'a=1',
        'Set-Cookie', 'b=2',
        'X-Seen-Forwarded-For', String(req.headers['x-forwarded-for']),
        'X-Seen-Request-Id', String(req.headers['x-request-id'] !== undefined),
      ]);
      res.end(body);
    });
    return;
  }
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end('Hello\\n');
});
server.on('connection', () => { connections++; });
server.keepAliveTimeout = 65000;
if (/^\\d+$/.test(target)) {
  server.listen(0, '127.0.0.1', () => process.stdout.write('LISTENING ' + server.address().port + '\\n'));
} else {
  try { fs.unlinkSync(target); } catch {}
  server.listen(target, () => process.stdout.write('LISTENING ' + target + '\\n'));
}
`;

// ---------------------------------------------------------------------------------------------
// Orchestrator
// ---------------------------------------------------------------------------------------------

const children = new Set();

function startChild(cmd, argv, label) {
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; if (stderr.length > 10_000) stderr = stderr.slice(-10_000); });
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${label}: no LISTENING line within 10s; stderr: ${stderr}`)), 10_000);
    child.stdout.on('data', (d) => {
      buf += d;
      const m = /LISTENING (\S+)/.exec(buf);
      if (m) { clearTimeout(timer); resolve({ child, address: m[1] }); }
    });
    child.on('exit', (code, sig) => { clearTimeout(timer); reject(new Error(`${label} exited (${code ?? sig}) before listening; stderr: ${stderr}`)); });
  });
}

async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  try { process.kill(child.pid, 'SIGTERM'); } catch { return; }
  const t = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch {} }, 2000);
  await exited;
  clearTimeout(t);
}

function killAllSync() {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) { try { process.kill(c.pid, 'SIGKILL'); } catch {} }
  }
}

/** utime+stime of a pid in clock ticks (Linux /proc). */
function cpuTicks(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // fields 14, 15 (utime, stime)
  } catch { return NaN; }
}
const CLK_TCK = 100; // Linux default USER_HZ

function runWrk(url, seconds, connections) {
  return new Promise((resolve, reject) => {
    execFile('/usr/bin/wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', url], { timeout: (seconds + 30) * 1000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`wrk failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

function toMs(v) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

function parseWrk(out) {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p50 = toMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const p99 = toMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const total = Number(/(\d+) requests in/.exec(out)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sockErr = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = sockErr ? sockErr.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return { rps, p50, p99, total, non2xx, errors };
}

function request(port, { method = 'GET', path: p = '/', body, headers = {} }) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    if (body) {
      // Write in pieces to exercise streaming of the request body.
      for (let i = 0; i < body.length; i += 64 * 1024) req.write(body.subarray(i, i + 64 * 1024));
    }
    req.end();
  });
}

async function checkProxy(port) {
  const failures = [];
  const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
  const body = crypto.randomBytes(1024 * 1024);

  const hello = await request(port, {});
  if (hello.status !== 200 || hello.body.toString() !== 'Hello\n' || hello.headers['content-type'] !== 'text/plain') failures.push(`GET /: ${hello.status} ${JSON.stringify(hello.body.toString())} ${hello.headers['content-type']}`);

  // 1 MB POST with Content-Length.
  const r1 = await request(port, { method: 'POST', path: '/echo', body, headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length) } });
  if (r1.status !== 200 || r1.body.length !== body.length || sha(r1.body) !== sha(body)) failures.push(`POST /echo (content-length): status ${r1.status}, ${r1.body.length} bytes back`);
  const cookies = r1.rawHeaders.filter((_, i) => i % 2 === 0 && r1.rawHeaders[i].toLowerCase() === 'set-cookie').length;
  if (cookies !== 2) failures.push(`duplicate Set-Cookie lost: ${cookies}`);
  if (r1.headers['x-seen-forwarded-for'] !== '127.0.0.1' || r1.headers['x-seen-request-id'] !== 'true') failures.push('forwarding headers not seen by app');

  // 1 MB POST chunked (no Content-Length).
  const r2 = await request(port, { method: 'POST', path: '/echo', body, headers: { 'Content-Type': 'application/octet-stream', 'Transfer-Encoding': 'chunked' } });
  if (r2.status !== 200 || r2.body.length !== body.length || sha(r2.body) !== sha(body)) failures.push(`POST /echo (chunked): status ${r2.status}, ${r2.body.length} bytes back`);

  return failures;
}

/** How many connections the unix-socket app has accepted so far (asked over its own socket). */
function appConnections(socketPath) {
  return new Promise((resolve) => {
    const req = http.request({ socketPath, path: '/__conns', agent: false }, (res) => {
      let b = '';
      res.on('data', (c) => { b += c; });
      res.on('end', () => resolve(Number(b))); // includes this probe's own connection
    });
    req.on('error', () => resolve(NaN));
    req.end();
  });
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const LABELS = {
  baseline: 'baseline: app on TCP, no proxy',
  A: 'A node:http + keep-alive Agent',
  B: 'B undici Pool.request()',
  C: 'C undici Pool.dispatch() handler',
  S: 'S undici Pool.stream()',
  F: "F Ferry's UpstreamPool.dispatch()",
};

async function main() {
  const rounds = Number(args.rounds ?? 3);
  const duration = Number(args.duration ?? 5);
  const connections = Number(args.connections ?? 50);
  const warmup = Number(args.warmup ?? 1);
  const configs = String(args.configs ?? 'baseline,A,C,F').split(',');
  const proxyVariants = configs.filter((c) => c !== 'baseline');

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-upstream-bench-'));
  const appFile = path.join(tmp, 'app.mjs');
  const sock = path.join(tmp, 'app.sock');
  fs.writeFileSync(appFile, APP_SOURCE);

  let undiciVersion = '?';
  try { undiciVersion = JSON.parse(fs.readFileSync(path.join(path.dirname(SELF), '..', 'node_modules', 'undici', 'package.json'), 'utf8')).version; } catch {}
  console.log(`node ${process.version}, undici ${undiciVersion}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'})`);
  console.log(`wrk -t1 -c${connections} -d${duration}s --latency; ${rounds} rounds, ${warmup}s unmeasured warm-up per run; configs ${configs.join(' ')}`);
  console.log(`temp dir ${tmp}\n`);

  const cleanup = () => { killAllSync(); try { fs.rmSync(tmp, { recursive: true, force: true }); } catch {} };
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { cleanup(); process.exit(130); });

  try {
    const app = await startChild(process.execPath, [appFile, sock], 'app (unix socket)');
    console.log(`app pid ${app.child.pid} on ${sock}`);

    // ---- correctness -------------------------------------------------------------------------
    console.log('\nCorrectness (GET / hello; 1 MB POST /echo with Content-Length and chunked; duplicate Set-Cookie; X-Forwarded-For/X-Request-Id seen):');
    let allPass = true;
    for (const v of proxyVariants) {
      const p = await startChild(process.execPath, [SELF, '--role', 'proxy', '--variant', v, '--socket', sock], `proxy ${v}`);
      let failures;
      try { failures = await checkProxy(Number(p.address)); } catch (e) { failures = [`error: ${e.message}`]; }
      await stopChild(p.child);
      allPass &&= failures.length === 0;
      console.log(`  ${failures.length === 0 ? 'PASS' : 'FAIL'}  ${LABELS[v]}${failures.length ? '\n        ' + failures.join('\n        ') : ''}`);
    }
    if (!allPass) console.log('  (some variant failed; load numbers below are still measured)');

    // ---- load --------------------------------------------------------------------------------
    const results = Object.fromEntries(configs.map((c) => [c, []]));
    for (let r = 1; r <= rounds; r++) {
      for (const c of configs) {
        const started = c === 'baseline'
          ? await startChild(process.execPath, [appFile, '0'], 'app (tcp)')
          : await startChild(process.execPath, [SELF, '--role', 'proxy', '--variant', c, '--socket', sock], `proxy ${c}`);
        const url = `http://127.0.0.1:${started.address}/`;
        try {
          const c0 = await appConnections(sock);
          if (warmup > 0) await runWrk(url, warmup, connections);
          const t0 = cpuTicks(started.child.pid);
          const a0 = cpuTicks(app.child.pid);
          const out = await runWrk(url, duration, connections);
          const cpu = (cpuTicks(started.child.pid) - t0) / CLK_TCK;
          const appCpu = (cpuTicks(app.child.pid) - a0) / CLK_TCK;
          const res = parseWrk(out);
          res.upConns = c === 'baseline' ? NaN : (await appConnections(sock)) - c0 - 1; // minus the second probe's own connection
          res.cpuUsPerReq = (cpu / res.total) * 1e6;
          res.appCpuUsPerReq = c === 'baseline' ? NaN : (appCpu / res.total) * 1e6;
          results[c].push(res);
          console.log(`round ${r} ${c.padEnd(8)} ${res.rps.toFixed(0).padStart(7)} req/s  p50 ${res.p50.toFixed(2)}ms  p99 ${res.p99.toFixed(2)}ms  ` +
            `${c === 'baseline' ? 'app' : 'proxy'} CPU ${res.cpuUsPerReq.toFixed(1)}us/req${c === 'baseline' ? '' : `, app CPU ${res.appCpuUsPerReq.toFixed(1)}us/req, ${res.upConns} upstream conns opened`}` +
            `${res.non2xx || res.errors ? `  (non-2xx ${res.non2xx}, socket errors ${res.errors})` : ''}`);
        } finally {
          await stopChild(started.child);
        }
      }
    }

    // ---- table -------------------------------------------------------------------------------
    const refRps = results.A?.length ? median(results.A.map((x) => x.rps)) : NaN;
    const rows = configs.map((c) => {
      const rs = results[c];
      const rps = rs.map((x) => x.rps);
      const med = median(rps);
      return [
        LABELS[c] ?? c,
        med.toFixed(0),
        `${Math.min(...rps).toFixed(0)}–${Math.max(...rps).toFixed(0)}`,
        Number.isNaN(refRps) || c === 'A' ? '' : `${(med / refRps).toFixed(2)}x`,
        median(rs.map((x) => x.p50)).toFixed(2),
        median(rs.map((x) => x.p99)).toFixed(2),
        median(rs.map((x) => x.cpuUsPerReq)).toFixed(1),
        rs.reduce((a, x) => a + x.non2xx + x.errors, 0).toString(),
      ];
    });
    const head = ['config', 'median req/s', 'min–max req/s', 'vs A', 'p50 ms', 'p99 ms', 'CPU us/req*', 'errors'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells) => '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') + ' |';
    console.log('\n' + line(head));
    console.log('|' + widths.map((w, i) => (i === 0 ? '-'.repeat(w + 1) + '-' : '-'.repeat(w + 1) + ':')).join('|') + '|');
    for (const r of rows) console.log(line(r));
    console.log('\n* CPU us/req: user+sys CPU of the proxy process (of the app process for baseline) during the measured run, /proc ticks (10 ms resolution) / requests.');
    console.log('  p50/p99 and CPU are medians over rounds; wrk, proxy and app share the same CPUs.');
  } finally {
    cleanup();
  }
}

if (args.role === 'proxy') {
  runProxy(String(args.variant), String(args.socket)).catch((e) => { console.error(e); process.exit(1); });
  process.on('SIGTERM', () => process.exit(0));
} else {
  main().catch((e) => { console.error(e); process.exitCode = 1; });
}
