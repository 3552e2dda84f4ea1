#!/usr/bin/env node
// The access log's own cost per request, in-process: what AccessLog.begin and the line written at
// the response's close add to a request, against the same loop without it (an EventEmitter stands
// for the response). Yields to the event loop every 500 requests, as a server does, so the batched
// writes complete. Usage: node bench/access-log-line.mjs [combined|json] (needs a built dist/).

import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { AccessLog } = await import(path.join(ROOT, 'dist/core/access-log/access-log.js'));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-access-line-'));
const format = process.argv[2] ?? 'combined';
const log = new AccessLog({ target: { path: path.join(dir, 'access.log'), appUids: [] }, format, clientOf: (req) => req.socket.remoteAddress });
const socket = { bytesWritten: 0, remoteAddress: '127.0.0.1' };
const headers = { 'user-agent': 'wrk' };

async function run(withLog, n) {
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    const res = Object.assign(new EventEmitter(), { socket, headersSent: true, statusCode: 200 });
    const req = { socket, headers, method: 'GET', url: '/', httpVersion: '1.1' };
    if (withLog) {
      // What the front's stages set on a proxied request.
      const entry = log.begin(req, res);
      entry.requestId = 'abcdef-1';
      entry.app = 'hello';
      entry.tracked = { worker: { pid: 4242 } };
      entry.cache = 'miss';
    } else res.once('close', () => undefined);
    res.emit('close');
    if (i % 500 === 0) await new Promise((r) => setImmediate(r));
  }
  return ((performance.now() - t) * 1000) / n;
}

try {
  console.log(`access log ${format}, 200000 requests per run, load avg ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  for (let round = 1; round <= 3; round++) {
    const off = await run(false, 2e5);
    const on = await run(true, 2e5);
    console.log(`  round ${round}: ${off.toFixed(2)} us without, ${on.toFixed(2)} us with: +${(on - off).toFixed(2)} us per request`);
  }
} finally {
  log.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
