// The HTTP front end to end: big bodies both ways, header rewriting, Upgrade tunnels, apps that
// die during a request, many concurrent keep-alive requests, and HEAD.

import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { Client, Pool, request } from 'undici';
import { fixture, runFerry, startDaemon, stopCleanly, type TestInstance, waitFor } from '../helpers/ferry.js';

let instance: TestInstance | undefined;

afterEach(() => {
  instance?.forceCleanup();
  instance = undefined;
});

const FIVE_MB = 5 * 1024 * 1024;

function sha256(data: Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

/** The bytes pid-app's /big sends: i % 251 for byte i of each 64 KiB block. */
function bigPattern(bytes: number): Buffer {
  const block = Buffer.alloc(64 * 1024);
  for (let i = 0; i < block.length; i++) block[i] = i % 251;
  const out = Buffer.alloc(bytes);
  for (let offset = 0; offset < bytes; offset += block.length) block.copy(out, offset, 0, Math.min(block.length, bytes - offset));
  return out;
}

async function getText(url: string): Promise<{ status: number; body: string }> {
  const res = await request(url);
  return { status: res.statusCode, body: await res.body.text() };
}

/** Waits until GET / answers 200 'hello' again (a dead app process has been replaced). */
async function waitForHello(inst: TestInstance): Promise<void> {
  await waitFor(async () => {
    const res = await getText(`${inst.url}/`);
    return res.status === 200 && res.body === 'hello';
  }, 'GET / to answer 200 hello');
}

/** Accumulates what a raw socket receives and lets a test wait until it holds what it expects. */
function socketReader(socket: net.Socket): { until(done: (received: string) => boolean, what: string): Promise<string> } {
  let received = '';
  socket.on('data', (data: Buffer) => {
    received += data.toString('latin1');
  });
  return { until: (done, what) => waitFor(() => (done(received) ? received : undefined), what, 10_000, 10) };
}

describe('the HTTP proxy', () => {
  it('streams a 5 MB request body to the app and its echo back unchanged', async () => {
    instance = await startDaemon(fixture('pid-app'));
    const sent = crypto.randomBytes(FIVE_MB);

    // Sent as a stream (chunked upload) so neither side can buffer it in one piece.
    const res = await request(`${instance.url}/echo`, {
      method: 'POST',
      body: Readable.from((function* () {
        for (let offset = 0; offset < sent.length; offset += 256 * 1024) yield sent.subarray(offset, offset + 256 * 1024);
      })()),
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(res.statusCode).toBe(200);
    const received = Buffer.from(await res.body.arrayBuffer());

    expect(received.length).toBe(sent.length);
    expect(sha256(received)).toBe(sha256(sent));
    await stopCleanly(instance);
  });

  it('streams a 5 MB response from the app intact and chunked', async () => {
    instance = await startDaemon(fixture('pid-app'));

    const res = await request(`${instance.url}/big?bytes=${FIVE_MB}`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-length']).toBeUndefined();
    expect(res.headers['transfer-encoding']).toBe('chunked');
    const received = Buffer.from(await res.body.arrayBuffer());

    expect(received.length).toBe(FIVE_MB);
    expect(sha256(received)).toBe(sha256(bigPattern(FIVE_MB)));
    await stopCleanly(instance);
  });

  it('adds X-Forwarded-* and X-Request-Id for the app and keeps hop-by-hop headers on their own hop', async () => {
    instance = await startDaemon(fixture('pid-app'));
    const host = `127.0.0.1:${instance.port}`;

    // node:http, not undici: undici does not send the tokens of a custom Connection header.
    const { status, headers, body } = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: instance!.port,
          path: '/headers',
          agent: false,
          headers: { Host: host, 'X-Forwarded-For': '10.0.0.1', Connection: 'keep-alive, X-Drop-Me', 'X-Drop-Me': '1' },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => {
            req.destroy(); // no agent to return the kept-alive socket to: close it
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    });

    // What the app received:
    expect(status).toBe(200);
    const seen = (JSON.parse(body) as { headers: Record<string, string | undefined> }).headers;
    // On TCP a client's X-Forwarded-For is nobody's word: the app gets the peer's address alone.
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen['x-forwarded-proto']).toBe('http');
    expect(seen['x-forwarded-host']).toBe(host);
    expect(seen['x-request-id']).toMatch(/^[\w.:-]+$/);
    expect(seen['x-drop-me']).toBeUndefined();

    // What the client received:
    expect(headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(headers['x-secret-hop']).toBeUndefined();
    await stopCleanly(instance);
  });

  it('tunnels an Upgrade request to the app and echoes bytes both ways', async () => {
    instance = await startDaemon(fixture('pid-app'));
    const socket = net.connect(instance.port, '127.0.0.1');
    try {
      const reader = socketReader(socket);
      socket.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');

      const handshake = await reader.until((text) => text.includes('\r\n\r\n'), 'the 101 response');
      expect(handshake).toMatch(/^HTTP\/1\.1 101 /);
      const afterHandshake = handshake.indexOf('\r\n\r\n') + 4;

      socket.write('ping-123');
      const echoed = await reader.until((text) => text.length >= afterHandshake + 'ping-123'.length, 'the echo through the tunnel');
      expect(echoed.slice(afterHandshake)).toBe('ping-123');
    } finally {
      socket.destroy();
    }
    await stopCleanly(instance);
  });

  it('answers 502 with a request id and no internals when the app dies before answering, then replaces the process', async () => {
    instance = await startDaemon(fixture('pid-app'));
    const firstPid = Number((await getText(`${instance.url}/pid`)).body);

    const res = await request(`${instance.url}/die-before-answer`);
    const body = await res.body.text();

    expect(res.statusCode).toBe(502);
    const id = /Request id: (\S+)/.exec(body)?.[1];
    expect(id).toBeDefined();
    expect(res.headers['x-request-id']).toBe(id);
    expect(body).not.toContain('FERRY_');
    expect(body).not.toMatch(/\bat /);

    await waitForHello(instance);
    const secondPid = Number((await getText(`${instance.url}/pid`)).body);
    expect(secondPid).not.toBe(firstPid);
    instance.remember([firstPid, secondPid]);
    await stopCleanly(instance);
  });

  it('breaks the response to the client when the app dies in the middle of it, then serves again', async () => {
    instance = await startDaemon(fixture('pid-app'));

    // Headers and 'partial' arrive, then the app exits: the message must not end normally.
    const res = await request(`${instance.url}/die-mid-request`);
    expect(res.statusCode).toBe(200);
    await expect(res.body.text()).rejects.toThrow();

    await waitForHello(instance);
    await stopCleanly(instance);
  });

  it('serves 500 requests 50 at a time over kept-alive connections from the single process the pool may hold', async () => {
    // --max-pool-size 1: without it, 50 in flight would (rightly) scale the app out.
    instance = await startDaemon(fixture('pid-app'), ['--max-pool-size', '1']);
    const pool = new Pool(instance.url, { connections: 50 });
    const statuses: number[] = [];
    const pids = new Set<string>();
    let connects = 0;
    pool.on('connect', () => connects++);
    try {
      let next = 0;
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          while (next < 500) {
            next++;
            const res = await pool.request({ path: '/pid', method: 'GET' });
            statuses.push(res.statusCode);
            pids.add(await res.body.text());
          }
        }),
      );
    } finally {
      await pool.close();
    }

    expect(statuses).toHaveLength(500);
    expect(statuses.every((s) => s === 200)).toBe(true);
    // Keep-alive: connections were reused, never more opened than the Pool's 50.
    expect(connects).toBeGreaterThan(0);
    expect(connects).toBeLessThanOrEqual(50);
    expect(pids.size).toBe(1);
    await stopCleanly(instance);
  });

  it('ends a pipelined request when the connection closes under it, instead of leaving it in flight', async () => {
    // Found with the accept fault: Node never closes a response still queued behind one that
    // closed the connection, so its request stayed "in flight" and a stop waited 30 s for it.
    // Here the first answer is a 413 (which closes the connection); the second request waits behind it.
    instance = await startDaemon(fixture('pid-app'), ['--max-body-size', '1k']);
    const socket = net.connect(instance.port, '127.0.0.1');
    try {
      const reader = socketReader(socket);
      socket.write(`POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n${'x'.repeat(2000)}GET /slow?ms=300 HTTP/1.1\r\nHost: x\r\n\r\n`);
      const answer = await reader.until((text) => text.includes('\r\n\r\n'), 'the answer to the first request');
      expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    } finally {
      socket.destroy();
    }

    const inst = instance;
    await waitFor(async () => {
      const status = await runFerry(inst.registryDir, ['status', '--show=requests', '--json', '--instance', inst.info.name]);
      return (JSON.parse(status.stdout) as { requests: unknown[] }).requests.length === 0;
    }, 'no request left in flight', 5_000);
    await stopCleanly(instance);
  });

  it('answers HEAD with 200 and no body, leaving the connection usable', async () => {
    instance = await startDaemon(fixture('pid-app'));
    const client = new Client(instance.url);
    try {
      const head = await client.request({ path: '/', method: 'HEAD' });
      expect(head.statusCode).toBe(200);
      expect(await head.body.text()).toBe('');

      // A body wrongly sent after the HEAD response would garble the next response on this connection.
      const get = await client.request({ path: '/', method: 'GET' });
      expect(get.statusCode).toBe(200);
      expect(await get.body.text()).toBe('hello');
    } finally {
      await client.close();
    }
    await stopCleanly(instance);
  });
});

describe('static files', () => {
  it("serves files under the app's public/ itself, with conditional GET and ranges, and leaves the rest to the app", async () => {
    instance = await startDaemon(fixture('pid-app'));
    const file = await request(`${instance.url}/hello.txt`);
    expect(file.statusCode).toBe(200);
    expect(await file.body.text()).toBe('static hello from public/\n');
    const etag = file.headers.etag as string;
    expect(etag).toBeTruthy();

    const again = await request(`${instance.url}/hello.txt`, { headers: { 'if-none-match': etag } });
    expect(again.statusCode).toBe(304);
    await again.body.text();
    const range = await request(`${instance.url}/hello.txt`, { headers: { range: 'bytes=0-5' } });
    expect(range.statusCode).toBe(206);
    expect(await range.body.text()).toBe('static');
    const css = await request(`${instance.url}/css/site.css`);
    expect(css.headers['content-type']).toContain('text/css');
    await css.body.text();

    // Not files: the app answers (dotfiles, directories, escapes, unknown paths, other methods).
    for (const p of ['/.env', '/css', '/css/', '/../app.js', '/%2e%2e/app.js', '/nope.txt']) {
      const res = await request(`${instance.url}${p}`);
      expect([p, await res.body.text()]).toEqual([p, 'hello']);
    }
    // The app saw the requests it answered, and none of those Ferry answered from public/.
    const seen = (await (await request(`${instance.url}/seen`)).body.json()) as string[];
    expect(seen).toEqual(expect.arrayContaining(['/.env', '/css', '/nope.txt']));
    expect(seen.filter((p) => p === '/hello.txt' || p === '/css/site.css')).toEqual([]);
    const post = await request(`${instance.url}/hello.txt`, { method: 'POST', body: 'x' });
    expect(await post.body.text()).toBe('hello');
    await stopCleanly(instance);
  });
});
