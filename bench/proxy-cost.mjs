#!/usr/bin/env node
// The stage proxy's cost per request: the proxy (front, pool, turbocache, upstream client from
// dist/) runs alone in one process, with 2 hello app processes on unix sockets and a client
// process keeping C connections busy, and we read what the proxy process alone spent (CPU time,
// user and system) on N requests after a warm-up, and optionally its V8 CPU profile. Less moved
// by the machine's load than req/s, not immune to it (a busier machine batches more events per
// turn): A/B in alternation. Everything it starts is stopped.
//
// Usage: node bench/proxy-cost.mjs [--requests 20000] [--warmup 5000] [--connections 50]
//          [--path /] [--no-cache] [--tree OTHER_CHECKOUT] [--cpu-prof-dir DIR]
// (--callgrind counts instructions with valgrind instead: minutes per run, and ±6% between runs
// of the same build even with V8's background threads off, so not better than CPU time.)

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    // Another checkout's dist/ to measure (A/B with one script).
    tree: { type: 'string', default: fileURLToPath(new URL('..', import.meta.url)) },
    requests: { type: 'string', default: '20000' },
    warmup: { type: 'string', default: '5000' },
    connections: { type: 'string', default: '50' },
    path: { type: 'string', default: '/' },
    'no-cache': { type: 'boolean', default: false },
    callgrind: { type: 'boolean', default: false },
    // With --callgrind: keep the counts of the measured requests here (for callgrind_annotate).
    'callgrind-out': { type: 'string' },
    // Write the proxy process's V8 CPU profile (--cpu-prof) into this directory.
    'cpu-prof-dir': { type: 'string' },
    // Internal: the proxy process.
    serve: { type: 'string' },
  },
});

const ROOT = path.resolve(opts.tree);
// Under callgrind: no background compiler or GC threads and a fixed GC schedule, so that two runs
// of the same code count nearly the same.
const PREDICTABLE = ['--single-threaded', '--predictable-gc-schedule'];
if (opts.serve !== undefined) await serve(opts.serve.split(','), !opts['no-cache']);
else await main();

/** The proxy process: prints its port, then answers each stdin line with its CPU time so far. */
async function serve(sockets, withCache) {
  const dist = (p) => import(pathToFileURL(path.join(ROOT, 'dist', p)).href);
  const [{ Logger }, { Pool }, { RequestTracker }, { stageHandler, countRefusal }, { createFrontServer }, { nextRequestId }, { FakeSpawner }, { CacheFront }, { Turbocache }, { DEFAULT_LIMITS }] = await Promise.all([
    dist('core/log.js'),
    dist('core/pool/pool.js'),
    dist('core/proxy/request-tracker.js'),
    dist('core/proxy/stages/front-proxy.js'),
    dist('core/front/server.js'),
    dist('core/proxy/error-responses.js'),
    dist('core/spawn/fake-spawner.js'),
    dist('core/turbocache/cache-front.js'),
    dist('core/turbocache/turbocache.js'),
    dist('lib/config.js'),
  ]);
  const spawner = new FakeSpawner();
  let next = 0;
  spawner.addressFor = () => ({ socketPath: sockets[next++ % sockets.length] });
  const app = {
    name: 'hello', hosts: [], root: '/srv/hello', appType: 'node', startupFile: '/srv/hello/app.js', environment: 'production', envvars: {}, nodeCommand: 'node',
    minInstances: sockets.length, startTimeoutMs: 5000, stopTimeoutMs: 1000, limits: { ...DEFAULT_LIMITS }, rollingRestarts: false, stickySessions: false,
    stickyCookieName: '_ferry_route', friendlyErrorPages: 'off',
  };
  const clientLimits = { maxHeaderBytes: 16 * 1024, headerTimeoutMs: 30_000, bodyTimeoutMs: 60_000, maxBodyBytes: 1024 ** 3 };
  const config = {
    listen: { kind: 'tcp', address: '127.0.0.1', port: 0 }, maxPoolSize: sockets.length, logLevel: 'info', shutdownTimeoutMs: 1000, apps: [app],
    turbocache: { enabled: withCache, maxBytes: 64 * 1024 * 1024, maxEntryBytes: 1024 * 1024, debugHeader: false }, clientLimits,
    buffering: { bufferUploads: false, responseBufferHighWatermarkBytes: 0 }, websocketIdleTimeoutMs: 60_000,
  };
  const log = new Logger({ level: 'warn', format: 'json', sink: { write: (line) => process.stderr.write(line) } });
  const pool = new Pool(config, spawner, log);
  await pool.start();
  const ctx = {
    pool, log, tracker: new RequestTracker(), trustForwarded: false, health: undefined, maxBodyBytes: 0, statics: undefined, websocketIdleTimeoutMs: 60_000, tunnels: new Set(),
    cache: withCache ? new CacheFront(new Turbocache({ maxBytes: 64 * 1024 * 1024, maxEntryBytes: 1024 * 1024 }), { debugHeader: false }) : undefined,
  };
  const front = createFrontServer({ limits: clientLimits, nextRequestId, counts: ctx.tracker, log, handler: stageHandler(ctx), onRefused: (status, exchange) => countRefusal(ctx, status, exchange) });
  await new Promise((resolve) => front.server.listen(0, '127.0.0.1', resolve));
  process.stdout.write(`port ${front.server.address().port}\n`);
  const lines = readline.createInterface({ input: process.stdin });
  lines.on('line', () => {
    const { user, system } = process.cpuUsage();
    process.stdout.write(`cpu ${user} ${system}\n`);
  });
  lines.on('close', () => process.exit(0));
}

async function main() {
  const requests = Number(opts.requests);
  const warmup = Number(opts.warmup);
  const connections = Number(opts.connections);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-proxy-cost-'));
  const children = [];
  const stopAll = () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', stopAll);
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(1));

  const sockets = [1, 2].map((n) => path.join(dir, `app${n}.sock`));
  for (const socket of sockets) {
    children.push(spawn(process.execPath, [path.join(ROOT, 'bench/apps/hello/app.js')], { env: { ...process.env, BENCH_SOCKET: socket }, stdio: 'ignore' }));
  }
  await Promise.all(sockets.map((s) => waitFor(() => fs.existsSync(s))));

  const script = fileURLToPath(import.meta.url);
  const serveArgs = [script, '--tree', ROOT, '--serve', sockets.join(','), ...(opts['no-cache'] ? ['--no-cache'] : [])];
  const cgOut = path.join(dir, 'callgrind.out');
  const proxy = opts.callgrind
    ? spawn('valgrind', ['--tool=callgrind', '--smc-check=all-non-file', `--callgrind-out-file=${cgOut}`, process.execPath, ...PREDICTABLE, ...serveArgs], { stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn(process.execPath, [...(opts['cpu-prof-dir'] ? ['--cpu-prof', `--cpu-prof-dir=${opts['cpu-prof-dir']}`, '--cpu-prof-interval=50'] : []), ...serveArgs], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(proxy);
  let stderr = '';
  proxy.stderr?.on('data', (d) => (stderr += d));
  const out = readline.createInterface({ input: proxy.stdout });
  const replies = [];
  let wake;
  out.on('line', (line) => {
    replies.push(line);
    wake?.();
  });
  const reply = async () => {
    while (replies.length === 0) {
      await new Promise((resolve) => (wake = resolve));
      if (proxy.exitCode !== null) throw new Error(`the proxy exited: ${stderr.slice(-2000)}`);
    }
    return replies.shift();
  };
  const port = Number((await reply()).split(' ')[1]);
  const cpu = async () => {
    proxy.stdin.write('cpu\n');
    const [, user, system] = (await reply()).split(' ').map(Number);
    return { user, system };
  };

  await load(port, opts.path, connections, warmup);
  if (opts.callgrind) execFileSync('callgrind_control', ['--zero', String(proxy.pid)], { stdio: 'ignore' });
  const before = await cpu();
  const t0 = process.hrtime.bigint();
  await load(port, opts.path, connections, requests);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const after = await cpu();
  let instructions;
  if (opts.callgrind) {
    execFileSync('callgrind_control', ['--dump', String(proxy.pid)], { stdio: 'ignore' });
    const dump = fs.readdirSync(dir).filter((f) => f.startsWith('callgrind.out')).map((f) => path.join(dir, f)).sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
    const summary = /^(?:summary|totals): (\d+)/m.exec(fs.readFileSync(dump, 'utf8'));
    instructions = summary ? Number(summary[1]) : undefined;
    if (opts['callgrind-out']) fs.copyFileSync(dump, opts['callgrind-out']);
  }
  const userUs = (after.user - before.user) / requests;
  const systemUs = (after.system - before.system) / requests;
  const parts = [
    `${requests} requests on ${connections} connections to ${opts.path}${opts['no-cache'] ? ' (no turbocache)' : ''}: ${Math.round(requests / seconds)} req/s`,
    `proxy CPU per request: user ${userUs.toFixed(1)} µs, system ${systemUs.toFixed(1)} µs`,
  ];
  if (instructions !== undefined) parts.push(`instructions per request: ${Math.round(instructions / requests)}`);
  console.log(parts.join('; '));
  if (!opts['cpu-prof-dir']) process.exit(0);
  // The profile is written when the proxy exits on its own (stdin closed).
  proxy.stdin.end();
  await new Promise((resolve) => proxy.once('exit', resolve));
  process.exit(0);
}

/** `total` requests over `connections` kept-alive sockets, one at a time each. */
async function load(port, urlPath, connections, total) {
  const request = Buffer.from(`GET ${urlPath} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: proxy-cost\r\nAccept: */*\r\n\r\n`);
  let sent = 0;
  let done = 0;
  await new Promise((resolve, reject) => {
    for (let c = 0; c < connections; c++) {
      const socket = net.connect(port, '127.0.0.1');
      socket.setNoDelay(true);
      let pending = '';
      const send = () => {
        if (sent >= total) {
          socket.end();
          return;
        }
        sent++;
        socket.write(request);
      };
      socket.on('connect', send);
      socket.on('error', reject);
      socket.on('data', (chunk) => {
        pending += chunk.toString('latin1');
        // The hello app's bodies end with a newline after a blank line; one answer, one more request.
        for (;;) {
          const head = pending.indexOf('\r\n\r\n');
          if (head < 0) return;
          const length = /content-length: *(\d+)/i.exec(pending.slice(0, head));
          if (!length) return reject(new Error(`an answer without Content-Length: ${pending.slice(0, 200)}`));
          const end = head + 4 + Number(length[1]);
          if (pending.length < end) return;
          if (!pending.startsWith('HTTP/1.1 200')) return reject(new Error(`not a 200: ${pending.slice(0, 200)}`));
          pending = pending.slice(end);
          if (++done === total) resolve();
          send();
        }
      });
    }
  });
}

async function waitFor(check, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the apps');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
