// The limits on what clients send to the public front, end to end on raw sockets: headers too
// large (431), too slow (408, slowloris), bodies too large (413, announced or streamed), and
// malformed requests (400); each answer carries a request id, and the app never sees what the
// front refused.

import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { fixture, startDaemon, stopCleanly, type TestInstance } from '../helpers/ferry.js';
import { chunkedUploadUntilAnswered, expectRefusal, parseRawResponse, rawExchange } from '../helpers/raw-http.js';

let instance: TestInstance | undefined;

afterEach(() => {
  instance?.forceCleanup();
  instance = undefined;
});

/** How many requests count-app has seen. */
async function appCount(inst: TestInstance): Promise<number> {
  const res = await request(`${inst.url}/count`);
  return Number(await res.body.text());
}

const LIMITS = ['--max-header-size', '8192', '--client-header-timeout', '2', '--client-body-timeout', '4', '--max-body-size', '1m', '--max-pool-size', '1'];

describe('limits on what clients send', () => {
  it('answers 431 with a request id to headers over --max-header-size, and serves headers under it', async () => {
    instance = await startDaemon(fixture('count-app'), LIMITS);
    const before = await appCount(instance);

    const big = await rawExchange(instance.port, (s) => s.write(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(10_000)}\r\n\r\n`));
    expectRefusal(parseRawResponse(big.received), 431);
    expect(big.timedOut).toBe(false);

    // 6000 bytes would be refused by a 4 KiB limit and accepted by 8 KiB: the flag, not a default, decides.
    const fits = await request(`${instance.url}/`, { headers: { 'x-big': 'a'.repeat(6000) } });
    expect([fits.statusCode, await fits.body.text()]).toEqual([200, 'hello']);
    expect(await appCount(instance)).toBe(before + 1);
    await stopCleanly(instance);
  });

  it('closes a slowloris connection with 408 once --client-header-timeout has passed', async () => {
    instance = await startDaemon(fixture('count-app'), LIMITS);

    // One more header line every 300 ms: never idle, never done.
    const slow = await rawExchange(instance.port, (s) => {
      s.write('GET / HTTP/1.1\r\nHost: x\r\n');
      const drip = setInterval(() => (s.writable ? s.write('X-Drip: 1\r\n') : clearInterval(drip)), 300);
      s.once('close', () => clearInterval(drip));
    });

    expect(slow.timedOut).toBe(false);
    // 2 s timeout, checked every second, plus slack for a loaded machine.
    expect(slow.elapsedMs).toBeGreaterThanOrEqual(1900);
    expect(slow.elapsedMs).toBeLessThan(5000);
    expectRefusal(parseRawResponse(slow.received), 408);
    await stopCleanly(instance);
  });

  it('closes a connection whose body does not arrive within --client-body-timeout with 408', async () => {
    instance = await startDaemon(fixture('count-app'), LIMITS);

    // /consume answers only once the whole body is in; 3 of the 100 bytes ever come.
    const stalled = await rawExchange(instance.port, (s) => s.write('POST /consume HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc'));

    expect(stalled.timedOut).toBe(false);
    expect(stalled.elapsedMs).toBeGreaterThanOrEqual(3900);
    expect(stalled.elapsedMs).toBeLessThan(7000);
    expectRefusal(parseRawResponse(stalled.received), 408);
    await stopCleanly(instance);
  });

  it('answers 413 to a Content-Length over --max-body-size before the app sees the request', async () => {
    instance = await startDaemon(fixture('count-app'), LIMITS);
    const before = await appCount(instance);

    const announced = await rawExchange(instance.port, (s) => s.write('POST /consume HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n' + 'x'.repeat(1000)));
    const response = parseRawResponse(announced.received);
    expectRefusal(response, 413);
    expect(response?.body).toContain('larger than the 1048576 bytes this server accepts');

    // With Expect: 100-continue the client is told before it sends a byte of the body.
    const expecting = await rawExchange(instance.port, (s) => s.write('POST /consume HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\nExpect: 100-continue\r\n\r\n'));
    expect(expecting.received).not.toContain('100 Continue');
    expectRefusal(parseRawResponse(expecting.received), 413);

    // Just under the limit goes through.
    const fits = await request(`${instance.url}/consume`, { method: 'POST', body: Buffer.alloc(1024 * 1024) });
    expect([fits.statusCode, await fits.body.text()]).toEqual([200, String(1024 * 1024)]);
    expect(await appCount(instance)).toBe(before + 1);
    await stopCleanly(instance);
  });

  it('cuts a chunked upload at --max-body-size and answers 413, then serves the next request', async () => {
    instance = await startDaemon(fixture('count-app'), LIMITS);

    // 64 KiB chunks, 2 MiB in all, each sent once the previous one is on its way; stops at the answer.
    const upload = await chunkedUploadUntilAnswered(instance.port, '/consume', 32);

    expectRefusal(parseRawResponse(upload.received), 413);
    const after = await request(`${instance.url}/`);
    expect([after.statusCode, await after.body.text()]).toEqual([200, 'hello']);
    await stopCleanly(instance);
  });

  it('answers 400 with a request id to garbage, broken chunked encoding and a request target that is no URL', async () => {
    instance = await startDaemon(fixture('count-app'), LIMITS);

    const garbage = await rawExchange(instance.port, (s) => s.write('\x16\x03\x01 NOT HTTP AT ALL\r\n\r\n'));
    expectRefusal(parseRawResponse(garbage.received), 400);
    const badChunks = await rawExchange(instance.port, (s) => s.write('POST /consume HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n'));
    expectRefusal(parseRawResponse(badChunks.received), 400);
    const badRequestLine = await rawExchange(instance.port, (s) => s.write('GET /a b c HTTP/9.9\r\n\r\n'));
    expectRefusal(parseRawResponse(badRequestLine.received), 400);
    // Node's parser lets this target through; an app that parses req.url would crash on it.
    const before = await appCount(instance);
    const badTarget = await rawExchange(instance.port, (s) => s.write('GET http://[::1 HTTP/1.1\r\nHost: x\r\n\r\n'));
    expectRefusal(parseRawResponse(badTarget.received), 400);
    expect(await appCount(instance)).toBe(before);

    const after = await request(`${instance.url}/`);
    expect([after.statusCode, await after.body.text()]).toEqual([200, 'hello']);
    await stopCleanly(instance);
  });
});
