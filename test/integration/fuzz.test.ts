// A fuzzer at the public port: 10,000 malformed, oversized, truncated or slow requests on raw
// sockets, 50 at a time, while a well-behaved client keeps going. The core must not crash, the
// good client must see nothing but 200s, and a normal request must work afterwards.

import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Pool, request } from 'undici';
import { mulberry32 } from '../../src/core/faults.js';
import { isProcessRunning } from '../../src/lib/process-groups.js';
import { fixture, liveInstances, runFerry, startDaemon, waitFor, type TestInstance } from '../helpers/ferry.js';
import { rawExchange } from '../helpers/raw-http.js';

let instance: TestInstance | undefined;

afterEach(() => {
  instance?.forceCleanup();
  instance = undefined;
});

const TOTAL = 10_000;
const CONCURRENCY = 50;
/** A fuzz socket the server has not closed by then is closed by the fuzzer (a slow client giving up). */
const SOCKET_DEADLINE_MS = 3_000;

type Random = () => number;

const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const int = (random: Random, min: number, max: number): number => min + Math.floor(random() * (max - min + 1));
const bytes = (random: Random, n: number): string => Array.from({ length: n }, () => String.fromCharCode(int(random, 0, 255))).join('');

const VALID = 'GET /pid HTTP/1.1\r\nHost: x\r\nUser-Agent: fuzz\r\nAccept: */*\r\n\r\n';

/** One bad request, and how to send it: all at once, or in pieces with pauses (a slow client). */
interface FuzzCase {
  kind: string;
  pieces: string[];
  pauseMs: number;
}

/** The kinds of bad request, each a generator of one case. */
const KINDS: Record<string, (random: Random) => string[]> = {
  garbage: (r) => [bytes(r, int(r, 1, 2000))],
  'garbage-lines': (r) => [`${bytes(r, int(r, 1, 100)).replace(/[\r\n]/g, '')}\r\n${bytes(r, int(r, 0, 50))}\r\n\r\n`],
  'bad-request-line': (r) =>
    [
      pick(r, [
        'GET\r\n\r\n',
        'GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n',
        'G E T / HTTP/1.1\r\n\r\n',
        'GET / HTTP/9.9\r\nHost: x\r\n\r\n',
        `${'A'.repeat(int(r, 1, 40))} /${bytes(r, 5).replace(/[\r\n ]/g, '_')} HTTP/1.1\r\nHost: x\r\n\r\n`,
        'GET /\x00nul HTTP/1.1\r\nHost: x\r\n\r\n',
        'GET http://[::1 HTTP/1.1\r\nHost: x\r\n\r\n',
        'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
        '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03',
        ' GET / HTTP/1.1\r\nHost: x\r\n\r\n',
        'GET / HTTP/1.1\nHost: x\n\n\x7f',
      ]),
    ],
  'bad-headers': (r) =>
    [
      pick(r, [
        'GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n',
        'GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n',
        'GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n',
        'GET / HTTP/1.1\r\nHost: x\r\n folded: value\r\n\r\n',
        'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
        'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
        'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
        'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked, identity\r\n\r\n',
        'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
        `GET / HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 3000 }, (_, i) => `X-${i}: ${i}`).join('\r\n')}\r\n\r\n`,
      ]),
    ],
  'huge-headers': (r) => [`GET / HTTP/1.1\r\nHost: x\r\nX-Huge: ${'h'.repeat(int(r, 17_000, 80_000))}\r\n\r\n`],
  'huge-url': (r) => [`GET /${'u'.repeat(int(r, 17_000, 40_000))} HTTP/1.1\r\nHost: x\r\n\r\n`],
  'bad-chunks': (r) =>
    [
      'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n' +
        pick(r, ['ZZ\r\nabc\r\n', '5\r\nabc\r\n0\r\n\r\n', 'FFFFFFFFFFFFFFFFFFFF\r\nx\r\n', '-5\r\nhello\r\n', '3;' + 'e'.repeat(20_000) + '\r\nabc\r\n', '3\r\nabcXX0\r\n\r\n', '\r\n\r\n']),
    ],
  'oversize-length': (r) => [`POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: ${int(r, 70_000, 10_000_000_000)}\r\n\r\n${'b'.repeat(int(r, 0, 5000))}`],
  'oversize-chunked': (r) => ['POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n', ...Array.from({ length: int(r, 3, 6) }, () => `8000\r\n${'c'.repeat(0x8000)}\r\n`)],
  truncated: (r) => {
    const full = pick(r, [VALID, 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n' + 'd'.repeat(100), 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n']);
    return [full.slice(0, int(r, 1, full.length - 1))];
  },
  'slow-partial-headers': (r) => {
    const partial = VALID.slice(0, int(r, 5, VALID.length - 3));
    const cut = int(r, 1, partial.length - 1);
    return [partial.slice(0, cut), partial.slice(cut)];
  },
};

function fuzzCase(random: Random): FuzzCase {
  const kind = pick(random, Object.keys(KINDS));
  const pieces = (KINDS[kind] as (r: Random) => string[])(random);
  return { kind, pieces, pauseMs: kind === 'slow-partial-headers' ? int(random, 100, 400) : 0 };
}

/** Sends one case and waits until the server closes, or gives up at the deadline; returns the status, if any. */
async function sendCase(port: number, c: FuzzCase): Promise<string> {
  const exchange = await rawExchange(
    port,
    (socket) => {
      let i = 0;
      const next = (): void => {
        if (socket.destroyed) return;
        if (i >= c.pieces.length) {
          socket.end(); // done sending: the server sees the end of a truncated request
          return;
        }
        socket.write(Buffer.from(c.pieces[i++] as string, 'latin1'), () => setTimeout(next, c.pauseMs));
      };
      next();
    },
    SOCKET_DEADLINE_MS,
  );
  return /^HTTP\/1\.1 (\d{3})/.exec(exchange.received)?.[1] ?? (exchange.timedOut ? 'open' : 'closed');
}

describe('the public port under a fuzzer', () => {
  it('survives 10,000 bad requests 50 at a time while a good client gets only 200s', async () => {
    instance = await startDaemon(fixture('pid-app'), ['--max-pool-size', '1', '--max-body-size', '64k', '--client-header-timeout', '5', '--client-body-timeout', '10']);
    const inst = instance;
    const corePid = inst.info.properties.core_pid as number;
    const appPid = Number(await (await request(`${inst.url}/pid`)).body.text());
    inst.remember([appPid]);

    // The good client: one kept-alive connection, a GET and a POST in turn, until the fuzz ends.
    let fuzzing = true;
    const good = new Pool(inst.url, { connections: 1 });
    const goodStatuses = new Map<string, number>();
    const goodClient = (async () => {
      for (let i = 0; fuzzing; i++) {
        const post = i % 2 === 1;
        let key: string;
        try {
          const res = await good.request(post ? { path: '/echo', method: 'POST', body: `good-${i}` } : { path: '/pid', method: 'GET' });
          const body = await res.body.text();
          const ok = res.statusCode === 200 && body === (post ? `good-${i}` : String(appPid));
          key = ok ? '200' : `${res.statusCode} ${body.slice(0, 60)}`;
        } catch (err) {
          key = `error ${(err as { code?: string }).code ?? String(err)}`;
        }
        goodStatuses.set(key, (goodStatuses.get(key) ?? 0) + 1);
      }
    })();

    // Reproducible: the same cases in the same order on every run.
    const random = mulberry32(20_261_127);
    const cases = Array.from({ length: TOTAL }, () => fuzzCase(random));
    const outcomes = new Map<string, number>();
    let next = 0;
    const startedMs = Date.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < cases.length) {
          const c = cases[next++] as FuzzCase;
          const outcome = `${c.kind} -> ${await sendCase(inst.port, c)}`;
          outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        }
      }),
    );
    fuzzing = false;
    await goodClient;
    await good.close();
    const fuzzMs = Date.now() - startedMs;

    const seen = (status: string): number => [...outcomes].filter(([o]) => o.endsWith(`-> ${status}`)).reduce((n, [, count]) => n + count, 0);
    // Every case went out, and the limits answered: 400 (malformed), 431 (headers), 413 (bodies).
    expect([...outcomes.values()].reduce((a, b) => a + b, 0)).toBe(TOTAL);
    expect(seen('400')).toBeGreaterThan(1000);
    expect(seen('431')).toBeGreaterThan(500);
    expect(seen('413')).toBeGreaterThan(500);
    expect(fuzzMs, JSON.stringify(Object.fromEntries(outcomes))).toBeLessThan(40_000);

    // The good client saw nothing but 200s, and got plenty of them.
    expect(Object.fromEntries(goodStatuses)).toEqual({ '200': expect.any(Number) });
    expect(goodStatuses.get('200')).toBeGreaterThan(100);

    // Same core, same app process, and a normal request works.
    expect(isProcessRunning(corePid)).toBe(true);
    expect(liveInstances(inst.registryDir).find((i) => i.name === inst.info.name)?.properties.core_pid).toBe(corePid);
    expect(fs.readFileSync(`${inst.registryDir}/ferry.${inst.port}.log`, 'utf8')).not.toContain('core crashed');
    const after = await request(`${inst.url}/pid`);
    expect([after.statusCode, await after.body.text()]).toEqual([200, String(appPid)]);
    // Nothing the fuzzer sent is still held as a request in flight.
    await waitFor(async () => {
      const status = await runFerry(inst.registryDir, ['status', '--show=requests', '--json', '--instance', inst.info.name]);
      return (JSON.parse(status.stdout) as { requests: unknown[] }).requests.length === 0;
    }, 'no request left in flight', 15_000);

    expect((await inst.stop()).exitCode).toBe(0);
    expect(inst.survivors()).toEqual([]);
  }, 90_000);
});
