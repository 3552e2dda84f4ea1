#!/usr/bin/env node
// Core crash recovery of two or more builds side by side: each is a checkout with a built dist/
// (e.g. `git worktree add /tmp/before <commit> && cd /tmp/before && npm ci && npm run build`).
// Their cores are SIGKILLed in turn (A B A B ...), so a drift of the machine hits all alike, and
// the time to the first answered GET (a fresh connection every 1 ms) is taken for each kill;
// every build gets a fresh instance every 3 kills (the watchdog backs off after that). It prints
// the medians, each build's idle core RSS, and the median of the paired ratios to the first build.
//
// Usage: node bench/crash-ab.mjs [--kills N] NAME=DIR NAME=DIR [...]
//   e.g. node bench/crash-ab.mjs before=/tmp/before after=.
// On a machine shared with other work, `chrt -f 5 node bench/crash-ab.mjs ...` (root) keeps the
// other processes from delaying the ones measured. The environment is passed on as it is: unset
// NODE_EXTRA_CA_CERTS to measure as users run Ferry.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

const KILLS_PER_INSTANCE = 3;
const POOL = ['--min-instances', '2', '--max-pool-size', '2', '-e', 'production'];

function parseArgs(argv) {
  let kills = 10;
  const builds = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--kills') { kills = Number(argv[++i]); continue; }
    const m = /^([\w-]+)=(.+)$/.exec(argv[i]);
    if (!m) throw new Error(`expected NAME=DIR, got ${argv[i]}`);
    const dir = path.resolve(m[2]);
    if (!fs.existsSync(path.join(dir, 'dist', 'commands'))) throw new Error(`${dir} has no built dist/: run npm run build there`);
    builds.push({ name: m[1], dir, samples: [], idleRssMb: [] });
  }
  if (builds.length < 2 || !Number.isInteger(kills) || kills < 1) throw new Error('usage: node bench/crash-ab.mjs [--kills N] NAME=DIR NAME=DIR [...]');
  return { kills, builds };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2; };

function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function get(port) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
  });
}

function rssMb(pid) {
  try { return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024; } catch { return NaN; }
}

async function main() {
  const { kills, builds } = parseArgs(process.argv.slice(2));
  const registry = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-crash-ab-'));
  const env = { ...process.env, FERRY_INSTANCE_REGISTRY_DIR: registry, NO_COLOR: '1', ...(process.getuid?.() === 0 ? { FERRY_USER: 'root' } : {}) };
  const cli = (build, args) => spawnSync(process.execPath, [path.join(build.dir, 'bin', 'run.js'), ...args], { env, encoding: 'utf8', timeout: 60_000 });
  const corePid = (build) => JSON.parse(fs.readFileSync(path.join(registry, `ferry.${build.instance}`, 'properties.json'), 'utf8')).core_pid;
  const stop = (build) => { if (build.instance) cli(build, ['stop', '--instance', build.instance]); build.instance = undefined; };
  try {
    for (let i = 0; i < kills; i++) {
      for (const build of builds) {
        if (i % KILLS_PER_INSTANCE === 0) {
          stop(build);
          build.port = await freePort();
          const r = cli(build, ['start', path.join(build.dir, 'bench', 'apps', 'hello'), '--daemonize', '--address', '127.0.0.1', '--port', String(build.port), ...POOL, '--json']);
          if (r.status !== 0) throw new Error(`${build.name}: ferry start failed: ${r.stderr}`);
          build.instance = JSON.parse(r.stdout).name;
          await sleep(1000); // settled: apps ready, nothing starting
          build.idleRssMb.push(rssMb(corePid(build)));
        }
        const core = corePid(build);
        const t0 = performance.now();
        process.kill(core, 'SIGKILL');
        for (;;) {
          try { if ((await get(build.port)) < 400) break; } catch { }
          await sleep(1);
        }
        build.samples.push(performance.now() - t0);
        for (let k = 0; k < 200 && corePid(build) === core; k++) await sleep(25);
        await sleep(600);
      }
    }
  } finally {
    for (const build of builds) stop(build);
    fs.rmSync(registry, { recursive: true, force: true });
  }
  const [first] = builds;
  for (const build of builds) {
    const ratio = build === first ? '' : `, paired ratio to ${first.name} ${median(build.samples.map((ms, i) => ms / first.samples[i])).toFixed(2)}`;
    console.log(`${build.name}: median ${median(build.samples).toFixed(1)} ms [${build.samples.map((ms) => ms.toFixed(0)).join(' ')}], idle core RSS ${median(build.idleRssMb).toFixed(1)} MB${ratio}`);
  }
}

main().catch((err) => {
  console.error(err.message);
  process.exitCode = 1;
});
