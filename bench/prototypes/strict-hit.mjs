#!/usr/bin/env node
// Measurement only, not product code: the floor of a cache hit served by a JavaScript front that
// parses strictly. Per request it does only what any strict hit must: Ferry's own request-head
// parser (dist/core/engine/request-head.js: RFC 9112 request line, field lines, framing verdict),
// a Map lookup on method + Host + target, and one write of a ready answer (every target is
// "stored" on its first request). No door, no request id, no tracker, no counters, no Age/Date
// patching: the ceiling `npm run bench` holds Ferry's cache hits to.
//
// Usage: npm run build; node bench/prototypes/strict-hit.mjs PORT
import net from 'node:net';
import { RequestHeadParser } from '../../dist/core/engine/request-head.js';

const ANSWER = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nCache-Control: public, max-age=60\r\nAge: 0\r\n\r\nhello world\n');
const port = Number(process.argv[2] ?? 5011);
const cache = new Map();

net.createServer({ noDelay: true }, (socket) => {
  const parser = new RequestHeadParser();
  socket.on('data', (chunk) => {
    let input = chunk;
    for (;;) {
      const result = parser.feed(input);
      if (result.kind === 'incomplete') return;
      if (result.kind !== 'head') {
        socket.destroy();
        return;
      }
      const { head } = result;
      let host = '';
      for (const field of head.fields) if (field.lower === 'host') host = field.value;
      const key = `${head.method} ${host} ${head.target}`;
      let answer = cache.get(key);
      if (answer === undefined) cache.set(key, (answer = ANSWER));
      socket.write(answer);
      if (result.rest.length === 0) return;
      input = result.rest;
    }
  });
  socket.on('error', () => undefined);
}).listen(port, '127.0.0.1');
