#!/usr/bin/env node
// Measurement only, not product code: Ferry's own front (dist/core/front: connection, exchange,
// parser, timeouts, keep-alive) with a handler that answers every request with one ready buffer
// (writeRaw), as a cache hit is written. Between strict-hit.mjs (the parser alone) and Ferry's
// /cached, it says what the front costs and what the proxy's stages cost.
//
// Usage: npm run build; node bench/prototypes/front-hit.mjs PORT
import { createFrontServer } from '../../dist/core/front/server.js';

const ANSWER = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nCache-Control: public, max-age=60\r\nAge: 0\r\n\r\nhello world\n');
const port = Number(process.argv[2] ?? 5012);
let id = 0;
const front = createFrontServer({
  handler: (exchange) => {
    exchange.writeRaw(ANSWER);
  },
  limits: { maxHeaderBytes: 16 * 1024, headerTimeoutMs: 30_000, bodyTimeoutMs: 60_000, maxBodyBytes: 0 },
  nextRequestId: () => String(++id),
});
front.server.listen(port, '127.0.0.1');
