// The stage proxy's static files (stages/static.ts) in process: the front harness, a real Pool over
// the FakeSpawner whose processes "listen" on an in-process node:http app (it answers what public/
// does not hold), and an app root with a public/ directory.

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FrontConnection } from '../../../../../src/core/front/connection.js';
import type { StageContext } from '../../../../../src/core/proxy/stages/context.js';
import { preloadStatic, publicDirsFor, staticOutcomes } from '../../../../../src/core/proxy/static-files.js';
import { connectClient, type Front } from '../../../../helpers/front-harness.js';
import { StageProxies, stopAppServer } from '../../../../helpers/stage-proxy.js';

const HELLO = 'static hello from public/\n';
const BIG_BYTES = 16 * 1024 * 1024;

let dir: string;
let appRoot: string;
let publicDir: string;
let appSocket: string;
let app: http.Server;
let bigHash: string;
/** Paths the app was asked for. */
const seen: string[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-static-stage-'));
  appRoot = path.join(dir, 'app');
  publicDir = path.join(appRoot, 'public');
  fs.mkdirSync(path.join(publicDir, 'css'), { recursive: true });
  fs.writeFileSync(path.join(publicDir, 'hello.txt'), HELLO);
  fs.writeFileSync(path.join(publicDir, 'css', 'site.css'), 'body { color: black }\n');
  fs.writeFileSync(path.join(publicDir, 'empty.txt'), '');
  const big = Buffer.alloc(BIG_BYTES);
  for (let i = 0; i < BIG_BYTES; i += 4) big.writeUInt32LE(i, i);
  fs.writeFileSync(path.join(publicDir, 'big.bin'), big);
  bigHash = crypto.createHash('sha256').update(big).digest('hex');
  fs.writeFileSync(path.join(dir, 'secret'), 'TOP-SECRET\n', { mode: 0o600 });
  fs.symlinkSync(path.join(dir, 'secret'), path.join(publicDir, 'shadow'));
  fs.symlinkSync('hello.txt', path.join(publicDir, 'alias.txt'));
  appSocket = path.join(dir, 'app.sock');
  app = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    const body = `app ${req.method} ${req.url}`;
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
    res.end(body);
  });
  await new Promise<void>((resolve) => app.listen(appSocket, resolve));
  await preloadStatic();
});

afterAll(async () => {
  await stopAppServer(app, dir);
});

const proxies = new StageProxies(() => appSocket);
const logLines: string[] = [];

afterEach(async () => {
  await proxies.stopAll();
  seen.length = 0;
  logLines.length = 0;
});

async function proxy(opts: { unix?: boolean } = {}): Promise<{ front: Front; ctx: StageContext }> {
  return proxies.start({
    app: { root: appRoot },
    config: { maxPoolSize: 2 },
    context: (pool, log) => ({ statics: { dirs: publicDirsFor(pool.groups), outcome: staticOutcomes(log) } }),
    front: { unix: opts.unix },
    logLines,
  });
}

interface Answer {
  status: number;
  /** The header lines as sent, in order, without the ones that differ per answer or connection. */
  lines: string[];
  headers: Record<string, string>;
  body: string;
}

const PER_ANSWER = /^(date|connection|keep-alive|x-request-id):/i;

/** One request on its own connection (closed after the answer), read to the end. */
async function ask(to: number | string, request: string, method = 'GET'): Promise<Answer> {
  const client = await connectClient(to);
  client.write(request.replace(/\r\n\r\n$/, '\r\nConnection: close\r\n\r\n'));
  await client.waitClosed();
  const text = client.received;
  const end = text.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  const body = text.slice(end + 4);
  if (method !== 'HEAD' && headers['content-length'] !== undefined) expect(body.length).toBe(Number(headers['content-length']));
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine as string)?.[1]), lines: lines.filter((l) => !PER_ANSWER.test(l)), headers, body: body.replace(/Request id: .*\n/, '') };
}

const get = (target: string, ...fields: string[]): string => `GET ${target} HTTP/1.1\r\nHost: x\r\n${fields.map((f) => `${f}\r\n`).join('')}\r\n`;
const head = (target: string, ...fields: string[]): string => `HEAD ${target} HTTP/1.1\r\nHost: x\r\n${fields.map((f) => `${f}\r\n`).join('')}\r\n`;

describe('stage proxy: static files', () => {
  it('serves a file with 200, its type, length, validators and Accept-Ranges; the app never sees it; counted for the app', async () => {
    const { front, ctx } = await proxy();
    const file = await ask(front.to, get('/hello.txt?v=3'));
    expect(file.status).toBe(200);
    expect(file.body).toBe(HELLO);
    const mtime = fs.statSync(path.join(publicDir, 'hello.txt')).mtimeMs;
    expect(file.lines).toEqual([
      'Cache-Control: public, max-age=0',
      `Last-Modified: ${new Date(Math.floor(mtime / 1000) * 1000).toUTCString()}`,
      `ETag: W/"${HELLO.length.toString(16)}-${Math.floor(mtime).toString(16)}"`,
      'Accept-Ranges: bytes',
      'Content-Type: text/plain; charset=utf-8',
      `Content-Length: ${HELLO.length}`,
    ]);
    expect((await ask(front.to, get('/css/site.css'))).headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await ask(front.to, get('/alias.txt'))).body).toBe(HELLO);
    expect((await ask(front.to, get('/empty.txt'))).headers['content-length']).toBe('0');
    expect(seen).toEqual([]);
    expect(ctx.tracker.requestsTotal).toBe(4);
    expect(ctx.pool.groups[0]!.stats.responses.byClass[1]).toBe(4);
    expect(ctx.tracker.inFlight).toBe(0);
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const { front } = await proxy();
    const answer = await ask(front.to, head('/hello.txt'), 'HEAD');
    expect([answer.status, answer.headers['content-length'], answer.body]).toEqual([200, String(HELLO.length), '']);
    expect(answer.lines).toEqual((await ask(front.to, get('/hello.txt'))).lines);
  });

  it('answers a matching If-None-Match or If-Modified-Since with 304 and the validators only, a failed If-Match with 412', async () => {
    const { front } = await proxy();
    const { headers, lines } = await ask(front.to, get('/hello.txt'));
    const notModified = await ask(front.to, get('/hello.txt', `If-None-Match: ${headers.etag}`));
    expect([notModified.status, notModified.body, notModified.headers.etag, notModified.headers['content-length']]).toEqual([304, '', headers.etag, undefined]);
    // The validators alone (Cache-Control, Last-Modified, ETag), in the 200's order.
    expect(notModified.lines).toEqual(lines.slice(0, 3));
    expect((await ask(front.to, get('/hello.txt', `If-Modified-Since: ${headers['last-modified']}`))).status).toBe(304);
    expect((await ask(front.to, get('/hello.txt', 'If-None-Match: W/"other"'))).status).toBe(200);
    const failed = await ask(front.to, get('/hello.txt', 'If-Match: "not-this-one"'));
    expect([failed.status, failed.body]).toEqual([412, '412 Precondition Failed\n\nA precondition of the request (If-Match, If-Unmodified-Since) does not hold.\n']);
    expect(failed.lines).toEqual(['Content-Type: text/plain; charset=utf-8', `Content-Length: ${failed.headers['content-length']}`, 'Cache-Control: no-store']);
  });

  it('answers one byte range with 206 and Content-Range, a stale If-Range with the whole file', async () => {
    const { front } = await proxy();
    const range = await ask(front.to, get('/hello.txt', 'Range: bytes=7-11'));
    expect([range.status, range.body, range.headers['content-range'], range.headers['content-length']]).toEqual([206, 'hello', `bytes 7-11/${HELLO.length}`, '5']);
    expect((await ask(front.to, get('/hello.txt', 'Range: bytes=-8'))).body).toBe('public/\n');
    expect((await ask(front.to, get('/hello.txt', 'Range: bytes=0-5', 'If-Range: W/"stale"'))).status).toBe(200);
    expect((await ask(front.to, get('/hello.txt', 'Range: bytes=0-1,3-4'))).status).toBe(200);
  });

  it('answers an unsatisfiable range with 416 and Content-Range (HEAD too), and serves the request pipelined behind it', async () => {
    const { front } = await proxy();
    const refused = await ask(front.to, get('/hello.txt', 'Range: bytes=5-2'));
    expect([refused.status, refused.headers['content-range']]).toEqual([416, `bytes */${HELLO.length}`]);
    expect(refused.lines).toEqual([`Content-Range: bytes */${HELLO.length}`, 'Content-Type: text/plain; charset=utf-8', `Content-Length: ${refused.headers['content-length']}`, 'Cache-Control: no-store']);
    expect((await ask(front.to, head('/hello.txt', `Range: bytes=${HELLO.length}-`), 'HEAD')).status).toBe(416);
    const client = await connectClient(front.to);
    client.write(get('/hello.txt', 'Range: bytes=-0') + get('/hello.txt'));
    const answers = await client.answers(2);
    expect(answers.map((a) => a.status)).toEqual([416, 200]);
    expect(answers[1]!.body).toBe(HELLO);
    expect(client.closed).toBe(false);
  });

  it('refuses (403) a symlink whose real path leaves public/, logs why, and leaves dotfiles, directories, missing files and POST to the app', async () => {
    const { front, ctx } = await proxy();
    for (const request of [get('/shadow'), head('/shadow')]) {
      const refused = await ask(front.to, request, request.startsWith('HEAD') ? 'HEAD' : 'GET');
      expect(refused.status).toBe(403);
      expect(refused.body).not.toContain('TOP-SECRET');
    }
    const warning = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'static file refused (403)');
    expect(warning).toMatchObject({ app: 'hello', file: 'shadow', reason: expect.stringContaining('outside public/') });
    for (const target of ['/.env', '/css', '/css/', '/nope.txt', '/%2e%2e/secret']) expect((await ask(front.to, get(target))).body).toBe(`app GET ${target}`);
    expect((await ask(front.to, 'POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx')).body).toBe('app POST /hello.txt');
    expect(seen).toEqual(['/.env', '/css', '/css/', '/nope.txt', '/%2e%2e/secret', '/hello.txt']);
    expect(ctx.pool.groups[0]!.stats.responses.byClass[3]).toBe(2);
  });

  it('sends a large file to a slow reader as it reads: never much more than the socket holds is read ahead, and all of it arrives', async () => {
    const { front } = await proxy({ unix: true });
    const client = net.connect(front.to as string);
    await new Promise((resolve) => client.once('connect', resolve));
    client.pause();
    client.write(get('/big.bin', 'Connection: close'));
    const connection = (): FrontConnection => [...front.front.connections][0]!;
    await vi.waitFor(() => expect(connection().socket.bytesWritten).toBeGreaterThan(0));
    // Let the core send what it can to a client that reads nothing.
    let written = -1;
    while (written !== connection().socket.bytesWritten) {
      written = connection().socket.bytesWritten;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // Written to the socket (its buffer included): what the kernel took plus a read or two, not the file.
    expect(written).toBeLessThan(4 * 1024 * 1024);
    const parts: Buffer[] = [];
    client.on('data', (chunk: Buffer) => parts.push(chunk));
    client.resume();
    await new Promise((resolve) => client.once('end', resolve));
    client.destroy();
    const text = Buffer.concat(parts);
    const bodyAt = text.indexOf('\r\n\r\n') + 4;
    expect(text.subarray(0, bodyAt).toString('latin1')).toContain(`Content-Length: ${BIG_BYTES}`);
    expect(crypto.createHash('sha256').update(text.subarray(bodyAt)).digest('hex')).toBe(bigHash);
  });

  it('closes the file when the client leaves mid-way', async () => {
    const { front } = await proxy({ unix: true });
    const bigPath = fs.realpathSync(path.join(publicDir, 'big.bin'));
    const openOnBig = (): number => fs.readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return fs.readlinkSync(`/proc/self/fd/${fd}`) === bigPath;
      } catch {
        return false;
      }
    }).length;
    const client = net.connect(front.to as string);
    await new Promise((resolve) => client.once('connect', resolve));
    client.pause();
    client.write(get('/big.bin'));
    await vi.waitFor(() => expect(openOnBig()).toBe(1));
    client.destroy();
    await vi.waitFor(() => expect(openOnBig()).toBe(0));
    await vi.waitFor(() => expect(front.front.connections.size).toBe(0));
  });
});
