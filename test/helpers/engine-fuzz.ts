// Differential fuzzing of Ferry's engine against Node's llhttp (strict mode): seeded request
// streams, mutated the way smuggling attempts are made, fed to both; Ferry must refuse, or agree
// with llhttp on every message it takes (method, target, version, fields, body, trailers) and on
// where the stream stops. Ferry may refuse what llhttp takes: those cases are counted by Ferry's
// reason. Shared by the fixed-seed unit test and scripts/fuzz-engine.ts.

import { parseStream, type EngineParse } from './engine-stream.js';
import { LlhttpOracle, type OracleParse } from './llhttp-oracle.js';

/** mulberry32: small, fast, and the same sequence for a seed everywhere. */
export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

const METHODS = ['GET', 'POST', 'PUT', 'HEAD', 'DELETE', 'OPTIONS', 'PATCH'];
const TARGETS = ['/', '/a/b?c=d', '/x%20y', '/p;q?r=s&t', 'http://example.com/abs?q', 'http://a:8080', '/{x}|', '*'];
const HOSTS = ['a', 'example.com', 'Example.COM:8080', '127.0.0.1', '[::1]:80'];
const FIELDS = ['Accept: */*', 'User-Agent: fuzz/1.0', 'X-Empty:', 'Cookie: a=b; c=d', 'X-Tab:\tv\t', 'Accept-Language: en, fr;q=0.5', 'X-Obs: caf\xe9'];

function chunkedBody(random: Random, body: string): string {
  let out = '';
  let at = 0;
  while (at < body.length) {
    const size = 1 + random.int(body.length - at);
    const ext = random.chance(0.2) ? random.pick([';a', ';a=b', ';a="q d"', ';x=1;y']) : '';
    out += `${size.toString(16)}${ext}\r\n${body.slice(at, at + size)}\r\n`;
    at += size;
  }
  const trailer = random.chance(0.3) ? 'T: v\r\n' : '';
  return `${out}0\r\n${trailer}\r\n`;
}

/** One well-formed request, with a random body framing. */
function request(random: Random): string {
  const method = random.pick(METHODS);
  let target = random.pick(TARGETS);
  if (target === '*' && method !== 'OPTIONS') target = '/';
  const version = random.chance(0.1) ? '1.0' : '1.1';
  const lines = [`${method} ${target} HTTP/${version}`];
  if (version === '1.1' || random.chance(0.5)) lines.push(`Host: ${random.pick(HOSTS)}`);
  for (let n = random.int(4); n > 0; n--) lines.push(random.pick(FIELDS));
  if (version === '1.0') lines.push('Connection: keep-alive');
  let body = '';
  const payload = random.pick(['', 'hello', 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', '0\r\n\r\n', 'x'.repeat(40)]);
  const framing = method === 'GET' || method === 'HEAD' ? random.pick(['none', 'none', 'length']) : random.pick(['length', 'chunked', 'none']);
  if (framing === 'length') {
    lines.push(`Content-Length: ${payload.length}`);
    body = payload;
  } else if (framing === 'chunked' && version === '1.1') {
    lines.push('Transfer-Encoding: chunked');
    body = chunkedBody(random, payload);
  }
  // Shuffle the fields after the request line a little: order is the sender's business.
  if (random.chance(0.3) && lines.length > 2) lines.push(lines.splice(1, 1)[0] as string);
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

/** The bytes an attacker likes to put in the wrong place. */
const BYTES = ['\r', '\n', '\x00', '\t', ' ', ':', ',', ';', '"', '\\', '\x0b', '\x7f', '\x80', '\xff', 'a', 'Z', '0', '9', 'f', '-', '/', '?', '#', '%', '@'];
const LINES = [
  'Transfer-Encoding: chunked',
  'Transfer-Encoding: identity',
  'Transfer-Encoding: gzip, chunked',
  'Transfer-Encoding : chunked',
  'Transfer-Encoding:\tchunked',
  'Transfer-Encoding: chunked ',
  'Transfer-Encoding: xchunked',
  'Content-Length: 0',
  'Content-Length: 5',
  'Content-Length: 5, 5',
  'Content-Length: +5',
  'Host: b',
  'Host: t/a',
  ' folded',
  'Connection: close',
  'Connection: keep-alive, Upgrade',
  'Upgrade: websocket',
  'Expect: 100-continue',
  'X: a\rb',
];

function mutate(random: Random, input: string): string {
  const at = random.int(input.length + 1);
  switch (random.int(9)) {
    case 0:
      return input.slice(0, at) + random.pick(BYTES) + input.slice(at);
    case 1:
      return input.slice(0, at) + input.slice(at + 1 + random.int(3));
    case 2:
      return input.slice(0, at) + random.pick(BYTES) + input.slice(at + 1);
    case 3: {
      // Duplicate a line.
      const start = input.lastIndexOf('\r\n', at);
      const end = input.indexOf('\r\n', at);
      if (start < 0 || end < 0) return input;
      return input.slice(0, end) + input.slice(start, end) + input.slice(end);
    }
    case 4: {
      // Swap the framing fields.
      const swapped = input.replace(/Content-Length|Transfer-Encoding/i, (m) => (m.toLowerCase() === 'content-length' ? 'Transfer-Encoding' : 'Content-Length'));
      return swapped.replace(/(Transfer-Encoding: )\d+/i, '$1chunked');
    }
    case 5: {
      // Change the case of a span.
      const end = Math.min(input.length, at + 1 + random.int(20));
      const span = input.slice(at, end);
      return input.slice(0, at) + (random.chance(0.5) ? span.toUpperCase() : span.toLowerCase()) + input.slice(end);
    }
    case 6: {
      // Add a field line after some line of the stream.
      const end = input.indexOf('\r\n', at);
      if (end < 0) return input;
      return `${input.slice(0, end + 2)}${random.pick(LINES)}\r\n${input.slice(end + 2)}`;
    }
    case 7: {
      // Change a number (a length, a chunk size, a port).
      const digits = /[0-9a-f]+/gi;
      const found = [...input.matchAll(digits)];
      if (found.length === 0) return input;
      const match = random.pick(found);
      const replacement = random.pick(['0', '1', '00', '7', 'ff', '10', '1f', String(random.int(100))]);
      return input.slice(0, match.index) + replacement + input.slice((match.index as number) + match[0].length);
    }
    default:
      return input.slice(0, at);
  }
}

/** One fuzz case: 1-3 pipelined requests, 0-3 mutations, cut into 1-3 pieces. */
export function generateCase(random: Random): Buffer[] {
  let input = '';
  for (let n = 1 + random.int(3); n > 0; n--) input += request(random);
  for (let n = random.int(4); n > 0; n--) input = mutate(random, input);
  const bytes = Buffer.from(input, 'latin1');
  const cuts = [0];
  for (let n = random.int(3); n > 0; n--) cuts.push(random.int(bytes.length + 1));
  cuts.sort((a, b) => a - b).push(bytes.length);
  const pieces: Buffer[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) pieces.push(bytes.subarray(cuts[i], cuts[i + 1]));
  return pieces;
}

export type Outcome =
  /** Ferry and llhttp read the same messages and stop at the same place (or both refuse). */
  | { kind: 'agree' }
  /** Ferry refused a message llhttp took, for this reason. */
  | { kind: 'ferry-refuses'; reason: string }
  | { kind: 'disagree'; detail: string };

function sameMessage(ferry: EngineParse['messages'][number], node: OracleParse['messages'][number], headOnly: boolean): string | undefined {
  const ours = { method: ferry.method, target: ferry.target, version: ferry.version, headers: ferry.headers };
  const theirs = { method: node.method, target: node.target, version: node.version, headers: node.headers };
  if (JSON.stringify(ours) !== JSON.stringify(theirs)) return `head ${JSON.stringify(ours)} vs llhttp ${JSON.stringify(theirs)}`;
  if (headOnly) return undefined;
  if (!node.complete) return 'llhttp did not complete a message Ferry took';
  if (ferry.body !== node.body) return `body ${JSON.stringify(ferry.body)} vs llhttp ${JSON.stringify(node.body)}`;
  if (JSON.stringify(ferry.trailers) !== JSON.stringify(node.trailers)) return `trailers ${JSON.stringify(ferry.trailers)} vs llhttp ${JSON.stringify(node.trailers)}`;
  return undefined;
}

/** Ferry's reading of the stream against llhttp's. */
export function compareParses(ferry: EngineParse, node: OracleParse): Outcome {
  const { messages, end } = ferry;
  for (const [i, message] of messages.entries()) {
    const theirs = node.messages[i];
    const last = i === messages.length - 1;
    if (!theirs) {
      // Node answers CONNECT without a 'connect' listener by closing: nothing to compare.
      if (last && end.kind === 'upgrade' && message.method === 'CONNECT') return { kind: 'agree' };
      return { kind: 'disagree', detail: `Ferry took message ${i}, llhttp ${node.error ? `refused it (${node.error})` : 'did not see it'}` };
    }
    const why = sameMessage(message, theirs, last && end.kind === 'upgrade');
    if (why !== undefined) return { kind: 'disagree', detail: `message ${i}: ${why}` };
  }
  const k = messages.length;
  const next = node.messages[k];
  switch (end.kind) {
    case 'refused':
      return next?.complete ? { kind: 'ferry-refuses', reason: end.reason } : { kind: 'agree' };
    case 'done':
      if (next || node.error) return { kind: 'disagree', detail: `Ferry read the whole stream as ${k} messages; llhttp ${node.error ? `then refused (${node.error})` : 'saw more'}` };
      return { kind: 'agree' };
    case 'incomplete':
      if (next?.complete) return { kind: 'disagree', detail: `Ferry waits for more of message ${k}; llhttp completed it` };
      return { kind: 'agree' };
    default:
      return { kind: 'agree' };
  }
}

export interface FuzzReport {
  seed: number;
  cases: number;
  agreements: number;
  /** Ferry's reason → how many cases it refused that llhttp took. */
  ferryRefuses: Map<string, number>;
  disagreements: { input: string; detail: string }[];
}

/** `count` cases from `seed`, compared one by one. */
export async function runFuzz(seed: number, count: number, oracle = new LlhttpOracle()): Promise<FuzzReport> {
  const random = new Random(seed);
  const report: FuzzReport = { seed, cases: count, agreements: 0, ferryRefuses: new Map(), disagreements: [] };
  for (let n = 0; n < count; n++) {
    const pieces = generateCase(random);
    const outcome = compareParses(parseStream(pieces), await oracle.parse(pieces));
    if (outcome.kind === 'agree') report.agreements++;
    else if (outcome.kind === 'ferry-refuses') report.ferryRefuses.set(outcome.reason, (report.ferryRefuses.get(outcome.reason) ?? 0) + 1);
    else report.disagreements.push({ input: Buffer.concat(pieces).toString('latin1'), detail: outcome.detail });
  }
  return report;
}
