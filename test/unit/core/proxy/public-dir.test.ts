import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPublicFile, requestedFile, resolvePublicDir, type PublicDir } from '../../../../src/core/proxy/public-dir.js';

describe('requestedFile', () => {
  it('names the file below public/ that a request path asks for', () => {
    expect(requestedFile('/hello.txt')).toBe('hello.txt');
    expect(requestedFile('/css/site.css')).toBe('css/site.css');
    expect(requestedFile('//css//site.css')).toBe('css/site.css');
    expect(requestedFile('/a%20b.txt')).toBe('a b.txt');
  });

  it('leaves to the app what is no file of public/: itself, directories, dotfiles, dot segments, bad escapes, NUL', () => {
    for (const p of ['/', '/css/', '/hello.txt%2F', '/.env', '/css/.hidden', '/.git/config', '/../app.js', '/%2e%2e/app.js', '/./hello.txt', '/%E0%A4%A', '/a%00b']) {
      expect([p, requestedFile(p)]).toEqual([p, undefined]);
    }
  });
});

describe('openPublicFile', () => {
  let root: string;
  let dir: PublicDir;
  const nobody = { uid: 65534, gid: 65534 };

  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-public-dir-'));
    const app = path.join(root, 'app');
    fs.mkdirSync(path.join(app, 'public', 'sub'), { recursive: true });
    fs.writeFileSync(path.join(app, 'public', 'open.txt'), 'open\n', { mode: 0o644 });
    fs.writeFileSync(path.join(app, 'public', 'closed.txt'), 'closed\n', { mode: 0o600 });
    fs.writeFileSync(path.join(app, 'public', '.env'), 'SECRET=1\n');
    fs.writeFileSync(path.join(app, 'public', 'sub', 'deep.txt'), 'deep\n', { mode: 0o644 });
    fs.writeFileSync(path.join(root, 'outside.txt'), 'outside\n', { mode: 0o644 });
    fs.symlinkSync('../../outside.txt', path.join(app, 'public', 'escape.txt'));
    fs.symlinkSync('open.txt', path.join(app, 'public', 'alias.txt'));
    fs.symlinkSync('.env', path.join(app, 'public', 'env.txt'));
    fs.symlinkSync('missing.txt', path.join(app, 'public', 'dangling.txt'));
    execFileSync('mkfifo', [path.join(app, 'public', 'fifo')]);
    dir = resolvePublicDir(app) as PublicDir;
  });

  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  async function open(d: PublicDir, relative: string): Promise<{ kind: string; body?: string }> {
    const file = await openPublicFile(d, relative);
    if (file.kind !== 'file') return { kind: file.kind };
    const body = fs.readFileSync(file.fd, 'utf8');
    fs.closeSync(file.fd);
    return { kind: 'file', body };
  }

  it('takes the real path of public/ once', () => {
    expect(dir.realPath).toBe(fs.realpathSync(path.join(root, 'app', 'public')));
    expect(resolvePublicDir(path.join(root, 'no-such-app'))).toBeUndefined();
  });

  it('opens files, also through links that stay inside public/', async () => {
    expect(await open(dir, 'open.txt')).toEqual({ kind: 'file', body: 'open\n' });
    expect(await open(dir, 'sub/deep.txt')).toEqual({ kind: 'file', body: 'deep\n' });
    expect(await open(dir, 'alias.txt')).toEqual({ kind: 'file', body: 'open\n' });
  });

  it('gives directories and missing files to the app, and refuses links out of public/, to a dotfile, and what is not a regular file', async () => {
    expect(await open(dir, 'sub')).toEqual({ kind: 'absent' });
    expect(await open(dir, 'nope.txt')).toEqual({ kind: 'absent' });
    expect(await open(dir, 'dangling.txt')).toEqual({ kind: 'absent' });
    expect(await open(dir, 'escape.txt')).toEqual({ kind: 'refused' });
    expect(await open(dir, 'env.txt')).toEqual({ kind: 'refused' });
    expect(await open(dir, 'fifo')).toEqual({ kind: 'refused' }); // at once: no writer needed
  });

  it("refuses, for an app run as another user, what that user could not read or reach", async () => {
    const asNobody: PublicDir = { ...dir, user: nobody };
    expect(await open(asNobody, 'open.txt')).toEqual({ kind: 'file', body: 'open\n' });
    expect(await open(asNobody, 'closed.txt')).toEqual({ kind: 'refused' });
    fs.chmodSync(path.join(dir.realPath, 'sub'), 0o700);
    try {
      expect(await open(asNobody, 'sub/deep.txt')).toEqual({ kind: 'refused' });
    } finally {
      fs.chmodSync(path.join(dir.realPath, 'sub'), 0o755);
    }
  });

  it('refuses a public/ that a link replaced after the real path was taken', async () => {
    const app = path.join(root, 'swapped');
    fs.mkdirSync(path.join(app, 'public'), { recursive: true });
    const swapped = resolvePublicDir(app) as PublicDir;
    fs.rmdirSync(path.join(app, 'public'));
    fs.symlinkSync(path.join(root, 'app', 'public'), path.join(app, 'public'));
    expect(await open(swapped, 'open.txt')).toEqual({ kind: 'refused' }); // its real path now leaves public/
  });
});
