#!/usr/bin/env node
// npm run bench: Ferry measured side by side with the app served directly, with Passenger 6 and
// with nginx, in one run on this machine (the numbers behind DESIGN.md's "Where we beat Passenger").
//
// Usage: node bench/run.mjs [--duration S] [--rounds N] [--connections N] [--quick] [--crash-only]
//
// In order, it:
//   1. checks that wrk, passenger and the built CLI (dist/) are there (it installs nothing);
//   2. starts every server on 127.0.0.1 and a free port: the hello app (bench/apps/hello) direct,
//      under Ferry, under Passenger and behind nginx (2 processes, upstream keepalive; skipped
//      with a note when nginx is not installed); and the forum app (test/fixtures/apps/forum-app,
//      the "Discourse" turbocache scenario) under Ferry without and with the turbocache and under
//      Passenger;
//   3. runs wrk interleaved (round by round, route by route, config by config), so that a slow
//      drift of the machine hits every config alike;
//   4. measures the memory of the watchdogs and cores (idle, then after the load), the wall time of
//      `ferry status`, `ferry memory-stats` and `passenger-status`, and last, because it disturbs
//      instances of their own, how long Ferry takes to answer again after its core is SIGKILLed
//      (10 times, with and without NODE_EXTRA_CA_CERTS: see measureCoreCrashes);
//   5. prints the tables and writes everything to bench/results/<timestamp>.json.
//
// Every process it starts is tracked by pid and start time (so a reused pid is never touched) and
// stopped at the end, also on error, SIGINT and SIGTERM; a last scan of /proc warns about any
// survivor. Ferry's instance registry and Passenger's registry and temp dirs live in one private
// temp dir, removed at the end.

import { spawn, spawnSync, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'bin', 'run.js');
const HELLO_DIR = path.join(ROOT, 'bench', 'apps', 'hello');
const FORUM_DIR = path.join(ROOT, 'test', 'fixtures', 'apps', 'forum-app');
const RESULTS_DIR = path.join(ROOT, 'bench', 'results');

const USAGE = `Usage: npm run bench -- [--duration S] [--rounds N] [--connections N] [--quick] [--crash-only]
  --duration S      seconds per measured wrk run (default 5)
  --rounds N        interleaved rounds (default 3)
  --connections N   wrk connections (default 50)
  --quick           1 round of 2 s (for development)
  --crash-only      only the core crash measurement (no load, no Passenger, no nginx)`;

const HELLO_CONFIGS = ['direct', 'ferry', 'passenger'];
// Ferry's direct mode (app processes accept from the socket themselves) and nginx (a proxy, no
// cache): not on /cached.
const PROXY_CONFIGS = [...HELLO_CONFIGS, 'ferry-direct', 'nginx'];
const FORUM_CONFIGS = ['ferry-nocache', 'ferry-cache', 'passenger-forum'];
// The ceilings of a JavaScript front on this machine (bench/prototypes, measurement only): the
// least a proxy over node:net can do per request (js-proxy, on / and /slow), and a cache hit with
// Ferry's strict parser and nothing else (js-hit, on /cached). Ferry is held to them, and they to
// nginx and Passenger, in the same run.
const PROTOTYPES_DIR = path.join(ROOT, 'bench', 'prototypes');
const ANONYMOUS = ['Cookie: _ga=bench']; // a tracker cookie only: an anonymous forum visitor
// /cached goes first in each round: Passenger switches its turbocache off for 10 s after any 2 s
// with a hit ratio under 50% (TurboCaching.h), which a preceding run of / or /slow causes; this
// order leaves it ~25 s to recover, so it is measured at its best. `cacheable` routes get their
// hits counted (requests sent minus requests the app processed).
const ROUTES = [
  { id: '/cached', path: '/cached', headers: [], configs: [...HELLO_CONFIGS, 'js-hit'], cacheable: true },
  { id: '/', path: '/', headers: [], configs: [...PROXY_CONFIGS, 'js-proxy'] },
  { id: '/slow', path: '/slow', headers: [], configs: [...PROXY_CONFIGS, 'js-proxy'] },
  // A 20 KB page to a browser-like client: Ferry (--compression) keeps the compressed variant;
  // nginx with proxy_cache and gzip compresses each hit again (it caches the app's bytes).
  { id: '/cached-large', path: '/cached-large', headers: ['Accept-Encoding: gzip, deflate, br'], configs: ['ferry', 'nginx-cache'], cacheable: true },
  // no-cache with an ETag: every request is a conditional request to the app, answered 304.
  { id: '/revalidate', path: '/revalidate', headers: [], configs: ['ferry'], cacheable: true },
  { id: 'forum /', path: '/', headers: ANONYMOUS, configs: FORUM_CONFIGS, cacheable: true },
];
const WARMUP_S = 1;
const CRASH_KILLS = 10;
/** What the core crash is held to (issue 17; DESIGN.md's older target is < 300 ms). */
const CRASH_TARGET_MS = 150;
const NGINX_CANDIDATES = ['/usr/sbin/nginx', '/usr/bin/nginx'];
const POOL_SIZE = 2;
const DEAD_STATES = new Set(['Z', 'X', 'x']);
const CLK_TCK = 100; // USER_HZ, the unit of /proc CPU times on Linux
const NOISY_OTHER_CPU_PCT = 10;

// ---------------------------------------------------------------------------------------------
// Options and prerequisites (before anything is started, so exiting at once is safe)
// ---------------------------------------------------------------------------------------------

function fail(message, code) {
  console.error(message);
  process.exit(code);
}

function parseOptions(argv) {
  const given = {};
  let quick = false;
  let crashOnly = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') { quick = true; continue; }
    if (arg === '--crash-only') { crashOnly = true; continue; }
    if (arg === '--help' || arg === '-h') { console.log(USAGE); process.exit(0); }
    const m = /^--(duration|rounds|connections)(?:=(.*))?$/.exec(arg);
    if (!m) fail(`unknown argument: ${arg}\n${USAGE}`, 2);
    const value = m[2] ?? argv[++i];
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) fail(`--${m[1]} needs a whole number >= 1 (got ${value})`, 2);
    given[m[1]] = n;
  }
  const defaults = quick ? { duration: 2, rounds: 1 } : { duration: 5, rounds: 3 };
  return { connections: 50, ...defaults, ...given, quick, crashOnly };
}

function onPath(command) {
  return (process.env.PATH ?? '').split(':').some((dir) => {
    try { fs.accessSync(path.join(dir, command), fs.constants.X_OK); return true; } catch { return false; }
  });
}

/** Exits with the fix when something the run cannot do without is missing. */
function checkPrerequisites(options) {
  const missing = options.crashOnly ? [] : ['wrk', 'passenger'].filter((c) => !onPath(c));
  if (missing.length > 0) fail(`missing: ${missing.join(' ')} — install them with: apt-get install ${missing.join(' ')}`, 1);
  if (!fs.existsSync(path.join(ROOT, 'dist', 'commands')) || !fs.existsSync(path.join(ROOT, 'dist', 'bundle', 'ferry-core.mjs'))) {
    fail('dist/ is missing: run npm run build first', 1);
  }
  // Optional: without them a table shows n/a, and the run says how to get them.
  const nginx = NGINX_CANDIDATES.find((f) => fs.existsSync(f)) ?? (onPath('nginx') ? 'nginx' : undefined);
  return { hyperfine: onPath('hyperfine'), passengerStatus: onPath('passenger-status'), nginx };
}

const HYPERFINE_HINT = 'hyperfine is not installed, so the tool timings show n/a: apt-get install -y hyperfine (Debian 12, Ubuntu 22.04 and later), or see https://github.com/sharkdp/hyperfine';
const NGINX_HINT = 'nginx is not installed, so the nginx config is skipped: apt-get install -y nginx-light';

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function tail(text, chars = 600) {
  const t = String(text ?? '').trim();
  return t.length > chars ? `...${t.slice(-chars)}` : t;
}

function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Polls fn until it returns something truthy; throws naming `what` when time runs out. */
async function waitFor(fn, timeoutMs, intervalMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await sleep(intervalMs);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** One GET on a fresh connection (no keep-alive: each probe is a new client). Resolves the status. */
function httpGet(port, pathname, headers = {}, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: pathname, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

function headersObject(lines) {
  return Object.fromEntries(lines.map((h) => h.split(/:\s*/, 2)));
}

// ---------------------------------------------------------------------------------------------
// Child commands (wrk, hyperfine, the ferry and passenger CLIs)
// ---------------------------------------------------------------------------------------------

/** Commands running right now, killed at once on interrupt. */
const helpers = new Set();

/**
 * Runs a command to its end and resolves { code, signal, stdout, stderr } (never rejects on a
 * non-zero exit; callers decide). Killed after timeoutMs. A daemon the command starts may inherit
 * its pipes and keep them open, so the result is taken shortly after the command itself exits
 * rather than when its pipes close.
 */
function runCommand(command, args, { cwd = ROOT, env = process.env, timeoutMs = 30_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    helpers.add(child);
    let stdout = '';
    let stderr = '';
    let settled = false;
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; if (stderr.length > 20_000) stderr = stderr.slice(-20_000); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const finish = (code, signal) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      helpers.delete(child);
      child.stdout.destroy();
      child.stderr.destroy();
      resolve({ code, signal, stdout, stderr, timedOut: signal === 'SIGKILL' });
    };
    child.on('error', (err) => { settled = true; clearTimeout(timer); helpers.delete(child); reject(err); });
    child.on('close', finish);
    child.on('exit', (code, signal) => setTimeout(() => finish(code, signal), 300));
  });
}

function commandError(label, r) {
  const how = r.timedOut ? 'timed out' : `exited ${r.code ?? r.signal}`;
  return new Error(`${label} ${how}: ${tail(r.stderr || r.stdout)}`);
}

// ---------------------------------------------------------------------------------------------
// Processes: /proc reading, tracking by pid + start time, the survivor scan
// ---------------------------------------------------------------------------------------------

/** The fields of /proc/PID/stat we use; undefined when the process is gone. */
function readStat(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // comm may hold spaces and ')'
    return { pid, state: f[0], ppid: Number(f[1]), pgrp: Number(f[2]), startTicks: Number(f[19]) };
  } catch { return undefined; }
}

function readCmdline(pid) {
  try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim(); } catch { return ''; }
}

function readEnviron(pid) {
  try { return fs.readFileSync(`/proc/${pid}/environ`, 'latin1'); } catch { return ''; }
}

/** Every live process (zombies count as gone: pid 1 here is slow to reap orphans). */
function allProcesses() {
  return fs.readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map((d) => readStat(Number(d)))
    .filter((s) => s !== undefined && !DEAD_STATES.has(s.state));
}

function descendants(rootPid, procs = allProcesses()) {
  const out = [];
  const parents = new Set([rootPid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of procs) {
      if (parents.has(p.ppid) && !parents.has(p.pid)) { parents.add(p.pid); out.push(p); grew = true; }
    }
  }
  return out;
}

/** pid -> { pid, startTicks, owner, label }: every process this run started or saw its servers start. */
const tracked = new Map();

function track(pid, owner, label) {
  const st = readStat(pid);
  if (!st || DEAD_STATES.has(st.state)) return;
  if (tracked.get(pid)?.startTicks === st.startTicks) return;
  tracked.set(pid, { pid, startTicks: st.startTicks, owner, label: label ?? readCmdline(pid).slice(0, 80) });
}

function trackTree(rootPid, owner) {
  track(rootPid, owner);
  for (const p of descendants(rootPid)) track(p.pid, owner);
}

/** Same process as when tracked (a reused pid is someone else's) and not a zombie. */
function isAlive(entry) {
  const st = readStat(entry.pid);
  return st !== undefined && st.startTicks === entry.startTicks && !DEAD_STATES.has(st.state);
}

function signalTracked(entry, signal) {
  if (!isAlive(entry)) return;
  try { process.kill(entry.pid, signal); } catch { }
}

/**
 * Processes of this run still alive: tracked ones, members of their process groups, anything with
 * the private temp dir in its command line or the run's marker in its environment, and their
 * descendants.
 */
function ourProcesses(run) {
  const procs = allProcesses();
  const ours = new Map();
  for (const p of procs) {
    if (p.pid === process.pid) continue;
    const t = tracked.get(p.pid);
    const why = t?.startTicks === p.startTicks ? `${t.owner}: ${t.label}`
      : tracked.has(p.pgrp) ? `process group of ${p.pgrp}`
        : readCmdline(p.pid).includes(run.tmpDir) ? 'temp dir in its command line'
          : readEnviron(p.pid).includes(run.marker) ? 'started by this run (environment marker)' : undefined;
    if (why) ours.set(p.pid, { pid: p.pid, why, command: readCmdline(p.pid) });
  }
  for (const root of [...ours.keys()]) {
    for (const d of descendants(root, procs)) if (!ours.has(d.pid)) ours.set(d.pid, { pid: d.pid, why: `child of ${root}`, command: readCmdline(d.pid) });
  }
  return [...ours.values()];
}

/** Waits for the tracked processes of `owner` to exit; SIGTERM, then SIGKILL, those that linger. */
async function ensureGone(owner, graceMs, run) {
  const alive = () => [...tracked.values()].filter((e) => e.owner === owner && isAlive(e));
  const gone = async (ms) => { try { await waitFor(() => alive().length === 0, ms, 50, owner); return true; } catch { return false; } };
  if (await gone(graceMs)) return;
  const lingering = alive().map((e) => `${e.pid} (${e.label})`);
  run.results.stopIssues.push({ owner, lingering });
  console.error(`warning: ${owner}: still running ${graceMs} ms after stop: ${lingering.join(', ')}; sending SIGTERM`);
  for (const e of alive()) signalTracked(e, 'SIGTERM');
  if (await gone(2000)) return;
  for (const e of alive()) signalTracked(e, 'SIGKILL');
  await gone(2000);
}

/** Last resort (second Ctrl-C, process exit): SIGKILL whatever of ours is still alive. */
function killEverythingNow(run) {
  for (const child of helpers) { try { child.kill('SIGKILL'); } catch { } }
  for (const entry of tracked.values()) signalTracked(entry, 'SIGKILL');
  try { fs.rmSync(run.tmpDir, { recursive: true, force: true }); } catch { }
}

// ---------------------------------------------------------------------------------------------
// Memory of one process, from /proc (as ferry memory-stats and passenger-memory-stats read it)
// ---------------------------------------------------------------------------------------------

function kbField(text, name) {
  const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

function memoryOf(pid) {
  try {
    const rssKb = kbField(fs.readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmRSS');
    const privateDirtyKb = kbField(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Private_Dirty');
    return { pid, rssKb, privateDirtyKb };
  } catch (err) {
    return { pid, rssKb: NaN, privateDirtyKb: NaN, error: err.code ?? err.message };
  }
}

// ---------------------------------------------------------------------------------------------
// CPU used by processes that are not ours during a run: the machine may be shared, and a busy
// neighbour shows up as lower req/s for whichever config happened to run at that moment.
// ---------------------------------------------------------------------------------------------

/** user+nice+system ticks of all CPUs (irq/softirq left out: no process is charged for them). */
function systemBusyTicks() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return f[0] + f[1] + f[2];
}

/** utime+stime of a process, plus cutime+cstime when withChildren (children it has reaped, e.g. wrk). */
function processTicks(pid, withChildren = false) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]) + (withChildren ? Number(f[13]) + Number(f[14]) : 0);
  } catch { return 0; }
}

function cpuSnapshot(run) {
  const ours = new Map(ourProcesses(run).map((p) => [p.pid, processTicks(p.pid)]));
  ours.set(process.pid, processTicks(process.pid, true));
  return { busy: systemBusyTicks(), ours, atMs: performance.now() };
}

/** Share of the machine's CPUs used by other processes between two snapshots, in %. */
function otherCpuPercent(a, b) {
  let ours = 0;
  for (const [pid, ticks] of b.ours) ours += ticks - (a.ours.get(pid) ?? 0);
  const available = ((b.atMs - a.atMs) / 1000) * CLK_TCK * os.cpus().length;
  return Math.max(0, (100 * (b.busy - a.busy - ours)) / available);
}

// ---------------------------------------------------------------------------------------------
// Servers: direct, Ferry, Passenger. Each is pushed to run.servers before it is started, so that
// cleanup stops it whatever happens next.
// ---------------------------------------------------------------------------------------------

async function startDirect(run) {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(HELLO_DIR, 'app.js')], {
    cwd: HELLO_DIR,
    env: { ...process.env, PORT: String(port), [run.markerName]: run.tmpDir },
    stdio: 'ignore',
    detached: true, // its own process group: a Ctrl-C reaches only us, and we stop it in order
  });
  const server = { name: 'direct', kind: 'direct', port, pid: child.pid };
  server.stop = async () => {
    const entry = tracked.get(child.pid);
    if (entry) signalTracked(entry, 'SIGTERM');
    await ensureGone('direct', 2000, run);
  };
  run.servers.push(server);
  track(child.pid, 'direct', 'node bench/apps/hello/app.js');
  await waitForHttp(server, '/', [], 15_000);
  return server;
}

/** `base`: the environment ferry start (and so the watchdog, the core and the apps) runs in. */
function ferryEnv(run, base = process.env) {
  // As root the bench apps (root-owned checkout) run as root, as before: ferry start refuses that without --user root.
  const asRoot = process.getuid?.() === 0 ? { FERRY_USER: 'root' } : {};
  return { ...base, FERRY_INSTANCE_REGISTRY_DIR: run.registryDir, [run.markerName]: run.tmpDir, NO_COLOR: '1', ...asRoot };
}

async function ferryCli(run, args, timeoutMs = 30_000, base = process.env) {
  const r = await runCommand(process.execPath, [CLI, ...args], { env: ferryEnv(run, base), timeoutMs });
  if (r.code !== 0) throw commandError(`ferry ${args.join(' ')}`, r);
  return r.stdout;
}

function readFerryProperties(run, server) {
  try { return JSON.parse(fs.readFileSync(path.join(run.registryDir, `ferry.${server.instance}`, 'properties.json'), 'utf8')); } catch { return undefined; }
}

async function ferryStatus(run, server, view = 'pool') {
  return JSON.parse(await ferryCli(run, ['status', '--instance', server.instance, '--show', view, '--json'], 15_000));
}

/** Waits until the instance serves with `count` ready processes (and, after a crash, a new core). */
async function waitForFerryPool(run, server, count, notCorePid) {
  return waitFor(async () => {
    const props = readFerryProperties(run, server);
    if (!props || props.core_pid === notCorePid) return false;
    const status = await ferryStatus(run, server).catch(() => undefined);
    const ready = status?.groups.flatMap((g) => g.processes).filter((p) => p.state === 'ready') ?? [];
    return ready.length >= count ? props : false;
  }, 30_000, 100, `${server.name} to serve with ${count} ready processes`);
}

async function startFerry(run, name, appDir, extraFlags, probe, env = process.env) {
  const port = await freePort();
  const server = { name, kind: 'ferry', port, log: path.join(run.tmpDir, `${name}.log`) };
  server.stop = () => stopFerry(run, server);
  run.servers.push(server);
  const out = await ferryCli(run, ['start', appDir, '--daemonize', '--address', '127.0.0.1', '--port', String(port),
    '--min-instances', String(POOL_SIZE), '--max-pool-size', String(POOL_SIZE), '-e', 'production',
    '--log-file', server.log, '--json', ...extraFlags], 120_000, env);
  const info = JSON.parse(out);
  Object.assign(server, { instance: info.name, watchdogPid: info.watchdogPid });
  trackTree(info.watchdogPid, name);
  await waitForFerryPool(run, server, POOL_SIZE);
  await waitForHttp(server, probe.path, probe.headers, 15_000);
  trackTree(info.watchdogPid, name);
  return server;
}

async function stopFerry(run, server) {
  if (server.instance) {
    if (server.watchdogPid) trackTree(server.watchdogPid, server.name); // app processes spawned since
    try {
      await ferryCli(run, ['stop', '--instance', server.instance, '--timeout', '30', '--json'], 45_000);
    } catch (err) {
      console.error(`warning: ${server.name}: ferry stop failed: ${err.message}`);
      run.results.stopIssues.push({ owner: server.name, stopFailed: err.message });
    }
  }
  await ensureGone(server.name, 3000, run);
}

/**
 * Instances in our registry that no server object knows by name: a `ferry start` interrupted
 * before it printed its JSON may still have launched a watchdog.
 */
async function stopStrayFerryInstances(run) {
  const known = new Set(run.servers.map((s) => s.instance).filter(Boolean));
  let dirs = [];
  try { dirs = fs.readdirSync(run.registryDir).filter((d) => d.startsWith('ferry.')); } catch { }
  for (const name of dirs.map((d) => d.slice('ferry.'.length)).filter((n) => !known.has(n))) {
    console.error(`warning: stopping ferry instance ${name}, whose start did not finish`);
    await ferryCli(run, ['stop', '--instance', name, '--timeout', '30'], 45_000).catch((err) => console.error(`warning: ${err.message}`));
  }
}

function passengerEnv(run, server) {
  // TMPDIR puts Passenger's passenger-standalone.* dir (and so the temp-dir-toucher's command
  // line) inside our temp dir, which is how its helper processes are recognised as ours.
  return { ...process.env, TMPDIR: server.tmp, PASSENGER_INSTANCE_REGISTRY_DIR: server.registry, [run.markerName]: run.tmpDir };
}

function passengerCore(server) {
  return allProcesses().find((p) => p.ppid === server.watchdogPid && readCmdline(p.pid).startsWith('Passenger core'))?.pid;
}

function passengerApps(server) {
  const core = passengerCore(server);
  return core ? allProcesses().filter((p) => p.ppid === core && readCmdline(p.pid).includes('NodeApp')) : [];
}

/** Tracks the watchdog's tree (from the pid file) and every process with the instance's dir in its command line. */
function trackPassenger(server) {
  const pid = Number(fs.readFileSync(server.pidFile, 'utf8').trim());
  if (Number.isInteger(pid) && pid > 0) { server.watchdogPid = pid; trackTree(pid, server.name); }
  for (const p of allProcesses()) if (readCmdline(p.pid).includes(server.dir)) trackTree(p.pid, server.name);
}

async function startPassenger(run, name, appDir, probe) {
  const port = await freePort();
  const dir = path.join(run.tmpDir, name);
  const server = {
    name, kind: 'passenger', port, dir, appDir,
    tmp: path.join(dir, 'tmp'), registry: path.join(dir, 'registry'),
    pidFile: path.join(dir, 'passenger.pid'), log: path.join(dir, 'passenger.log'),
  };
  fs.mkdirSync(server.tmp, { recursive: true });
  fs.mkdirSync(server.registry, { recursive: true });
  server.stop = () => stopPassenger(run, server);
  run.servers.push(server);
  const r = await runCommand('passenger', ['start', '--engine', 'builtin', '--address', '127.0.0.1', '--port', String(port),
    '--min-instances', String(POOL_SIZE), '--max-pool-size', String(POOL_SIZE),
    '--disable-security-update-check', '--disable-anonymous-telemetry', '--daemonize',
    '--app-type', 'node', '--startup-file', 'app.js', '--environment', 'production',
    '--log-file', server.log, '--pid-file', server.pidFile,
    // Our own registry: passenger-status then finds exactly this instance.
    '--instance-registry-dir', server.registry,
  ], { cwd: appDir, env: passengerEnv(run, server), timeoutMs: 120_000 });
  if (fs.existsSync(server.pidFile)) trackPassenger(server);
  if (r.code !== 0) throw commandError(`passenger start (${name})`, r);
  // Passenger spawns its processes on the first request, then fills the pool to --min-instances.
  await waitForHttp(server, probe.path, probe.headers, 60_000);
  await waitFor(() => passengerApps(server).length >= POOL_SIZE, 30_000, 50, `${name} to spawn ${POOL_SIZE} app processes`);
  trackPassenger(server);
  return server;
}

async function stopPassenger(run, server) {
  if (fs.existsSync(server.pidFile)) {
    trackPassenger(server);
    const r = await runCommand('passenger', ['stop', '--pid-file', server.pidFile], { cwd: server.appDir, env: passengerEnv(run, server), timeoutMs: 60_000 });
    if (r.code !== 0) {
      console.error(`warning: ${server.name}: ${commandError('passenger stop', r).message}`);
      run.results.stopIssues.push({ owner: server.name, stopFailed: tail(r.stderr || r.stdout) });
    }
  }
  // passenger stop returns once the watchdog is gone; its NodeApps and the temp-dir-toucher may lag.
  await ensureGone(server.name, 5000, run);
}

/**
 * nginx's own config: one worker, an upstream of the app processes on unix sockets (as under
 * Ferry) with kept-alive connections (HTTP/1.1, Connection cleared), no access log: nginx at its
 * best as a reverse proxy, with nothing of nginx's own installation (/etc/nginx) read.
 */
function nginxConfig(dir, port, cachePort, sockets) {
  const asRoot = process.getuid?.() === 0;
  return `# Written by bench/run.mjs for one run.
${asRoot ? 'user root; # the worker reaches the app sockets in the run\'s 0700 temp dir\n' : ''}worker_processes 1;
daemon off; # a child of the bench, stopped by pid
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body; proxy_temp_path ${dir}/tmp/proxy; fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi; scgi_temp_path ${dir}/tmp/scgi;
  # wrk keeps its connections for the whole run; nginx closes one after 1000 requests by default.
  keepalive_requests 1000000;
  upstream hello {
${sockets.map((socket) => `    server unix:${socket};`).join('\n')}
    keepalive 64; # idle upstream connections kept by the worker: more than wrk has clients
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://hello;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
  # The same with a cache and compression, as nginx is set up to serve pages fast: proxy_cache
  # (the app's Cache-Control decides) and gzip (nginx-light has no brotli).
  proxy_cache_path ${dir}/cache keys_zone=bench:10m max_size=64m;
  server {
    listen 127.0.0.1:${cachePort};
    gzip on;
    gzip_proxied any;
    gzip_min_length 1024;
    gzip_types text/plain text/css application/json application/javascript text/xml application/xml image/svg+xml;
    location / {
      proxy_pass http://hello;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache bench;
    }
  }
}
`;
}

/** The hello app's processes (as many as every pool has) on unix sockets in `server.dir`, for a proxy of the bench's own. */
async function startSocketApps(run, server) {
  const sockets = [];
  for (let i = 1; i <= POOL_SIZE; i++) {
    const socket = path.join(server.dir, `hello-${i}.sock`);
    const app = spawn(process.execPath, [path.join(HELLO_DIR, 'app.js')], {
      cwd: HELLO_DIR,
      env: { ...process.env, BENCH_SOCKET: socket, [run.markerName]: run.tmpDir },
      stdio: 'ignore',
      detached: true,
    });
    track(app.pid, server.name, `node bench/apps/hello/app.js (behind ${server.name}, ${socket})`);
    server.pids.push(app.pid);
    sockets.push(socket);
  }
  await waitFor(() => sockets.every((f) => fs.existsSync(f)), 15_000, 20, `the app processes behind ${server.name} to listen`);
  return sockets;
}

/**
 * A prototype of bench/prototypes on a free port: js-proxy in front of hello app processes of
 * its own (as nginx has), js-hit alone (it answers every target as a stored hit).
 */
async function startPrototype(run, name) {
  const dir = path.join(run.tmpDir, name);
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const server = { name, kind: 'prototype', port, dir, pids: [] };
  server.stop = async () => {
    for (const pid of server.pids) { const entry = tracked.get(pid); if (entry) signalTracked(entry, 'SIGTERM'); }
    await ensureGone(name, 2000, run);
  };
  run.servers.push(server);
  const script = name === 'js-proxy' ? 'bare-proxy.mjs' : 'strict-hit.mjs';
  const args = [path.join(PROTOTYPES_DIR, script), String(port), ...(name === 'js-proxy' ? await startSocketApps(run, server) : [])];
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, [run.markerName]: run.tmpDir }, stdio: 'ignore', detached: true });
  track(child.pid, name, `node bench/prototypes/${script}`);
  server.pids.push(child.pid);
  await waitForHttp(server, '/', [], 15_000);
  return server;
}

/** The hello app's processes (as many as every pool has) on unix sockets, behind nginx. */
async function startNginx(run) {
  const dir = path.join(run.tmpDir, 'nginx');
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) fs.mkdirSync(path.join(dir, 'tmp', sub), { recursive: true });
  const port = await freePort();
  const server = { name: 'nginx', kind: 'nginx', port, cachePort: await freePort(), dir, pids: [] };
  server.stop = () => stopNginx(run, server);
  run.servers.push(server);
  const sockets = await startSocketApps(run, server);
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(conf, nginxConfig(dir, port, server.cachePort, sockets));
  const master = spawn(run.tools.nginx, ['-c', conf, '-p', dir, '-e', path.join(dir, 'error.log')], {
    env: { ...process.env, [run.markerName]: run.tmpDir },
    stdio: 'ignore',
    detached: true,
  });
  server.masterPid = master.pid;
  track(master.pid, 'nginx', 'nginx master');
  try {
    await waitForHttp(server, '/', [], 15_000);
  } catch (err) {
    let log = '';
    try { log = fs.readFileSync(path.join(dir, 'error.log'), 'utf8'); } catch { }
    throw new Error(`${err.message}; nginx's error log: ${tail(log) || '(empty)'}`);
  }
  trackTree(master.pid, 'nginx'); // its worker
  return server;
}

async function stopNginx(run, server) {
  if (server.masterPid) {
    trackTree(server.masterPid, 'nginx');
    const master = tracked.get(server.masterPid);
    if (master) signalTracked(master, 'SIGQUIT'); // graceful: the worker finishes and exits
  }
  for (const pid of server.pids) { const entry = tracked.get(pid); if (entry) signalTracked(entry, 'SIGTERM'); }
  await ensureGone('nginx', 5000, run);
}

function nginxWorker(server) {
  return server.masterPid ? allProcesses().find((p) => p.ppid === server.masterPid)?.pid : undefined;
}

/** Polls a route until it answers 2xx/3xx (the server is up). */
async function waitForHttp(server, pathname, headerLines, timeoutMs) {
  await waitFor(async () => {
    try {
      const status = await httpGet(server.port, pathname, headersObject(headerLines), 5000);
      return status >= 200 && status < 400;
    } catch { return false; }
  }, timeoutMs, 50, `${server.name} to answer GET ${pathname} on port ${server.port}`);
}

async function startServers(run) {
  const forumProbe = { path: '/', headers: ANONYMOUS };
  const helloProbe = { path: '/', headers: [] };
  const byName = {};
  byName.direct = await startDirect(run);
  byName.ferry = await startFerry(run, 'ferry', HELLO_DIR, ['--compression'], helloProbe);
  byName.passenger = await startPassenger(run, 'passenger', HELLO_DIR, helloProbe);
  byName['ferry-direct'] = await startFerry(run, 'ferry-direct', HELLO_DIR, ['--direct'], helloProbe);
  byName['ferry-nocache'] = await startFerry(run, 'ferry-nocache', FORUM_DIR, ['--disable-turbocaching'], forumProbe);
  byName['ferry-cache'] = await startFerry(run, 'ferry-cache', FORUM_DIR, ['--vary-turbocache-by-cookie', 'user_id'], forumProbe);
  byName['passenger-forum'] = await startPassenger(run, 'passenger-forum', FORUM_DIR, forumProbe);
  if (run.tools.nginx) {
    byName.nginx = await startNginx(run);
    // The same nginx, its second server: proxy_cache and gzip (stopped with it).
    byName['nginx-cache'] = { name: 'nginx-cache', kind: 'nginx-cache', port: byName.nginx.cachePort, stop: async () => undefined };
  }
  byName['js-proxy'] = await startPrototype(run, 'js-proxy');
  byName['js-hit'] = await startPrototype(run, 'js-hit');
  for (const s of Object.values(byName)) console.log(`  ${s.name.padEnd(16)} http://127.0.0.1:${s.port}/${s.instance ? `  (instance ${s.instance})` : ''}`);
  return byName;
}

// ---------------------------------------------------------------------------------------------
// wrk
// ---------------------------------------------------------------------------------------------

function toMs(value) {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(String(value ?? '').trim());
  if (!m) return NaN;
  const factor = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2]];
  return Number(m[1]) * factor;
}

function parseWrk(out) {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  if (!Number.isFinite(rps)) throw new Error(`could not read wrk's output:\n${tail(out)}`);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = { connect: 0, read: 0, write: 0, timeout: 0 };
  if (sock) Object.assign(socketErrors, { connect: +sock[1], read: +sock[2], write: +sock[3], timeout: +sock[4] });
  const non2xx3xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const socketTotal = Object.values(socketErrors).reduce((a, b) => a + b, 0);
  return {
    rps,
    p50Ms: toMs(/^\s*50%\s+(\S+)/m.exec(out)?.[1]),
    p99Ms: toMs(/^\s*99%\s+(\S+)/m.exec(out)?.[1]),
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
    non2xx3xx,
    socketErrors,
    errors: non2xx3xx + socketTotal,
  };
}

async function runWrk(server, route, seconds, connections) {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', '10s'];
  for (const h of route.headers) args.push('-H', h);
  args.push(`http://127.0.0.1:${server.port}${route.path}`);
  const r = await runCommand('wrk', args, { timeoutMs: (seconds + 30) * 1000 });
  if (r.code !== 0) throw commandError(`wrk ${args.join(' ')}`, r);
  return parseWrk(r.stdout);
}

/**
 * One measured run. For cacheable routes, hits = requests wrk got answered minus requests the app
 * processed meanwhile (the same measure for Ferry and Passenger).
 */
async function measureRun(run, server, route) {
  const { duration, connections } = run.options;
  const countHits = route.cacheable && (server.kind === 'ferry' || server.kind === 'passenger');
  const processedBefore = countHits ? await appProcessed(run, server) : undefined;
  const cpuBefore = cpuSnapshot(run);
  const result = await runWrk(server, route, duration, connections);
  result.otherCpuPct = otherCpuPercent(cpuBefore, cpuSnapshot(run));
  if (countHits) {
    result.appProcessed = (await appProcessed(run, server)) - processedBefore;
    result.hitPct = (100 * Math.max(0, result.requests - result.appProcessed)) / result.requests;
  }
  return result;
}

/** Warm-up, then `rounds` interleaved rounds: each route, each of its configs, one run each. */
async function measureLoad(run, byName) {
  const { rounds, connections } = run.options;
  console.log(`\nWarm-up: ${WARMUP_S} s per config and route`);
  // A config whose server is not installed (nginx) is left out.
  const configsOf = (route) => route.configs.filter((c) => byName[c]);
  for (const route of ROUTES) for (const c of configsOf(route)) await runWrk(byName[c], route, WARMUP_S, connections);
  const runs = [];
  for (let round = 1; round <= rounds; round++) {
    for (const route of ROUTES) {
      for (const config of configsOf(route)) {
        const r = await measureRun(run, byName[config], route);
        runs.push({ round, route: route.id, config, ...r });
        console.log(`  round ${round}/${rounds}  ${route.id.padEnd(8)} ${config.padEnd(16)} ${r.rps.toFixed(0).padStart(7)} req/s`
          + `  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  other CPU ${r.otherCpuPct.toFixed(0)}%`
          + `${r.hitPct === undefined ? '' : `  hits ${r.hitPct.toFixed(1)}%`}${r.errors ? `  errors ${r.errors}` : ''}`);
      }
    }
  }
  return runs;
}

function summarize(runs) {
  const rows = [];
  for (const route of ROUTES) {
    for (const config of route.configs) {
      const rs = runs.filter((r) => r.route === route.id && r.config === config);
      if (rs.length === 0) continue; // not measured: its server is not installed
      const rps = rs.map((r) => r.rps);
      const sum = (f) => rs.reduce((a, r) => a + f(r), 0);
      rows.push({
        route: route.id, config,
        rps: median(rps), rpsMin: Math.min(...rps), rpsMax: Math.max(...rps),
        p50Ms: median(rs.map((r) => r.p50Ms)), p99Ms: median(rs.map((r) => r.p99Ms)),
        non2xx3xx: sum((r) => r.non2xx3xx),
        socketErrors: Object.fromEntries(['connect', 'read', 'write', 'timeout'].map((k) => [k, sum((r) => r.socketErrors[k])])),
        errors: sum((r) => r.errors),
        hitPct: median(rs.map((r) => r.hitPct ?? NaN)),
        otherCpuPct: median(rs.map((r) => r.otherCpuPct)),
        otherCpuPctMax: Math.max(...rs.map((r) => r.otherCpuPct)),
      });
    }
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Memory, cache hits, tool wall time, core crash
// ---------------------------------------------------------------------------------------------

function supervisors(run, server) {
  if (server.kind === 'ferry') {
    const props = readFerryProperties(run, server);
    return [['watchdog', props?.watchdog_pid], ['core', props?.core_pid]];
  }
  if (server.kind === 'nginx') return [['master', server.masterPid], ['worker', nginxWorker(server)]];
  return [['watchdog', server.watchdogPid], ['core', passengerCore(server)]];
}

function measureSupervisorMemory(run, byName) {
  const out = [];
  for (const server of Object.values(byName)) {
    if (server.kind === 'direct' || server.kind === 'prototype' || server.kind === 'nginx-cache') continue;
    for (const [role, pid] of supervisors(run, server)) out.push({ server: server.name, role, ...(pid ? memoryOf(pid) : { pid: null, rssKb: NaN, privateDirtyKb: NaN }) });
  }
  return out;
}

/** Requests the app processes have handled, as the server itself reports them. */
async function appProcessed(run, server) {
  if (server.kind === 'ferry') {
    const status = await ferryStatus(run, server);
    return status.groups.flatMap((g) => g.processes).reduce((a, p) => a + p.processed, 0);
  }
  const r = await runCommand('passenger-status', ['--show=pool', '--no-header'], { env: passengerEnv(run, server), timeoutMs: 15_000 });
  if (r.code !== 0) throw commandError('passenger-status', r);
  return [...r.stdout.matchAll(/Processed:\s+(\d+)/g)].reduce((a, m) => a + Number(m[1]), 0);
}

/** Ferry's own turbocache counters after the load, to set beside the measured hits. */
async function turbocacheCounters(run, byName) {
  const out = {};
  for (const server of Object.values(byName)) {
    if (server.kind !== 'ferry') continue;
    try { out[server.name] = (await ferryStatus(run, server, 'server')).turbocache; } catch (err) { out[server.name] = { error: err.message }; }
  }
  return out;
}

function shellQuote(s) {
  return /^[\w./=:,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** hyperfine --runs 20 --warmup 2 on one command; { error } when it cannot run. */
async function hyperfine(run, label, argv, env) {
  const check = await runCommand(argv[0], argv.slice(1), { env, timeoutMs: 30_000 });
  if (check.code !== 0) return { label, command: argv.join(' '), error: commandError(label, check).message };
  const file = path.join(run.tmpDir, `hyperfine-${label.replace(/\W+/g, '-')}.json`);
  const command = argv.map(shellQuote).join(' ');
  const r = await runCommand('hyperfine', ['-N', '--style', 'none', '--runs', '20', '--warmup', '2', '--export-json', file, '-n', label, command],
    { env, timeoutMs: 180_000 });
  if (r.code !== 0) return { label, command, error: commandError('hyperfine', r).message };
  const res = JSON.parse(fs.readFileSync(file, 'utf8')).results[0];
  const ms = (s) => s * 1000;
  return { label, command, meanMs: ms(res.mean), stddevMs: ms(res.stddev), medianMs: ms(res.median), minMs: ms(res.min), maxMs: ms(res.max), runs: res.times.length };
}

async function measureToolTimes(run, byName) {
  if (!run.tools.hyperfine) return [{ label: 'all', error: HYPERFINE_HINT }];
  const ferry = byName.ferry;
  const out = [];
  // Several Ferry instances share the registry: both tools are pointed at the hello one.
  out.push(await hyperfine(run, 'ferry status', [process.execPath, CLI, 'status', '--instance', ferry.instance], ferryEnv(run)));
  out.push(await hyperfine(run, 'ferry memory-stats', [process.execPath, CLI, 'memory-stats', '--instance', ferry.instance], ferryEnv(run)));
  if (run.tools.passengerStatus) {
    out.push(await hyperfine(run, 'passenger-status', ['passenger-status', '--show=pool'], passengerEnv(run, byName.passenger)));
  } else {
    out.push({ label: 'passenger-status', error: 'passenger-status is not on PATH' });
  }
  return out;
}

/** GETs / on fresh connections every 1 ms from t0 until one is answered 2xx/3xx. */
async function pollUntilAnswered(port, t0, timeoutMs) {
  const failures = {};
  let attempts = 0;
  while (performance.now() - t0 < timeoutMs) {
    attempts++;
    try {
      const status = await httpGet(port, '/', {}, timeoutMs);
      if (status >= 200 && status < 400) return { ms: performance.now() - t0, attempts, failures };
      failures[`HTTP ${status}`] = (failures[`HTTP ${status}`] ?? 0) + 1;
    } catch (err) {
      const key = err.code ?? err.message;
      failures[key] = (failures[key] ?? 0) + 1;
    }
    await sleep(1);
  }
  return { ms: null, attempts, failures };
}

/** The watchdog's own account of each recovery ("core restarted and serving", recoveryMs). */
function loggedRecoveries(logFile) {
  let text = '';
  try { text = fs.readFileSync(logFile, 'utf8'); } catch { return []; }
  return text.split('\n').flatMap((line) => {
    try { const o = JSON.parse(line); return o.msg === 'core restarted and serving' ? [o.recoveryMs] : []; } catch { return []; }
  });
}

/** SIGKILLs the instance's core `kills` times, 500 ms apart; one sample per kill. */
async function killCores(run, server, kills, label) {
  const samples = [];
  for (let i = 1; i <= kills; i++) {
    const oldCore = readFerryProperties(run, server)?.core_pid;
    const entry = tracked.get(oldCore);
    if (!entry || !isAlive(entry)) throw new Error(`${server.name}: core pid ${oldCore} is not a process this run saw start`);
    const t0 = performance.now();
    process.kill(oldCore, 'SIGKILL');
    const sample = { oldCorePid: oldCore, ...(await pollUntilAnswered(server.port, t0, 15_000)) };
    const props = await waitForFerryPool(run, server, POOL_SIZE, oldCore);
    sample.newCorePid = props.core_pid;
    trackTree(server.watchdogPid, server.name);
    samples.push(sample);
    console.log(`  ${label(i)}: first answer after ${sample.ms?.toFixed(1) ?? 'none'} ms (${sample.attempts} attempts)`);
    await sleep(500);
  }
  const recoveries = loggedRecoveries(server.log);
  samples.forEach((sample, i) => { sample.watchdogRecoveryMs = recoveries[i]; });
  return samples;
}

/**
 * The environments a crash is measured in: as users run Ferry, and, when this environment sets
 * NODE_EXTRA_CA_CERTS, with it too. Node reads and parses that CA file at every start (~90 ms
 * here), which the core cannot avoid without dropping the user's setting; so both are shown.
 */
function crashEnvironments() {
  const withoutCa = { ...process.env };
  delete withoutCa.NODE_EXTRA_CA_CERTS;
  const out = [{ id: 'plain', label: 'without NODE_EXTRA_CA_CERTS', env: withoutCa }];
  if (process.env.NODE_EXTRA_CA_CERTS) out.push({ id: 'extra-ca', label: `with NODE_EXTRA_CA_CERTS=${process.env.NODE_EXTRA_CA_CERTS}`, env: process.env });
  return out;
}

/** Median wall time of `node -e 0` in an environment: what every Node start costs there. */
function nodeStartMs(env, runs = 10) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    execFileSync(process.execPath, ['-e', '0'], { env, stdio: 'ignore' });
    times.push(performance.now() - t0);
  }
  return median(times);
}

/**
 * CRASH_KILLS SIGKILLs of the hello app's core per environment. The watchdog restarts at once only
 * the first crashes in a minute (then backs off, then gives up: restart-policy.ts), so each batch
 * of that many kills gets a fresh instance of its own, started like `ferry`.
 */
async function measureCoreCrashes(run) {
  const { IMMEDIATE_RESTARTS } = await import(path.join(ROOT, 'dist', 'core', 'watchdog', 'restart-policy.js'));
  const probe = { path: '/', headers: [] };
  const variants = [];
  for (const variant of crashEnvironments()) {
    const samples = [];
    for (let batch = 1; samples.length < CRASH_KILLS; batch++) {
      const server = await startFerry(run, `ferry-crash-${variant.id}-${batch}`, HELLO_DIR, [], probe, variant.env);
      const kills = Math.min(IMMEDIATE_RESTARTS, CRASH_KILLS - samples.length);
      const done = samples.length;
      samples.push(...(await killCores(run, server, kills, (i) => `${variant.id} crash ${done + i}/${CRASH_KILLS}`)));
      await server.stop();
      run.servers.splice(run.servers.indexOf(server), 1);
    }
    const medianMs = median(samples.map((x) => x.ms ?? NaN));
    variants.push({ id: variant.id, label: variant.label, nodeStartMs: nodeStartMs(variant.env), samples, medianMs, targetMet: medianMs <= CRASH_TARGET_MS });
  }
  return { kills: CRASH_KILLS, perInstance: IMMEDIATE_RESTARTS, targetMs: CRASH_TARGET_MS, variants };
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

function table(head, rows, leftCols = 1) {
  const cells = rows.map((r) => r.map((c) => String(c)));
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const line = (r) => `| ${r.map((c, i) => (i < leftCols ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => `${'-'.repeat(w + 1)}${i < leftCols ? '-' : ':'}`).join('|')}|`;
  return [line(head), rule, ...cells.map(line)].join('\n');
}

const f0 = (x) => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const mb = (kb) => (Number.isFinite(kb) ? (kb / 1024).toFixed(1) : 'n/a');

function errorCell(row) {
  if (row.errors === 0) return '0';
  const s = row.socketErrors;
  const sock = s.connect + s.read + s.write + s.timeout;
  const parts = [];
  if (row.non2xx3xx) parts.push(`non-2xx/3xx ${row.non2xx3xx}`);
  if (sock) parts.push(`socket c${s.connect}/r${s.read}/w${s.write}/t${s.timeout}`);
  return `${row.errors} (${parts.join(', ')})`;
}

function loadTable(summary) {
  const rows = summary.map((r) => [r.route, r.config + (r.config === 'passenger-forum' ? ' [1]' : ''), f0(r.rps),
    `${f0(r.rpsMin)}–${f0(r.rpsMax)}`, f2(r.p50Ms), f2(r.p99Ms), Number.isFinite(r.hitPct) ? `${f1(r.hitPct)}%` : '',
    errorCell(r), `${f0(r.otherCpuPct)} (max ${f0(r.otherCpuPctMax)})`]);
  return table(['route', 'config', 'req/s (median)', 'min–max', 'p50 ms', 'p99 ms', 'hits [2]', 'errors', 'other CPU % [3]'], rows, 2);
}

function computeRatios(summary) {
  const get = (route, config) => summary.find((r) => r.route === route && r.config === config);
  const ratio = (a, b) => a / b;
  const out = [];
  for (const route of ['/', '/cached', '/slow']) {
    out.push({ name: `ferry / direct, ${route} req/s`, value: ratio(get(route, 'ferry').rps, get(route, 'direct').rps), unit: 'x', target: route === '/' ? '>= 0.8x' : '' });
    out.push({ name: `ferry / passenger, ${route} req/s`, value: ratio(get(route, 'ferry').rps, get(route, 'passenger').rps), unit: 'x', target: route === '/' ? '>= 2.5x' : '' });
  }
  if (get('/', 'nginx')) {
    for (const route of ['/', '/slow']) out.push({ name: `ferry / nginx, ${route} req/s`, value: ratio(get(route, 'ferry').rps, get(route, 'nginx').rps), unit: 'x', target: route === '/' ? '>= 1.0x' : '' });
    out.push({ name: 'nginx / direct, / req/s', value: ratio(get('/', 'nginx').rps, get('/', 'direct').rps), unit: 'x', target: '' });
  } else {
    out.push({ name: 'ferry / nginx', value: NaN, unit: 'x', target: 'nginx not installed' });
  }
  // The ceilings: what no JavaScript front can beat on this machine, and where they stand.
  out.push({ name: 'ferry / js-proxy (bare JS proxy), / req/s', value: ratio(get('/', 'ferry').rps, get('/', 'js-proxy').rps), unit: 'x', target: '' });
  out.push({ name: 'js-proxy / direct, / req/s', value: ratio(get('/', 'js-proxy').rps, get('/', 'direct').rps), unit: 'x', target: 'the ceiling of ferry / direct' });
  if (get('/', 'nginx')) out.push({ name: 'js-proxy / nginx, / req/s', value: ratio(get('/', 'js-proxy').rps, get('/', 'nginx').rps), unit: 'x', target: 'the ceiling of ferry / nginx' });
  out.push({ name: 'ferry / js-hit (strict JS hit), /cached req/s', value: ratio(get('/cached', 'ferry').rps, get('/cached', 'js-hit').rps), unit: 'x', target: '' });
  out.push({ name: 'js-hit / passenger, /cached req/s', value: ratio(get('/cached', 'js-hit').rps, get('/cached', 'passenger').rps), unit: 'x', target: 'the ceiling of ferry / passenger' });
  if (get('/cached-large', 'nginx-cache')) out.push({ name: 'ferry / nginx (proxy_cache + gzip), /cached-large req/s', value: ratio(get('/cached-large', 'ferry').rps, get('/cached-large', 'nginx-cache').rps), unit: 'x', target: '' });
  out.push({ name: 'ferry /revalidate (a 304 from the app) / ferry / (the app renders), req/s', value: ratio(get('/revalidate', 'ferry').rps, get('/', 'ferry').rps), unit: 'x', target: '' });
  out.push({ name: '/slow p99: ferry − direct', value: get('/slow', 'ferry').p99Ms - get('/slow', 'direct').p99Ms, unit: 'ms', target: '' });
  out.push({ name: 'ferry --direct / direct, / req/s', value: ratio(get('/', 'ferry-direct').rps, get('/', 'direct').rps), unit: 'x', target: '>= PM2 cluster (~1.2x)' });
  out.push({ name: 'ferry --direct / passenger, / req/s', value: ratio(get('/', 'ferry-direct').rps, get('/', 'passenger').rps), unit: 'x', target: '' });
  out.push({ name: 'forum: ferry-cache / ferry-nocache req/s', value: ratio(get('forum /', 'ferry-cache').rps, get('forum /', 'ferry-nocache').rps), unit: 'x', target: '' });
  out.push({ name: 'forum: ferry-cache / passenger-forum req/s', value: ratio(get('forum /', 'ferry-cache').rps, get('forum /', 'passenger-forum').rps), unit: 'x', target: '' });
  out.push({ name: '/cached hits: ferry (% of requests)', value: get('/cached', 'ferry').hitPct, unit: '%', target: '' });
  out.push({ name: '/cached hits: passenger (% of requests)', value: get('/cached', 'passenger').hitPct, unit: '%', target: '' });
  return out;
}

function ratioTable(ratios) {
  const fmt = (r) => (r.unit === 'x' ? `${f2(r.value)}x` : r.unit === '%' ? `${f1(r.value)}%` : `${f2(r.value)} ms`);
  return table(['ratio (medians)', 'value', 'target (DESIGN.md, issue 17)'], ratios.map((r) => [r.name, fmt(r), r.target]));
}

function memoryTable(idle, loaded) {
  const rows = idle.map((m) => {
    const after = loaded.find((l) => l.server === m.server && l.role === m.role);
    const samePid = after?.pid === m.pid ? '' : ` (pid ${after?.pid})`;
    return [`${m.server} ${m.role}`, m.pid ?? 'n/a', mb(m.rssKb), mb(m.privateDirtyKb), mb(after?.rssKb), mb(after?.privateDirtyKb) + samePid];
  });
  return table(['process', 'pid', 'idle RSS MB', 'idle priv. dirty MB', 'loaded RSS MB', 'loaded priv. dirty MB'], rows);
}

function toolTable(times) {
  const rows = times.map((t) => (t.error
    ? [t.label, 'n/a', 'n/a', `n/a: ${tail(t.error, 80).replace(/\s+/g, ' ')}`]
    : [t.label, `${f1(t.meanMs)} ± ${f1(t.stddevMs)}`, f1(t.medianMs), `${f1(t.minMs)}–${f1(t.maxMs)}`]));
  return table(['command', 'mean ms', 'median ms', 'min–max ms'], rows);
}

function crashTable(variant) {
  const rows = variant.samples.map((s, i) => [i + 1, s.ms === null ? 'none within 15 s' : f1(s.ms), s.attempts,
    Object.entries(s.failures).map(([k, v]) => `${k} ${v}`).join(', ') || '0', f0(s.watchdogRecoveryMs)]);
  return table(['crash', 'ms to first answer', 'attempts', 'failed attempts', 'watchdog says ms'], rows);
}

function printCrash(crash) {
  console.log(`\nCore crash: SIGKILL of the hello app's core to the first answered GET (fresh connection every 1 ms); ${crash.kills} kills, ${crash.perInstance} per instance [5]`);
  for (const v of crash.variants) {
    const verdict = v.targetMet ? `target <= ${crash.targetMs} ms met` : `target <= ${crash.targetMs} ms MISSED`;
    console.log(`\n${v.label}: median ${f1(v.medianMs)} ms (${verdict}); min–max ${f1(Math.min(...v.samples.map((x) => x.ms ?? Infinity)))}–${f1(Math.max(...v.samples.map((x) => x.ms ?? Infinity)))} ms; node -e 0 takes ${f1(v.nodeStartMs)} ms here\n${crashTable(v)}`);
  }
}

function printReport(run) {
  const r = run.results;
  const o = run.options;
  console.log(`\n=== Ferry benchmark ${r.startedAt} ===`);
  console.log(`${r.machine.cpus} CPUs (${r.machine.cpuModel}), node ${r.machine.node}, ${r.versions.wrk}, ${r.versions.passenger}, ${r.versions.nginx ?? 'nginx not installed: skipped'}, load avg at start ${r.machine.loadavgAtStart.map((x) => x.toFixed(2)).join(' ')}, at end ${r.machine.loadavgAtEnd.map((x) => x.toFixed(2)).join(' ')}`);
  if (!run.tools.nginx) console.log(`note: ${NGINX_HINT}`);
  console.log(`wrk -t1 -c${o.connections} -d${o.duration}s --latency --timeout 10s; ${o.rounds} interleaved round(s); ${WARMUP_S} s warm-up per config and route; pools: --min-instances ${POOL_SIZE} --max-pool-size ${POOL_SIZE} -e production`);
  console.log(`\nThroughput and latency (median over rounds; errors summed over rounds)\n${loadTable(r.summary)}`);
  console.log(`\nRatios\n${ratioTable(r.ratios)}`);
  const counters = Object.entries(r.turbocache).map(([name, t]) => (t.error ? `${name} n/a` : `${name} ${t.hits} hits / ${t.misses} misses / ${t.entries} entries`));
  console.log(`\nFerry turbocache counters after the load (warm-up included): ${counters.join('; ')}`);
  const noisy = r.summary.filter((row) => row.otherCpuPctMax > NOISY_OTHER_CPU_PCT);
  if (noisy.length > 0) console.log(`NOTE: other processes used more than ${NOISY_OTHER_CPU_PCT}% of the CPUs during some runs (${noisy.map((row) => `${row.route} ${row.config}`).join(', ')}): the machine was shared, so treat those numbers with care.`);
  console.log(`\nWatchdog and core memory (VmRSS; Private_Dirty from smaps_rollup), idle after start and after the load\n${memoryTable(r.memory.idle, r.memory.afterLoad)}`);
  console.log(`\nTool wall time (hyperfine --runs 20 --warmup 2) [4]\n${toolTable(r.toolTimes)}`);
  printCrash(r.crash);
  console.log('\n[1] Passenger\'s turbocache never stores an answer that carries Vary, so it cannot cache the forum\'s pages (Vary: Cookie): every request is rendered by the app.');
  console.log('[2] requests answered to wrk minus requests the app processes counted during the run, as reported by ferry status / passenger-status (median over rounds).');
  console.log('    Passenger switches its turbocache off for 10 s after any 2 s with under 50% hits, so on a mix of cacheable and uncacheable traffic it caches little; here /cached runs first in each round to give it its best case.');
  console.log('[3] CPU used by processes other than this run\'s (other users of the machine) during the measured runs, in % of all CPUs: median (max).');
  console.log('[4] status and memory-stats run as `node bin/run.js --instance NAME` (several Ferry instances share the registry).');
  printCrashNote();
}

function printCrashNote() {
  console.log('[5] the watchdog restarts the first crashes in a minute at once, then backs off: each batch of kills gets a fresh instance. Users rarely set NODE_EXTRA_CA_CERTS; Node loads that CA file at every start, so it is measured apart when this environment sets it.');
}

/** --crash-only: what measureAll printed of the crash alone. */
function printCrashReport(run) {
  const r = run.results;
  console.log(`\n=== Ferry benchmark (core crash only) ${r.startedAt} ===`);
  console.log(`${r.machine.cpus} CPUs (${r.machine.cpuModel}), node ${r.machine.node}, load avg at start ${r.machine.loadavgAtStart.map((x) => x.toFixed(2)).join(' ')}, at end ${r.machine.loadavgAtEnd.map((x) => x.toFixed(2)).join(' ')}`);
  printCrash(r.crash);
  printCrashNote();
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

/** The first line a command prints about its version: wrk -v exits 1, nginx -v writes on stderr. */
function versionOf(command, args) {
  const r = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  return (r.stdout?.trim() || r.stderr?.trim() || '').split('\n')[0].trim() || 'unknown';
}

function describeMachine(run) {
  const git = versionOf('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']);
  run.results.machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '?', node: process.version, kernel: os.release(), loadavgAtStart: os.loadavg() };
  const { nginx, hyperfine } = run.tools;
  run.results.versions = {
    ferryCommit: git,
    wrk: run.options.crashOnly ? null : versionOf('wrk', ['-v']).replace(/ Copyright.*/, ''),
    passenger: run.options.crashOnly ? null : versionOf('passenger', ['--version']),
    nginx: nginx ? versionOf(nginx, ['-v']) : null, // nginx -v prints on stderr
    hyperfine: hyperfine ? versionOf('hyperfine', ['--version']) : null,
  };
}

function estimateSeconds(o) {
  const crash = 2 * (CRASH_KILLS * 1.5 + 4 * 5); // two environments: kills, and a fresh instance every 3 kills
  if (o.crashOnly) return crash + 20;
  const runsPerRound = ROUTES.reduce((a, r) => a + r.configs.length, 0);
  return runsPerRound * (o.rounds * (o.duration + 0.5) + WARMUP_S) + 60 + crash; // + hit counting, start, tools, stop
}

/** Stops every server, scans for survivors (warning and killing them), removes the temp dir. */
async function cleanup(run) {
  run.cleanup ??= (async () => {
    for (const child of helpers) { try { child.kill('SIGKILL'); } catch { } }
    for (const server of [...run.servers].reverse()) {
      try { await server.stop(); } catch (err) { console.error(`warning: stopping ${server.name}: ${err.message}`); }
    }
    await stopStrayFerryInstances(run);
    let survivors = [];
    try { await waitFor(() => (survivors = ourProcesses(run)).length === 0, 3000, 100, 'survivors'); } catch { }
    if (survivors.length > 0) {
      console.error(`\nWARNING: ${survivors.length} process(es) this run started survived the stop; killing them:`);
      for (const s of survivors) console.error(`  pid ${s.pid}  [${s.why}]  ${s.command.slice(0, 120)}`);
      for (const s of survivors) { try { process.kill(s.pid, 'SIGKILL'); } catch { } }
    }
    run.results.survivors = survivors;
    fs.rmSync(run.tmpDir, { recursive: true, force: true });
  })();
  return run.cleanup;
}

function installSignalHandlers(run) {
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      if (run.interrupted) { killEverythingNow(run); process.exit(130); } // second signal: no more waiting
      run.interrupted = signal;
      console.error(`\n${signal}: stopping every server this run started (again to kill at once)...`);
      cleanup(run).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
  process.on('exit', () => killEverythingNow(run));
}

function writeResults(run) {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = run.results.startedAt.replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
  const file = path.join(RESULTS_DIR, `${stamp}.json`);
  fs.writeFileSync(file, `${JSON.stringify(run.results, null, 2)}\n`);
  return file;
}

async function measureAll(run) {
  console.log('Starting servers...');
  const byName = await startServers(run);
  const r = run.results;
  r.servers = Object.values(byName).map(({ name, kind, port, instance }) => ({ name, kind, port, instance }));
  r.memory = { idle: measureSupervisorMemory(run, byName) };
  r.runs = await measureLoad(run, byName);
  r.memory.afterLoad = measureSupervisorMemory(run, byName);
  r.summary = summarize(r.runs);
  r.turbocache = await turbocacheCounters(run, byName);
  r.ratios = computeRatios(r.summary);
  console.log('\nTiming status tools with hyperfine...');
  r.toolTimes = await measureToolTimes(run, byName);
  await measureCrashSection(run);
}

async function measureCrashSection(run) {
  console.log(`\nCore crash (${CRASH_KILLS}x SIGKILL of the core, per environment)...`);
  run.results.crash = await measureCoreCrashes(run);
  run.results.machine.loadavgAtEnd = os.loadavg();
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  const tools = checkPrerequisites(options);
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-bench-'));
  const run = {
    options, tools, tmpDir, servers: [],
    registryDir: path.join(tmpDir, 'ferry-registry'),
    // Every server gets this in its environment, so the survivor scan recognises what it spawned.
    markerName: 'FERRY_BENCH_RUN', marker: `FERRY_BENCH_RUN=${tmpDir}`,
    results: { startedAt: new Date().toISOString(), options, stopIssues: [] },
  };
  fs.mkdirSync(run.registryDir);
  installSignalHandlers(run);
  describeMachine(run);
  const estimate = estimateSeconds(options);
  const what = options.crashOnly ? 'core crash only' : `${options.rounds} round(s) of ${options.duration} s`;
  console.log(`Ferry benchmark: at most about ${(estimate / 60).toFixed(1)} min (${what}); temp dir ${tmpDir}`);
  if (!options.crashOnly && !tools.hyperfine) console.log(`note: ${HYPERFINE_HINT}`);
  if (!options.crashOnly && !tools.nginx) console.log(`note: ${NGINX_HINT}`);
  // Bounded in time: past twice the estimate something hangs; stop as on Ctrl-C.
  setTimeout(() => { console.error('time limit reached'); process.kill(process.pid, 'SIGTERM'); }, (2 * estimate + 60) * 1000).unref();

  let failure;
  try {
    if (options.crashOnly) {
      await measureCrashSection(run);
      printCrashReport(run);
    } else {
      await measureAll(run);
      printReport(run);
    }
  } catch (err) {
    failure = err;
    run.results.error = err.stack ?? String(err);
  } finally {
    await cleanup(run);
  }
  if (run.interrupted) return;
  const file = writeResults(run);
  if (run.results.survivors.length === 0) console.log('\nAll processes this run started are gone.');
  console.log(`Results: ${path.relative(ROOT, file)}`);
  if (failure) {
    console.error(`\nbench failed: ${failure.stack ?? failure}`);
    process.exitCode = 1;
  }
}

main();
