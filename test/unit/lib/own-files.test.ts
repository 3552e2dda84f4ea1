import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openOwnFile, removeIfUnused, UnsafeFileError } from '../../../src/lib/own-files.js';
import { thrownBy } from '../../helpers/thrown.js';

const AS_ROOT = process.getuid?.() === 0;
const NOBODY = 65534;

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-own-files-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const refusal = (fn: () => unknown): UnsafeFileError => thrownBy(fn, UnsafeFileError);

function appendThrough(file: string, text: string): void {
  const { fd } = openOwnFile(file, 'log');
  try {
    fs.writeSync(fd, text);
  } finally {
    fs.closeSync(fd);
  }
}

describe('openOwnFile', () => {
  it('creates the file (saying so), appends to it later, and removeIfUnused removes it only while empty and the same', () => {
    const file = path.join(dir, 'ferry.log');
    const first = openOwnFile(file, 'log');
    fs.closeSync(first.fd);
    expect(first.created).toBe(true);
    expect(fs.statSync(file).mode & 0o777).toBe(0o640 & ~process.umask());
    appendThrough(file, 'one\n');
    appendThrough(file, 'two\n');
    expect(fs.readFileSync(file, 'utf8')).toBe('one\ntwo\n');
    const again = openOwnFile(file, 'log');
    fs.closeSync(again.fd);
    expect(again.created).toBe(false);
    removeIfUnused(file, first); // not empty
    expect(fs.existsSync(file)).toBe(true);

    const empty = path.join(dir, 'empty.log');
    const made = openOwnFile(empty, 'log');
    fs.closeSync(made.fd);
    removeIfUnused(empty, made);
    expect(fs.existsSync(empty)).toBe(false);
  });

  it('rewrites a pid file only once it is checked', () => {
    const file = path.join(dir, 'ferry.pid');
    fs.writeFileSync(file, '123456789\n');
    const { fd } = openOwnFile(file, 'pid');
    fs.writeSync(fd, '42\n');
    fs.closeSync(fd);
    expect(fs.readFileSync(file, 'utf8')).toBe('42\n');
  });

  it('refuses a symlink, without touching its target', () => {
    const target = path.join(dir, 'target');
    fs.writeFileSync(target, 'keep\n');
    fs.symlinkSync(target, path.join(dir, 'ferry.log'));
    const err = refusal(() => openOwnFile(path.join(dir, 'ferry.log'), 'log'));
    expect(err.code).toBe('FERRY_ERR_FILE_UNSAFE');
    expect(err.message).toBe(`refusing the log file ${path.join(dir, 'ferry.log')}: it is a symbolic link, which Ferry does not follow`);
    expect(err.suggestions[0]).toContain('--log-file');
    fs.symlinkSync(target, path.join(dir, 'ferry.pid'));
    expect(refusal(() => openOwnFile(path.join(dir, 'ferry.pid'), 'pid')).message).toMatch(/pid file .* symbolic link/);
    expect(fs.readFileSync(target, 'utf8')).toBe('keep\n');
  });

  it('refuses a second hard link, a FIFO (at once) and a directory', () => {
    const target = path.join(dir, 'target');
    fs.writeFileSync(target, 'keep\n');
    fs.linkSync(target, path.join(dir, 'linked.log'));
    expect(refusal(() => openOwnFile(path.join(dir, 'linked.log'), 'pid')).message).toMatch(/2 hard links/);
    expect(fs.readFileSync(target, 'utf8')).toBe('keep\n'); // not truncated before the check
    execFileSync('mkfifo', [path.join(dir, 'fifo.log')]);
    expect(refusal(() => openOwnFile(path.join(dir, 'fifo.log'), 'log')).message).toMatch(/not a regular file \(a FIFO\)/);
    fs.mkdirSync(path.join(dir, 'dir.log'));
    expect(refusal(() => openOwnFile(path.join(dir, 'dir.log'), 'log')).message).toMatch(/not a regular file \(a directory\)/);
  });

  it("throws the system's error when the directory is missing", () => {
    expect(() => openOwnFile(path.join(dir, 'gone', 'ferry.log'), 'log')).toThrow(/ENOENT/);
  });

  it('follows links of its own on the way to the directory', () => {
    fs.mkdirSync(path.join(dir, 'real'));
    fs.symlinkSync('real', path.join(dir, 'via'));
    appendThrough(path.join(dir, 'via', 'ferry.log'), 'x\n');
    expect(fs.readFileSync(path.join(dir, 'real', 'ferry.log'), 'utf8')).toBe('x\n');
  });

  it.skipIf(!AS_ROOT)("refuses a directory reached through another user's link, and a file of another user's unless an app runs as that user", () => {
    fs.mkdirSync(path.join(dir, 'roots'));
    fs.symlinkSync(path.join(dir, 'roots'), path.join(dir, 'log'));
    fs.lchownSync(path.join(dir, 'log'), NOBODY, NOBODY);
    expect(refusal(() => openOwnFile(path.join(dir, 'log', 'ferry.log'), 'log')).message).toMatch(new RegExp(`reached through ${path.join(dir, 'log')}, a symbolic link owned by uid ${NOBODY}`));
    expect(fs.readdirSync(path.join(dir, 'roots'))).toEqual([]);

    const theirs = path.join(dir, 'theirs.log');
    fs.writeFileSync(theirs, '');
    fs.chownSync(theirs, NOBODY, NOBODY);
    expect(refusal(() => openOwnFile(theirs, 'log')).message).toMatch(/owned by uid 65534/);
    fs.closeSync(openOwnFile(theirs, 'log', [NOBODY]).fd);
  });
});
