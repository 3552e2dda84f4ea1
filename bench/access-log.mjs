#!/usr/bin/env node
// The access log's cost on the hot path: the same app under two Ferry instances, one with
// --access-log and one without, measured by wrk in alternating runs (A B A B ...), so that the
// drift of a shared machine hits both alike. `/` of bench/apps/hello, pools as in npm run bench.
// Besides req/s (which other jobs on a shared machine move by a factor of 2), it reports the CPU
// time the core spent per request (utime+stime from /proc during the run, over the requests wrk
// got answered): what the access log adds to each request, and far less disturbed by other jobs.
//
// Usage: node bench/access-log.mjs [--rounds N] [--duration S] [--connections N] [--format combined|json]
// Needs wrk and a built dist/. Every instance it starts is stopped at the end (also on error and
// Ctrl-C), and its temp dir (registry, logs) removed.

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'bin', 'run.js');
const HELLO = path.join(ROOT, 'bench', 'apps', 'hello');

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, duration: { type: 'string', default: '5' }, connections: { type: 'string', default: '50' }, format: { type: 'string', default: 'combined' } } });
const rounds = Number(values.rounds);
const duration = Number(values.duration);
const connections = Number(values.connections);

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-bench-access-'));
const env = { ...process.env, FERRY_INSTANCE_REGISTRY_DIR: scratch, NO_COLOR: '1', ...(process.getuid?.() === 0 ? { FERRY_USER: 'root' } : {}) };
const started = [];

function ferry(args) {
  return execFileSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8' });
}

async function freePort() {
  const server = net.createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

async function start(name, extra) {
  const port = await freePort();
  const out = ferry(['start', HELLO, '--daemonize', '--port', String(port), '--min-instances', '2', '--max-pool-size', '2', '-e', 'production', '--log-file', path.join(scratch, `${name}.log`), ...extra, '--json']);
  const instance = JSON.parse(out);
  started.push(instance.name);
  return { name, port, instance: instance.name, corePid: instance.corePid };
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
}

function stopAll() {
  for (const name of started.splice(0)) {
    try {
      ferry(['stop', '--instance', name]);
    } catch (err) {
      console.error(`could not stop ${name}: ${err.message}`);
    }
  }
  fs.rmSync(scratch, { recursive: true, force: true });
}

function wrk(port, seconds) {
  const r = spawnSync('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', '10s', `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1]);
  const ms = (label) => {
    const m = new RegExp(`${label}%\\s+([\\d.]+)(us|ms|s)`).exec(r.stdout);
    return m ? Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]] : NaN;
  };
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1] ?? '0';
  const requests = Number(/(\d+) requests in/.exec(r.stdout)?.[1]);
  return { rps, p50: ms('50'), p99: ms('99'), errors: Number(errors), requests };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const loadavg = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');

process.on('SIGINT', () => {
  stopAll();
  process.exit(130);
});

try {
  const accessFile = path.join(scratch, 'access.log');
  const configs = [await start('off', []), await start('on', ['--access-log', accessFile, '--access-log-format', values.format])];
  for (const c of configs) wrk(c.port, 1); // warm-up
  const results = { off: [], on: [] };
  console.log(`wrk -t1 -c${connections} -d${duration}s on /, ${rounds} rounds, alternating; access log ${values.format}; load avg at start ${loadavg()}`);
  for (let round = 0; round < rounds; round++) {
    // Alternate which goes first, so neither always follows the other.
    for (const c of round % 2 ? [...configs].reverse() : configs) {
      const cpuBefore = cpuSeconds(c.corePid);
      const r = wrk(c.port, duration);
      r.coreUsPerRequest = ((cpuSeconds(c.corePid) - cpuBefore) * 1e6) / r.requests;
      results[c.name].push(r);
      console.log(`  round ${round + 1} ${c.name.padEnd(3)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  core ${r.coreUsPerRequest.toFixed(1)} us CPU/request  errors ${r.errors}`);
    }
  }
  const lines = fs.readFileSync(accessFile, 'utf8').split('\n').filter(Boolean).length;
  const sum = (name) => ({ cpu: median(results[name].map((r) => r.coreUsPerRequest)), rps: median(results[name].map((r) => r.rps)), p50: median(results[name].map((r) => r.p50)), p99: median(results[name].map((r) => r.p99)), min: Math.min(...results[name].map((r) => r.rps)), max: Math.max(...results[name].map((r) => r.rps)) });
  const off = sum('off');
  const on = sum('on');
  console.log(`median off: ${off.rps.toFixed(0)} req/s (${off.min.toFixed(0)}-${off.max.toFixed(0)}), p50 ${off.p50.toFixed(2)} ms, p99 ${off.p99.toFixed(2)} ms, core ${off.cpu.toFixed(1)} us CPU/request`);
  console.log(`median on:  ${on.rps.toFixed(0)} req/s (${on.min.toFixed(0)}-${on.max.toFixed(0)}), p50 ${on.p50.toFixed(2)} ms, p99 ${on.p99.toFixed(2)} ms, core ${on.cpu.toFixed(1)} us CPU/request`);
  console.log(`on/off: req/s ${(on.rps / off.rps).toFixed(3)}, core CPU per request ${(on.cpu / off.cpu).toFixed(3)} (+${(on.cpu - off.cpu).toFixed(1)} us); ${lines} access lines written (${(fs.statSync(accessFile).size / 1e6).toFixed(1)} MB); load avg at end ${loadavg()}`);
} finally {
  stopAll();
}
