#!/usr/bin/env node
// Micro-benchmark: nanoseconds per request head for a typical ~400-byte browser GET, parsed by
// Ferry's engine (src/core/engine, one pass over the bytes), by Node's http.Server fed through
// the same in-process Duplex the differential fuzz uses (llhttp plus IncomingMessage and
// ServerResponse: what the proxy pays per request today), and by Node's bare llhttp binding
// (the parser alone, for scale). Also the cost of writing the head for the app (serialize).
//
// Usage: node bench/engine-parse.mjs [--heads N] [--rounds N]
// It loads the TypeScript sources through tsx (a devDependency); nothing needs building.

import http from 'node:http';
import { Duplex } from 'node:stream';
import { parseArgs } from 'node:util';
import { register } from 'tsx/esm/api';

register();
const { RequestHeadParser } = await import('../src/core/engine/request-head.ts');
const { serializeRequestHead } = await import('../src/core/engine/serialize.ts');

const { values } = parseArgs({ options: { heads: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '5' } } });
const HEADS = Number(values.heads);
const ROUNDS = Number(values.rounds);

const HEAD = Buffer.from(
  [
    'GET /articles/2024/engine?page=2&sort=new HTTP/1.1',
    'Host: www.example.com',
    'User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
    'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
    'Accept-Language: en-US,en;q=0.5',
    'Accept-Encoding: gzip, deflate, br',
    'Referer: https://www.example.com/articles',
    'Cookie: session=3f2a9c; theme=dark',
    'Connection: keep-alive',
    '',
    '',
  ].join('\r\n'),
  'latin1',
);

function median(numbers) {
  const sorted = [...numbers].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function ferryParse() {
  const parser = new RequestHeadParser();
  let fields = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < HEADS; i++) {
    const result = parser.feed(HEAD);
    fields += result.head.fields.length;
  }
  const ns = Number(process.hrtime.bigint() - started) / HEADS;
  if (fields !== HEADS * 8) throw new Error('parse went wrong');
  return ns;
}

function ferryParseAndSerialize() {
  const parser = new RequestHeadParser();
  const edits = { remove: new Set(['x-forwarded-for']), add: [['X-Forwarded-For', '10.0.0.1'], ['X-Forwarded-Proto', 'http'], ['X-Request-Id', 'abc123']] };
  let bytes = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < HEADS; i++) bytes += serializeRequestHead(parser.feed(HEAD).head, edits).length;
  const ns = Number(process.hrtime.bigint() - started) / HEADS;
  if (bytes === 0) throw new Error('serialize went wrong');
  return ns;
}

/** node:http in process: the heads pipelined into one fake socket, each answered at once. */
function nodeServer() {
  const server = http.createServer({ insecureHTTPParser: false, requestTimeout: 0, headersTimeout: 0 });
  const batch = 1000;
  const pipelined = Buffer.concat(Array.from({ length: batch }, () => HEAD));
  return new Promise((resolve) => {
    let seen = 0;
    let started;
    server.on('request', (_req, res) => {
      res.end();
      if (++seen === HEADS) resolve(Number(process.hrtime.bigint() - started) / HEADS);
    });
    const socket = new Duplex({ read() {}, write(_c, _e, callback) { callback(); } });
    server.emit('connection', socket);
    started = process.hrtime.bigint();
    const feed = () => {
      for (let sent = 0; sent < batch * 10 && seen + sent < HEADS; sent += batch) socket.push(pipelined);
      if (seen < HEADS) setImmediate(feed);
    };
    feed();
  });
}

/** Node's llhttp binding alone, with the callbacks node:http itself installs (no objects made). */
function llhttpBinding() {
  let HTTPParser;
  try {
    process.noDeprecation = true;
    ({ HTTPParser } = process.binding('http_parser'));
  } catch {
    return undefined;
  }
  const parser = new HTTPParser();
  parser.initialize(HTTPParser.REQUEST, {}, 0, 0);
  let heads = 0;
  parser[HTTPParser.kOnHeadersComplete] = () => {
    heads++;
    return 0;
  };
  parser[HTTPParser.kOnHeaders] = () => {};
  parser[HTTPParser.kOnBody] = () => {};
  parser[HTTPParser.kOnMessageComplete] = () => {};
  parser[HTTPParser.kOnExecute] = () => {};
  const batch = 1000;
  const pipelined = Buffer.concat(Array.from({ length: batch }, () => HEAD));
  const started = process.hrtime.bigint();
  for (let i = 0; i < HEADS; i += batch) parser.execute(pipelined);
  const ns = Number(process.hrtime.bigint() - started) / heads;
  return ns;
}

const results = { ferry: [], ferrySerialize: [], nodeServer: [], llhttp: [] };
for (let round = 0; round < ROUNDS; round++) {
  results.ferry.push(ferryParse());
  results.ferrySerialize.push(ferryParseAndSerialize());
  results.nodeServer.push(await nodeServer());
  const binding = llhttpBinding();
  if (binding !== undefined) results.llhttp.push(binding);
}

console.log(`${HEAD.length}-byte GET head, ${HEADS} heads per round, median of ${ROUNDS} rounds (ns per head):`);
console.log(`  Ferry engine, parse + framing verdict      ${median(results.ferry).toFixed(0).padStart(6)}`);
console.log(`  Ferry engine, parse + serialize for app    ${median(results.ferrySerialize).toFixed(0).padStart(6)}`);
console.log(`  node:http server in process (llhttp + IncomingMessage/ServerResponse)  ${median(results.nodeServer).toFixed(0).padStart(6)}`);
if (results.llhttp.length > 0) console.log(`  llhttp binding alone (no JS objects, header strings passed to callbacks)  ${median(results.llhttp).toFixed(0).padStart(6)}`);
