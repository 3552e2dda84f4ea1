import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decideFileAnswer, PublicDirs, staticFileOf } from '../../../../src/core/proxy/static-files.js';

describe('PublicDirs', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-public-dirs-'));
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it("takes an app's public/ at start and again only after the app restarted (a deploy switching a current link)", () => {
    for (const release of ['r1', 'r2']) fs.mkdirSync(path.join(root, release, 'public'), { recursive: true });
    fs.mkdirSync(path.join(root, 'bare'));
    fs.symlinkSync('r1', path.join(root, 'current'));
    const app = { app: { root: path.join(root, 'current') }, stats: { restarts: 0 } };
    const bare = { app: { root: path.join(root, 'bare') }, stats: { restarts: 0 } };
    const dirs = new PublicDirs([app, bare]);
    expect(dirs.any).toBe(true);
    expect(dirs.dirFor(app)?.realPath).toBe(fs.realpathSync(path.join(root, 'r1', 'public')));
    expect(dirs.dirFor(bare)).toBeUndefined();

    fs.rmSync(path.join(root, 'current'));
    fs.symlinkSync('r2', path.join(root, 'current'));
    fs.mkdirSync(path.join(root, 'bare', 'public'));
    // Until the app restarts, the release its processes run.
    expect(dirs.dirFor(app)?.realPath).toBe(fs.realpathSync(path.join(root, 'r1', 'public')));
    expect(dirs.dirFor(bare)).toBeUndefined();
    app.stats.restarts++;
    bare.stats.restarts++;
    expect(dirs.dirFor(app)?.realPath).toBe(fs.realpathSync(path.join(root, 'r2', 'public')));
    expect(dirs.dirFor(bare)?.realPath).toBe(fs.realpathSync(path.join(root, 'bare', 'public')));
  });

  it('carries the uid and gid an app runs as, for the read checks, and nothing for an app run as Ferry itself', () => {
    fs.mkdirSync(path.join(root, 'owned', 'public'), { recursive: true });
    const asUser = { app: { root: path.join(root, 'owned'), user: { uid: 1000, gid: 1001 } }, stats: { restarts: 0 } };
    const asFerry = { app: { root: path.join(root, 'owned') }, stats: { restarts: 0 } };
    const dirs = new PublicDirs([asUser, asFerry]);
    expect(dirs.dirFor(asUser)?.user).toEqual({ uid: 1000, gid: 1001 });
    expect(dirs.dirFor(asFerry)?.user).toBeUndefined();
  });
});

describe('staticFileOf', () => {
  it('names a file under public/ for GET and HEAD only, without the query; the app answers the rest', () => {
    expect(staticFileOf('GET', '/css/site.css?v=2')).toBe('css/site.css');
    expect(staticFileOf('HEAD', '/a%20b.txt')).toBe('a b.txt');
    expect(staticFileOf('POST', '/hello.txt')).toBeUndefined();
    for (const target of ['/', '/css/', '/.env', '/a/../b', '/%2e%2e/app.js', '/%zz']) expect([target, staticFileOf('GET', target)]).toEqual([target, undefined]);
  });
});

describe('decideFileAnswer', () => {
  const FILE = { size: 26, mtimeMs: 1_700_000_000_123.4 };
  const ETAG = `W/"1a-${(1_700_000_000_123).toString(16)}"`;
  const LAST_MODIFIED = new Date(1_700_000_000_000).toUTCString();
  const VALIDATORS = ['Cache-Control', 'public, max-age=0', 'Last-Modified', LAST_MODIFIED, 'ETag', ETAG];
  const decide = (headers: Record<string, string> = {}, method = 'GET', file = FILE) => decideFileAnswer({ method, headers }, file, 'text/plain; charset=utf-8', 'req-1');

  it('serves the whole file with its validators, type and length, in the order send wrote them', () => {
    expect(decide()).toEqual({
      kind: 'file',
      status: 200,
      fields: [...VALIDATORS, 'Accept-Ranges', 'bytes', 'Content-Type', 'text/plain; charset=utf-8', 'Content-Length', '26'],
      body: { start: 0, end: 25 },
    });
  });

  it('sends no bytes for HEAD or an empty file, with the same fields', () => {
    expect(decide({}, 'HEAD')).toMatchObject({ kind: 'file', status: 200, body: undefined, fields: expect.arrayContaining(['Content-Length', '26']) });
    expect(decide({}, 'GET', { size: 0, mtimeMs: FILE.mtimeMs })).toMatchObject({ kind: 'file', status: 200, body: undefined, fields: expect.arrayContaining(['Content-Length', '0']) });
  });

  it('answers one range with 206, Content-Range and the range length; a range no longer applying (If-Range) with the whole file', () => {
    expect(decide({ range: 'bytes=7-11' })).toEqual({
      kind: 'file',
      status: 206,
      fields: [...VALIDATORS, 'Accept-Ranges', 'bytes', 'Content-Type', 'text/plain; charset=utf-8', 'Content-Length', '5', 'Content-Range', 'bytes 7-11/26'],
      body: { start: 7, end: 11 },
    });
    expect(decide({ range: 'bytes=7-11', 'if-range': ETAG })).toMatchObject({ status: 206 });
    expect(decide({ range: 'bytes=7-11', 'if-range': 'W/"stale"' })).toMatchObject({ status: 200, body: { start: 0, end: 25 } });
  });

  it('answers 304 with the validators alone, before any range', () => {
    expect(decide({ 'if-none-match': ETAG, range: 'bytes=0-1' })).toEqual({ kind: 'not-modified', fields: VALIDATORS });
    expect(decide({ 'if-modified-since': LAST_MODIFIED })).toEqual({ kind: 'not-modified', fields: VALIDATORS });
  });

  it('answers a failed precondition with 412 and an unsatisfiable range with 416 and Content-Range', () => {
    expect(decide({ 'if-match': '"other"' })).toMatchObject({ kind: 'error', error: { status: 412, requestId: 'req-1' } });
    expect(decide({ range: 'bytes=5-2' })).toMatchObject({ kind: 'error', error: { status: 416, requestId: 'req-1', headers: { 'Content-Range': 'bytes */26' } } });
  });
});
