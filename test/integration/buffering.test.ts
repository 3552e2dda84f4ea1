// Slow clients never hold an app process: upload buffering (a body is read whole before a process
// is checked out), real-time response buffering (the app's answer is taken as fast as it writes
// it and trickled out to a slow client), streaming that stays real-time, and the buffer files on
// disk gone in every path. Real CLI, core and app processes; raw sockets as the slow clients.

import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { RequestSnapshot, RequestsResponse } from '../../src/lib/admin-api-contract.js';
import { INSTANCE_FILES } from '../../src/lib/instance-registry.js';
import { fixture, runFerry, startDaemon, stopCleanly, type TestInstance, waitFor } from '../helpers/ferry.js';
import { eventDelays } from '../helpers/sse.js';
import { chunkedUploadUntilAnswered, parseRawResponse } from '../helpers/raw-http.js';

let instance: TestInstance | undefined;
const sockets: net.Socket[] = [];

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.destroy();
  instance?.forceCleanup();
  instance = undefined;
});

/** One process that takes one request at a time: any request it is busy with blocks every other. */
const ONE_SLOT = ['--concurrency', '1', '--max-pool-size', '1', '--min-instances', '1'];

function bufferFiles(inst: TestInstance): string[] {
  return fs.readdirSync(path.join(inst.info.dir, INSTANCE_FILES.buffersDir));
}

async function requestsInFlight(inst: TestInstance): Promise<RequestSnapshot[]> {
  const run = await runFerry(inst.registryDir, ['status', '--json', '--show=requests']);
  expect(run.exitCode, run.stderr).toBe(0);
  return (JSON.parse(run.stdout) as RequestsResponse).requests;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await request(url);
  expect(res.statusCode).toBe(200);
  return (await res.body.json()) as T;
}

function connect(inst: TestInstance): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(inst.port, '127.0.0.1', () => resolve(socket));
    sockets.push(socket);
    socket.once('error', reject);
  });
}

/** Writes `body` in slices of `sliceBytes` every `everyMs`; resolves when all of it is written. */
function dribble(socket: net.Socket, body: Buffer, sliceBytes: number, everyMs: number): Promise<void> {
  return new Promise((resolve) => {
    let offset = 0;
    const timer = setInterval(() => {
      if (socket.destroyed) return void clearInterval(timer);
      socket.write(body.subarray(offset, offset + sliceBytes));
      offset += sliceBytes;
      if (offset >= body.length) {
        clearInterval(timer);
        resolve();
      }
    }, everyMs);
  });
}

/** Reads a whole HTTP response off `socket` no faster than `bytesPerSecond`. */
function readSlowly(socket: net.Socket, bytesPerSecond: number, onProgress: (received: number) => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      onProgress(received);
      socket.pause();
      setTimeout(() => socket.resume(), (chunk.length / bytesPerSecond) * 1000);
    });
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}

function splitResponse(raw: Buffer): { head: string; body: Buffer } {
  const end = raw.indexOf('\r\n\r\n');
  return { head: raw.subarray(0, end).toString('latin1'), body: raw.subarray(end + 4) };
}

const sha256 = (data: Buffer): string => crypto.createHash('sha256').update(data).digest('hex');

describe('request and response buffering', () => {
  it(
    'serves other requests on a concurrency-1 process while a client uploads 2 MB at 50 KB/s, then hands the app the whole body',
    async () => {
      // Given one process that takes one request at a time, and body timeouts that allow a 41 s upload,
      instance = await startDaemon(fixture('buffering-app'), [...ONE_SLOT, '--client-body-timeout', '120', '--client-header-timeout', '30']);
      const body = crypto.randomBytes(2 * 1024 * 1024);
      const uploader = await connect(instance);
      const answer = new Promise<Buffer>((resolve) => {
        const chunks: Buffer[] = [];
        uploader.on('data', (chunk: Buffer) => chunks.push(chunk));
        uploader.once('end', () => resolve(Buffer.concat(chunks)));
      });
      uploader.write(`POST /consume HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
      const uploaded = dribble(uploader, body, 5120, 100); // 50 KiB/s
      const startedMs = Date.now();

      // when the upload is under way and past the memory threshold,
      await waitFor(() => bufferFiles(instance!).length === 1, 'the upload to spill to a file', 10_000);
      const [receiving] = await requestsInFlight(instance);
      expect(receiving).toMatchObject({ method: 'POST', path: '/consume', state: 'receiving', pid: null });
      expect(receiving!.bufferedDiskBytes).toBeGreaterThan(64 * 1024);

      // then other clients are served by that one process at once, and it has not seen the upload yet;
      const pids = new Set<number>();
      for (let i = 0; i < 10; i++) {
        const sentMs = Date.now();
        const ping = await getJson<{ pid: number }>(`${instance.url}/ping`);
        expect(Date.now() - sentMs).toBeLessThan(2000);
        pids.add(ping.pid);
      }
      expect(pids.size).toBe(1);
      expect(await (await request(`${instance.url}/count`)).body.text()).toBe('0');
      expect(Date.now() - startedMs).toBeLessThan(30_000); // all of it well inside the upload

      // and once the last byte is in, the app gets the whole body, intact, and the file is gone.
      await uploaded;
      const { head, body: reply } = splitResponse(await answer);
      expect(head).toMatch(/^HTTP\/1\.1 200/);
      expect(JSON.parse(reply.toString())).toEqual({ bytes: body.length, sha256: sha256(body) });
      expect(Date.now() - startedMs).toBeGreaterThan(35_000);
      expect(bufferFiles(instance)).toEqual([]);
      await stopCleanly(instance);
    },
    120_000,
  );

  it(
    'frees the process within 1 s of the app writing a 20 MB answer that a client reads at 200 KB/s, and the client gets every byte',
    async () => {
      // Given one process that takes one request at a time, and a client that reads at 200 KiB/s,
      instance = await startDaemon(fixture('buffering-app'), ONE_SLOT);
      const reader = await connect(instance);
      let received = 0;
      let headersSeen: () => void = () => undefined;
      const headersArrived = new Promise<void>((resolve) => (headersSeen = resolve));
      const download = readSlowly(reader, 200 * 1024, (n) => {
        received = n;
        headersSeen();
      });
      reader.write('GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      await headersArrived;

      // when another request waits for that process,
      const ping = await getJson<{ bigFinishedAt: number | null }>(`${instance.url}/ping`);
      const servedMs = Date.now();

      // then it is served within 1 s of the app's last write, while the client has most still to read,
      expect(ping.bigFinishedAt).not.toBeNull();
      expect(servedMs - ping.bigFinishedAt!).toBeLessThan(1000);
      expect(received).toBeLessThan(10 * 1024 * 1024);
      // and status shows the rest held for the client, mostly on disk, with the process free.
      const [draining] = await requestsInFlight(instance);
      expect(draining).toMatchObject({ path: '/big', state: 'draining' });
      expect(draining!.bufferedMemoryBytes + draining!.bufferedDiskBytes).toBeGreaterThan(5 * 1024 * 1024);
      expect(draining!.bufferedDiskBytes).toBeGreaterThan(0);
      expect(bufferFiles(instance)).toHaveLength(1);

      // Finally the slow client gets all 20 MB intact, and the spill file is gone.
      const { head, body } = splitResponse(await download);
      expect(head).toMatch(/^HTTP\/1\.1 200/);
      expect(body.length).toBe(20 * 1024 * 1024);
      expect(sha256(body)).toBe(/x-body-sha256: ([0-9a-f]+)/i.exec(head)?.[1]);
      await waitFor(() => bufferFiles(instance!).length === 0, 'the spill file to be removed', 2000);
      expect(await requestsInFlight(instance)).toEqual([]);
      await stopCleanly(instance);
    },
    240_000,
  );

  it('streams a body to a Node app of unlimited concurrency as it comes, and buffers it with --buffer-uploads', async () => {
    /** Sends half a body, says how many uploads the app has seen by then, then sends the rest and reads the answer. */
    const halfUpload = async (inst: TestInstance): Promise<{ seenMidway: string; state: string | undefined; answer: string }> => {
      const socket = await connect(inst);
      const answer = new Promise<string>((resolve) => {
        const chunks: Buffer[] = [];
        socket.on('data', (chunk: Buffer) => chunks.push(chunk));
        socket.once('end', () => resolve(splitResponse(Buffer.concat(chunks)).body.toString()));
      });
      socket.write(`POST /consume HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\nConnection: close\r\n\r\n`);
      socket.write(Buffer.alloc(100_000, 'h'));
      // Streamed, the app sees the request at once; buffered, it must not see it at all yet.
      await waitFor(async () => (await requestsInFlight(inst)).length === 1, 'the upload in flight');
      const [midway] = await requestsInFlight(inst);
      const seenMidway = await (await request(`${inst.url}/count`)).body.text();
      socket.write(Buffer.alloc(100_000, 'h'));
      return { seenMidway, state: midway?.state, answer: await answer };
    };

    instance = await startDaemon(fixture('buffering-app'));
    const streamed = await halfUpload(instance);
    expect(streamed).toMatchObject({ seenMidway: '1', state: 'forwarding' });
    expect(JSON.parse(streamed.answer)).toMatchObject({ bytes: 200_000 });
    await stopCleanly(instance);

    instance = await startDaemon(fixture('buffering-app'), ['--buffer-uploads']);
    const buffered = await halfUpload(instance);
    expect(buffered).toMatchObject({ seenMidway: '0', state: 'receiving' });
    expect(JSON.parse(buffered.answer)).toMatchObject({ bytes: 200_000 });
    expect(bufferFiles(instance)).toEqual([]);
    await stopCleanly(instance);
  }, 90_000);

  it('does not count a slow client against --max-request-time once the app has answered', async () => {
    // Given a 2 s limit on requests, and a client that takes ~8 s to read an 8 MB answer,
    instance = await startDaemon(fixture('buffering-app'), [...ONE_SLOT, '--max-request-time', '2']);
    const before = await getJson<{ pid: number }>(`${instance.url}/ping`);
    const reader = await connect(instance);
    const download = readSlowly(reader, 1024 * 1024, () => undefined);
    const startedMs = Date.now();
    reader.write('GET /big?mb=8 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');

    // then the client gets all of it, intact, long after the limit,
    const { head, body } = splitResponse(await download);
    expect(Date.now() - startedMs).toBeGreaterThan(4000);
    expect(body.length).toBe(8 * 1024 * 1024);
    expect(sha256(body)).toBe(/x-body-sha256: ([0-9a-f]+)/i.exec(head)?.[1]);
    // and the process that answered in time was not taken for stuck and killed.
    expect((await getJson<{ pid: number }>(`${instance.url}/ping`)).pid).toBe(before.pid);
    await stopCleanly(instance);
  }, 60_000);

  it('delivers each server-sent event within 50 ms of the app writing it', async () => {
    instance = await startDaemon(fixture('buffering-app'));
    // A first stream warms the code paths up (a cold start is not what this measures).
    await (await request(`${instance.url}/events`)).body.text();
    const { contentType, delays } = await eventDelays(`${instance.url}/events`);
    expect(contentType).toBe('text/event-stream');
    expect(delays).toHaveLength(10);
    expect(Math.max(...delays), `delays in ms: ${delays.join(' ')}`).toBeLessThan(50);
    await stopCleanly(instance);
  });

  it('answers 413 to a chunked body over --max-body-size before the app sees any of it', async () => {
    instance = await startDaemon(fixture('buffering-app'), [...ONE_SLOT, '--max-body-size', '1m']);
    // 2 MiB in 64 KiB chunks, no Content-Length: only counting the body as it comes can refuse it.
    const refused = await chunkedUploadUntilAnswered(instance.port, '/consume', 32);
    const response = parseRawResponse(refused.received);
    expect(response?.status).toBe(413);
    expect(response?.body).toContain('larger than the 1048576 bytes this server accepts');
    expect(await (await request(`${instance.url}/count`)).body.text()).toBe('0');
    // The refused upload's file was still being written: it goes once its stream has closed,
    // just after the answer (seen still there on a loaded machine).
    await waitFor(() => bufferFiles(instance!).length === 0, "the refused upload's file to be removed", 5_000);
    await stopCleanly(instance);
  });

  it('removes the temp file of a client that disconnects mid-upload, and of one that leaves mid-download', async () => {
    instance = await startDaemon(fixture('buffering-app'), ONE_SLOT);
    // An upload cut off after 512 KiB of 2 MiB: its file exists, then goes with the client.
    const uploader = await connect(instance);
    uploader.write(`POST /consume HTTP/1.1\r\nHost: x\r\nContent-Length: ${2 * 1024 * 1024}\r\n\r\n`);
    uploader.write(Buffer.alloc(512 * 1024, 'u'));
    await waitFor(() => bufferFiles(instance!).some((f) => f.endsWith('.request')), 'the upload to spill to a file');
    uploader.destroy();
    await waitFor(() => bufferFiles(instance!).length === 0, 'the upload file to be removed', 2000);
    expect(await (await request(`${instance.url}/count`)).body.text()).toBe('0');

    // A download the client stops reading, then leaves: its spill file goes too.
    const reader = await connect(instance);
    reader.write('GET /big?mb=8 HTTP/1.1\r\nHost: x\r\n\r\n');
    reader.pause();
    await waitFor(() => bufferFiles(instance!).some((f) => f.endsWith('.response')), 'the answer to spill to a file');
    reader.destroy();
    await waitFor(() => bufferFiles(instance!).length === 0, 'the spill file to be removed', 2000);
    await waitFor(async () => (await requestsInFlight(instance!)).length === 0, 'no request in flight');
    await stopCleanly(instance);
  });
});
