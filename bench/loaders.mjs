#!/usr/bin/env node
// npm run bench:loaders: the WSGI and Rack loaders measured side by side with Passenger 6 serving
// the same hello app (bench/apps/hello-wsgi, bench/apps/hello-rack), one app process each; and
// the ASGI loader (bench/apps/hello-asgi) alone, Passenger having none.
//
// Usage: node bench/loaders.mjs [--rounds N] [--duration S] [--connections N] [--types wsgi,rack,asgi]
//                               [--before DIR] [--concurrency N]
//   --before DIR    also measure an earlier build of Ferry (a directory with bin/run.js and dist/,
//                   e.g. a copy of this checkout built before a change), as `ferry-before`
//   --concurrency N Ferry's --concurrency for the loaders (default: the app type's, 1)
//
// Runs are interleaved (round by round, config by config) so that a drift of a shared machine
// hits every config alike. For each run it reports req/s (wrk -t1), errors, the CPU time the app
// process(es) and the front (Ferry's core, Passenger's core) used per request (from /proc), and
// how busy the rest of the machine was meanwhile (other processes' share of all CPUs).
// Every process it starts is stopped at the end, also on error and Ctrl-C.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const APPS = {
  wsgi: { dir: path.join(ROOT, 'bench/apps/hello-wsgi'), passengerType: 'wsgi', startupFile: 'passenger_wsgi.py' },
  rack: { dir: path.join(ROOT, 'bench/apps/hello-rack'), passengerType: 'rack', startupFile: 'config.ru' },
  // Passenger has no ASGI: Ferry alone (and ferry-before, which cannot serve it, is left out).
  asgi: { dir: path.join(ROOT, 'bench/apps/hello-asgi'), passengerType: undefined, startupFile: 'asgi.py' },
};
const CLK_TCK = 100;

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : fallback;
}
const rounds = Number(option('rounds', '3'));
const duration = Number(option('duration', '5'));
const connections = Number(option('connections', '50'));
const types = option('types', 'wsgi,rack,asgi').split(',');
const before = option('before', undefined);
const concurrency = option('concurrency', undefined);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-bench-loaders-'));
const servers = [];

function run(command, args, opts = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function children(pid) {
  const out = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

function descendants(pid) {
  const out = [];
  for (let todo = children(pid); todo.length > 0; ) {
    const next = todo.pop();
    out.push(next);
    todo.push(...children(next));
  }
  return out;
}

function ticks(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

function cmdline(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

function busyTicks() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return f[0] + f[1] + f[2];
}

async function waitFor(check, what, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function answers(port) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`);
    await res.text();
    return res.status === 200;
  } catch {
    return false;
  }
}

async function startFerry(name, cliRoot, type) {
  const port = await freePort();
  const registry = path.join(tmp, `${name}-${type}`);
  fs.mkdirSync(registry);
  const env = { ...process.env, FERRY_INSTANCE_REGISTRY_DIR: registry, NO_COLOR: '1', ...(process.getuid?.() === 0 ? { FERRY_USER: 'root' } : {}) };
  const server = { name, type, port, kind: 'ferry', env, cli: path.join(cliRoot, 'bin/run.js') };
  servers.push(server);
  const r = await run(process.execPath, [server.cli, 'start', APPS[type].dir, '--daemonize', '--json', '--address', '127.0.0.1', '--port', String(port),
    '--min-instances', '1', '--max-pool-size', '1', '-e', 'production', '--disable-turbocaching', '--log-file', path.join(registry, 'ferry.log'),
    ...(concurrency ? ['--concurrency', concurrency] : [])], { env });
  if (r.code !== 0) throw new Error(`ferry start (${name}, ${type}) failed: ${r.stderr}`);
  server.instance = JSON.parse(r.stdout).name;
  await waitFor(() => answers(port), `${name} ${type} to answer`);
  const props = JSON.parse(fs.readFileSync(path.join(registry, `ferry.${server.instance}`, 'properties.json'), 'utf8'));
  server.front = () => [props.core_pid];
  server.apps = () => children(props.core_pid).filter((pid) => /[wa]sgi-loader|rack-loader/.test(cmdline(pid)));
  await waitFor(() => server.apps().length > 0, `${name} ${type} app process`);
  return server;
}

async function startPassenger(type) {
  const port = await freePort();
  const dir = path.join(tmp, `passenger-${type}`);
  fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  const env = { ...process.env, TMPDIR: path.join(dir, 'tmp') };
  const pidFile = path.join(dir, 'passenger.pid');
  const server = { name: 'passenger', type, port, kind: 'passenger', env, pidFile, appDir: APPS[type].dir };
  servers.push(server);
  const r = await run('passenger', ['start', '--engine', 'builtin', '--address', '127.0.0.1', '--port', String(port),
    '--min-instances', '1', '--max-pool-size', '1', '--disable-security-update-check', '--disable-anonymous-telemetry', '--daemonize',
    '--app-type', APPS[type].passengerType, '--startup-file', APPS[type].startupFile, '--environment', 'production',
    '--disable-turbocaching', '--log-file', path.join(dir, 'passenger.log'), '--pid-file', pidFile, '--instance-registry-dir', dir], { cwd: APPS[type].dir, env });
  if (r.code !== 0) throw new Error(`passenger start (${type}) failed: ${r.stderr || r.stdout}`);
  await waitFor(() => answers(port), `passenger ${type} to answer`);
  const watchdog = Number(fs.readFileSync(pidFile, 'utf8').trim());
  const core = () => children(watchdog).find((pid) => cmdline(pid).startsWith('Passenger core'));
  server.front = () => [core()].filter(Boolean);
  // Its Ruby apps are children of a preloader, itself a child of the core.
  server.apps = () => (core() ? descendants(core()) : []);
  await waitFor(() => server.apps().length > 0, `passenger ${type} app process`);
  return server;
}

async function stop(server) {
  if (server.kind === 'ferry' && server.instance) {
    await run(process.execPath, [server.cli, 'stop', '--instance', server.instance], { env: server.env });
  } else if (server.kind === 'passenger' && fs.existsSync(server.pidFile)) {
    await run('passenger', ['stop', '--pid-file', server.pidFile], { cwd: server.appDir, env: server.env });
  }
}

async function cleanup() {
  for (const server of servers.splice(0)) await stop(server).catch((err) => console.error(`warning: stopping ${server.name}: ${err.message}`));
  fs.rmSync(tmp, { recursive: true, force: true });
}

async function measure(server) {
  const pids = { front: server.front(), apps: server.apps() };
  const sum = (list) => list.reduce((a, pid) => a + ticks(pid), 0);
  const start = { front: sum(pids.front), apps: sum(pids.apps), busy: busyTicks(), at: performance.now() };
  const r = await run('wrk', ['-t1', `-c${connections}`, `-d${duration}s`, '--timeout', '10s', `http://127.0.0.1:${server.port}/`], { timeoutMs: (duration + 30) * 1000 });
  const end = { front: sum(pids.front), apps: sum(pids.apps), busy: busyTicks(), at: performance.now() };
  if (r.code !== 0) throw new Error(`wrk failed: ${r.stderr}`);
  const requests = Number(/(\d+) requests in/.exec(r.stdout)?.[1] ?? 0);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(r.stdout)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(r.stdout);
  const errors = non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  const usPerTick = 1e6 / CLK_TCK;
  const ours = end.front - start.front + (end.apps - start.apps);
  const available = ((end.at - start.at) / 1000) * CLK_TCK * os.cpus().length;
  return {
    rps,
    errors,
    appUsPerReq: ((end.apps - start.apps) * usPerTick) / requests,
    frontUsPerReq: ((end.front - start.front) * usPerTick) / requests,
    // Everything but the servers measured (wrk included): the noise of a shared machine.
    othersPct: (100 * (end.busy - start.busy - ours)) / available,
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const results = [];
  for (const type of types) {
    const configs = [await startFerry('ferry', ROOT, type)];
    if (before && APPS[type].passengerType) configs.push(await startFerry('ferry-before', path.resolve(before), type));
    if (APPS[type].passengerType) configs.push(await startPassenger(type));
    for (const c of configs) await run('wrk', ['-t1', `-c${connections}`, '-d1s', `http://127.0.0.1:${c.port}/`]); // warm-up
    for (let round = 0; round < rounds; round++) {
      for (const c of configs) {
        const m = await measure(c);
        results.push({ type, config: c.name, round, ...m });
        console.log(`${type} ${c.name.padEnd(13)} round ${round + 1}: ${m.rps.toFixed(0)} req/s, ${m.errors} errors, app ${m.appUsPerReq.toFixed(1)} µs/req, front ${m.frontUsPerReq.toFixed(1)} µs/req, others ${m.othersPct.toFixed(0)}% of the CPUs`);
      }
    }
    for (const c of configs) await stop(c);
    servers.length = 0;
  }
  console.log(`\nmedians over ${rounds} rounds (wrk -t1 -c${connections} -d${duration}s, one app process, ${os.cpus().length} CPUs, load avg ${os.loadavg().map((x) => x.toFixed(2)).join(' ')})`);
  console.log('type  config         req/s  errors  app µs/req  front µs/req  others %');
  for (const type of types) {
    for (const config of [...new Set(results.filter((r) => r.type === type).map((r) => r.config))]) {
      const rs = results.filter((r) => r.type === type && r.config === config);
      const m = (k) => median(rs.map((r) => r[k]));
      console.log(`${type.padEnd(5)} ${config.padEnd(13)} ${m('rps').toFixed(0).padStart(6)} ${String(rs.reduce((a, r) => a + r.errors, 0)).padStart(7)} ${m('appUsPerReq').toFixed(1).padStart(11)} ${m('frontUsPerReq').toFixed(1).padStart(13)} ${m('othersPct').toFixed(0).padStart(9)}`);
    }
  }
}

process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));
try {
  await main();
} catch (err) {
  console.error(err.message);
  process.exitCode = 1;
} finally {
  await cleanup();
}
