#!/usr/bin/env node
// Benchmark: Ferry's own front (src/core/front over node:net) answering a fixed 'hello' against
// node:http doing the same, with wrk -t1 -c50 on loopback, in interleaved rounds (the machine is
// shared: interleaving spreads the noise over all configurations alike), printed side by side
// with the median and the spread of the rounds.
//
// Configs:
//   http        node:http: res.writeHead(200, {Content-Type, Content-Length}); res.end('hello')
//   front       the front: writeHead(200, 'OK', [Content-Type]); end('hello') (Content-Length from end)
//   front-raw   the front: writeRaw(one ready buffer), as a turbocache hit is sent
//
// Usage: node bench/front-hello.mjs [--rounds 3] [--duration 5] [--connections 50] [--configs http,front,front-raw]
// It loads the TypeScript sources through tsx (a devDependency); nothing needs building. Each
// server runs in its own child process, killed at the end (also on error and on SIGINT/SIGTERM).

import { execFile, spawn } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const SELF = fileURLToPath(import.meta.url);
const HELLO = Buffer.from('hello');

const { values } = parseArgs({
  options: {
    role: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    configs: { type: 'string', default: 'http,front,front-raw' },
  },
});

async function serve(role) {
  let server;
  if (role === 'http') {
    server = http.createServer({ keepAliveTimeout: 5_000, noDelay: true }, (req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': HELLO.length });
      res.end(HELLO);
    });
  } else {
    const { register } = await import('tsx/esm/api');
    register();
    const { createFrontServer } = await import('../src/core/front/server.ts');
    const ready = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${HELLO.length}\r\n\r\nhello`);
    const FIELDS = ['Content-Type', 'text/plain'];
    const handler =
      role === 'front-raw'
        ? (exchange) => exchange.writeRaw(ready)
        : (exchange) => {
            exchange.writeHead(200, 'OK', FIELDS);
            exchange.end(HELLO);
          };
    let id = 0;
    const front = createFrontServer({
      handler,
      limits: { maxHeaderBytes: 16_384, headerTimeoutMs: 30_000, bodyTimeoutMs: 60_000, maxBodyBytes: 1024 ** 3 },
      nextRequestId: () => `bench-${++id}`,
    });
    server = front.server;
  }
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
  // CPU time used so far, asked before and after each run: what a request costs the server,
  // which the other helpers' load on a shared machine disturbs far less than req/s.
  process.on('message', (m) => m === 'cpu' && process.send({ cpu: process.cpuUsage() }));
  process.on('disconnect', () => process.exit(0));
}

if (values.role) {
  await serve(values.role);
} else {
  await main();
}

function wrk(port) {
  const args = ['-t1', `-c${values.connections}`, `-d${values.duration}s`, '--latency', `http://127.0.0.1:${port}/`];
  return new Promise((resolve, reject) => {
    execFile('wrk', args, { timeout: (Number(values.duration) + 30) * 1000 }, (err, stdout) => {
      if (err) return reject(err);
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? 0);
      const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? 0);
      const p99 = /\s99%\s+(\S+)/.exec(stdout)?.[1] ?? '?';
      const errors = [/Socket errors:[^\n]*/.exec(stdout)?.[0], /Non-2xx[^\n]*/.exec(stdout)?.[0]].filter(Boolean).join('; ');
      resolve({ rps, requests, p99, errors });
    });
  });
}

function cpuOf(child) {
  return new Promise((resolve) => {
    const onMessage = (m) => {
      if (m.cpu === undefined) return;
      child.off('message', onMessage);
      resolve(m.cpu);
    };
    child.on('message', onMessage);
    child.send('cpu');
  });
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main() {
  const configs = values.configs.split(',');
  const children = [];
  const killAll = () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  };
  process.on('SIGINT', () => (killAll(), process.exit(130)));
  process.on('SIGTERM', () => (killAll(), process.exit(143)));
  try {
    const ports = {};
    const servers = {};
    for (const role of configs) {
      const child = spawn(process.execPath, [SELF, '--role', role], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.push(child);
      servers[role] = child;
      ports[role] = await new Promise((resolve, reject) => {
        child.once('message', (m) => resolve(m.port));
        child.once('exit', (code) => reject(new Error(`${role} exited with ${code}`)));
      });
    }
    // Warm-up: JIT and connection set-up out of the measured rounds.
    for (const role of configs) await wrk(ports[role]).catch(() => undefined);
    const results = Object.fromEntries(configs.map((c) => [c, []]));
    for (let round = 1; round <= Number(values.rounds); round++) {
      for (const role of configs) {
        const before = await cpuOf(servers[role]);
        const r = await wrk(ports[role]);
        const after = await cpuOf(servers[role]);
        r.cpuUsPerRequest = (after.user + after.system - before.user - before.system) / r.requests;
        results[role].push(r);
        console.log(`round ${round} ${role.padEnd(10)} ${String(Math.round(r.rps)).padStart(7)} req/s  ${r.cpuUsPerRequest.toFixed(2)} µs CPU/req  p99 ${r.p99}${r.errors ? `  ${r.errors}` : ''}`);
      }
    }
    const base = median(results[configs[0]].map((r) => r.rps));
    console.log(`\nwrk -t1 -c${values.connections} -d${values.duration}s, ${values.rounds} interleaved rounds; median, spread (min-max over the median), ratio to ${configs[0]}`);
    console.log('config      median req/s   spread   ratio   µs CPU/req (spread)   p99 per round');
    for (const role of configs) {
      const rps = results[role].map((r) => r.rps);
      const m = median(rps);
      const spread = ((Math.max(...rps) - Math.min(...rps)) / m) * 100;
      const cpu = results[role].map((r) => r.cpuUsPerRequest);
      const cpuMedian = median(cpu);
      const cpuSpread = ((Math.max(...cpu) - Math.min(...cpu)) / cpuMedian) * 100;
      console.log(
        `${role.padEnd(10)}  ${String(Math.round(m)).padStart(12)}   ${spread.toFixed(0).padStart(5)}%   ${(m / base).toFixed(2).padStart(5)}   ${cpuMedian.toFixed(2).padStart(10)} (${cpuSpread.toFixed(0)}%)   ${results[role].map((r) => r.p99).join(' ')}`,
      );
    }
  } finally {
    killAll();
  }
}
