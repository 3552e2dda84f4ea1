// Static files from public/ as an attacker tries them: the core reads them as root, so a symlink
// the app's user planted must not publish a file outside public/ (a root-only file, an admin
// token), nor a file the app's user could not read itself; and the answers nginx gives for bad
// ranges and failed preconditions (416, 412) leave the connection serving the next request.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_FILES } from '../../src/lib/admin-api-contract.js';
import { copyFixture, startDaemon, stopCleanly, tempDir, type TestInstance } from '../helpers/ferry.js';
import { parseRawResponses, rawExchange } from '../helpers/raw-http.js';

const AS_ROOT = process.getuid?.() === 0;
const SECRET = 'TOP-SECRET-6f1d0c';
const HELLO = 'static hello from public/\n';

const instances: TestInstance[] = [];

afterEach(() => {
  for (const instance of instances.splice(0)) instance.forceCleanup();
});

/**
 * A copy of pid-app (which answers 'hello' to any path it does not know) in a scratch directory
 * that other users can pass through, beside a 0700 directory holding a 0600 secret.
 */
function scratchApp(): { root: string; app: string; publicDir: string; outside: string; secretFile: string } {
  const root = tempDir('ferry-static-');
  fs.chmodSync(root, 0o711);
  const app = copyFixture('pid-app', root);
  const outside = path.join(root, 'outside');
  fs.mkdirSync(outside, { mode: 0o700 });
  const secretFile = path.join(outside, 'secret');
  fs.writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
  return { root, app, publicDir: path.join(app, 'public'), outside, secretFile };
}

async function start(app: string, args: string[] = [], registry?: string, env?: Record<string, string>): Promise<TestInstance> {
  const instance = await startDaemon(app, args, registry, { env });
  instances.push(instance);
  return instance;
}

async function get(instance: TestInstance, urlPath: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: Headers; body: string }> {
  const res = await fetch(`${instance.url}${urlPath}`, { method, headers });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

/** The paths the app process was asked for (pid-app's /seen). */
async function pathsTheAppSaw(instance: TestInstance): Promise<string[]> {
  return (await (await fetch(`${instance.url}/seen`)).json()) as string[];
}

/** Pipelines `requests` on one connection (the last one closes it) and parses every answer. */
async function pipelined(instance: TestInstance, requests: { target: string; headers?: string[]; method?: string }[]): Promise<ReturnType<typeof parseRawResponses>> {
  const text = requests
    .map((r, i) => `${r.method ?? 'GET'} ${r.target} HTTP/1.1\r\nHost: x\r\n${(r.headers ?? []).map((h) => `${h}\r\n`).join('')}${i === requests.length - 1 ? 'Connection: close\r\n' : ''}\r\n`)
    .join('');
  const exchange = await rawExchange(instance.port, (s) => s.write(text));
  expect(exchange.timedOut).toBe(false);
  return parseRawResponses(
    exchange.received,
    requests.map((r) => r.method ?? 'GET'),
  );
}

describe('static files and symlinks', () => {
  it('refuses (403) a symlink in public/ whose real path leaves public/, whatever it points at, and still serves links that stay inside', async () => {
    const { app, publicDir, outside, secretFile } = scratchApp();
    const instance = await start(app);
    fs.symlinkSync(secretFile, path.join(publicDir, 'shadow')); // absolute
    fs.symlinkSync('../../outside/secret', path.join(publicDir, 'relative')); // relative, climbing out
    fs.symlinkSync(outside, path.join(publicDir, 'outdir')); // a directory outside
    fs.symlinkSync(path.join(instance.info.dir, ADMIN_FILES.fullToken), path.join(publicDir, 'token')); // the instance's own admin token
    fs.symlinkSync('/etc/shadow', path.join(publicDir, 'etc-shadow'));
    fs.symlinkSync('hello.txt', path.join(publicDir, 'alias.txt')); // stays inside: served
    fs.symlinkSync('css', path.join(publicDir, 'styles')); // a directory inside: served through
    const token = fs.readFileSync(path.join(instance.info.dir, ADMIN_FILES.fullToken), 'utf8').trim();

    for (const target of ['/shadow', '/relative', '/outdir/secret', '/outdir', '/token', '/etc-shadow']) {
      for (const method of ['GET', 'HEAD']) {
        const res = await get(instance, target, {}, method);
        expect([target, method, res.status]).toEqual([target, method, 403]);
        expect(res.body).not.toContain(SECRET);
        expect(res.body).not.toContain(token);
        expect(res.body).not.toContain('root:');
      }
    }
    expect(await get(instance, '/alias.txt')).toMatchObject({ status: 200, body: HELLO });
    const css = await get(instance, '/styles/site.css');
    expect(css.status).toBe(200);
    expect(css.body).toBe(fs.readFileSync(path.join(publicDir, 'css/site.css'), 'utf8'));
    // Ferry answered all of them itself: the app saw none.
    const seen = await pathsTheAppSaw(instance);
    expect(seen.filter((p) => p !== '/seen')).toEqual([]);
    expect(fs.readFileSync(secretFile, 'utf8')).toBe(`${SECRET}\n`);
    await stopCleanly(instance);
  });

  it.skipIf(!AS_ROOT)("does not serve (403) a file in public/ that the app's user could not read itself (--user nobody)", async () => {
    const { root, app, publicDir } = scratchApp();
    const registry = path.join(root, 'registry');
    fs.mkdirSync(registry, { mode: 0o711 });
    fs.chmodSync(registry, 0o711);
    execFileSync('chown', ['-R', 'nobody:nogroup', app]);
    const write = (name: string, mode: number, owner: string): void => {
      fs.writeFileSync(path.join(publicDir, name), `${name} body\n`, { mode });
      fs.chmodSync(path.join(publicDir, name), mode);
      execFileSync('chown', [owner, path.join(publicDir, name)]);
    };
    write('root-only.txt', 0o600, 'root:root'); // nobody may not read it
    write('owner-cannot.txt', 0o044, 'nobody:nogroup'); // the owner's bits count for the owner, not the others'
    write('mine.txt', 0o600, 'nobody:nogroup'); // nobody's own: served
    write('group.txt', 0o640, 'root:nogroup'); // through nobody's group: served
    fs.mkdirSync(path.join(publicDir, 'locked'), { mode: 0o700 }); // root's, closed
    fs.writeFileSync(path.join(publicDir, 'locked', 'open.txt'), 'inside a closed directory\n', { mode: 0o644 });
    fs.symlinkSync('root-only.txt', path.join(publicDir, 'link-to-root-only.txt'));

    const instance = await start(app, ['--user', 'nobody'], registry, { FERRY_USER: '' });
    for (const target of ['/root-only.txt', '/owner-cannot.txt', '/locked/open.txt', '/link-to-root-only.txt']) {
      const res = await get(instance, target);
      expect([target, res.status]).toEqual([target, 403]);
      expect(res.body).not.toContain('body');
      expect(res.body).not.toContain('inside a closed directory');
    }
    expect(await get(instance, '/mine.txt')).toMatchObject({ status: 200, body: 'mine.txt body\n' });
    expect(await get(instance, '/group.txt')).toMatchObject({ status: 200, body: 'group.txt body\n' });
    expect(await get(instance, '/hello.txt')).toMatchObject({ status: 200, body: HELLO });
    expect((await pathsTheAppSaw(instance)).filter((p) => p !== '/seen')).toEqual([]);
    await stopCleanly(instance);
  });
});

describe('static files: HTTP semantics', () => {
  it('serves a normal file with ETag, Last-Modified, Range (206), HEAD and conditional GET (304), and the app never sees the requests', async () => {
    const { app } = scratchApp();
    const instance = await start(app);
    const full = await get(instance, '/hello.txt');
    expect(full.status).toBe(200);
    expect(full.body).toBe(HELLO);
    expect(full.headers.get('content-length')).toBe(String(HELLO.length));
    expect(full.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(full.headers.get('accept-ranges')).toBe('bytes');
    const etag = full.headers.get('etag') as string;
    const lastModified = full.headers.get('last-modified') as string;
    expect(etag).toMatch(/^W\/".+"$/);
    expect(new Date(lastModified).getTime()).toBe(Math.floor(fs.statSync(path.join(app, 'public/hello.txt')).mtimeMs / 1000) * 1000);

    const range = await get(instance, '/hello.txt', { range: 'bytes=7-11' });
    expect([range.status, range.body, range.headers.get('content-range')]).toEqual([206, 'hello', `bytes 7-11/${HELLO.length}`]);
    const suffix = await get(instance, '/hello.txt', { range: 'bytes=-8' });
    expect([suffix.status, suffix.body]).toEqual([206, 'public/\n']);
    const open = await get(instance, '/hello.txt', { range: 'bytes=13-' });
    expect([open.status, open.body]).toEqual([206, 'from public/\n']);
    // A stale If-Range: the whole file.
    const staleIfRange = await get(instance, '/hello.txt', { range: 'bytes=0-5', 'if-range': 'W/"stale"' });
    expect([staleIfRange.status, staleIfRange.body]).toEqual([200, HELLO]);
    const freshIfRange = await get(instance, '/hello.txt', { range: 'bytes=0-5', 'if-range': etag });
    expect([freshIfRange.status, freshIfRange.body]).toEqual([206, 'static']);

    const head = await get(instance, '/hello.txt', {}, 'HEAD');
    expect([head.status, head.body, head.headers.get('content-length'), head.headers.get('etag')]).toEqual([200, '', String(HELLO.length), etag]);
    const notModified = await get(instance, '/hello.txt', { 'if-none-match': etag });
    expect([notModified.status, notModified.body, notModified.headers.get('etag')]).toEqual([304, '', etag]);
    const notModifiedSince = await get(instance, '/hello.txt', { 'if-modified-since': lastModified });
    expect(notModifiedSince.status).toBe(304);
    const changed = await get(instance, '/hello.txt', { 'if-none-match': 'W/"other"' });
    expect([changed.status, changed.body]).toEqual([200, HELLO]);

    expect((await pathsTheAppSaw(instance)).filter((p) => p !== '/seen')).toEqual([]);
    await stopCleanly(instance);
  });

  it('answers an unsatisfiable Range (bytes=5-2, bytes=-0, past the end) with 416 and Content-Range, and serves the request pipelined behind it', async () => {
    const { app } = scratchApp();
    const instance = await start(app);
    const answers = await pipelined(instance, [
      { target: '/hello.txt', headers: ['Range: bytes=5-2'] },
      { target: '/hello.txt', headers: ['Range: bytes=-0'] },
      { target: '/hello.txt', headers: [`Range: bytes=${HELLO.length}-`] },
      { target: '/hello.txt', headers: ['Range: bytes=5-2'], method: 'HEAD' },
      { target: '/hello.txt' },
    ]);
    expect(answers.map((a) => a.status)).toEqual([416, 416, 416, 416, 200]);
    for (const answer of answers.slice(0, 4)) expect(answer.headers['content-range']).toBe(`bytes */${HELLO.length}`);
    expect(answers[4]!.body).toBe(HELLO);
    await stopCleanly(instance);
  });

  it('answers a failed If-Match or If-Unmodified-Since with 412, and serves the request pipelined behind it', async () => {
    const { app } = scratchApp();
    const instance = await start(app);
    const answers = await pipelined(instance, [
      { target: '/hello.txt', headers: ['If-Match: "not-this-one"'] },
      { target: '/hello.txt', headers: ['If-Unmodified-Since: Thu, 01 Jan 1970 00:00:01 GMT'] },
      { target: '/hello.txt', headers: ['If-Match: *'] },
      { target: '/hello.txt' },
    ]);
    expect(answers.map((a) => a.status)).toEqual([412, 412, 200, 200]);
    expect(answers[3]!.body).toBe(HELLO);
    await stopCleanly(instance);
  });
});
