import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BufferDir } from '../../../../src/core/proxy/buffer-dir.js';
import { RESPONSE_MEMORY_BYTES, ResponseBuffer } from '../../../../src/core/proxy/response-buffer.js';

let instanceDir: string;
let dir: BufferDir;

beforeEach(() => {
  instanceDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-response-buffer-'));
  dir = BufferDir.prepare(instanceDir);
});

afterEach(() => {
  fs.rmSync(instanceDir, { recursive: true, force: true });
});

/** Chunks numbered in their bytes, so order and content can be checked at the end. */
function chunk(n: number, size: number): Buffer {
  return Buffer.alloc(size, n % 251);
}

function drain(buffer: ResponseBuffer): Buffer {
  const out: Buffer[] = [];
  let next: Buffer | undefined;
  while ((next = buffer.shift()) !== undefined) out.push(next);
  return Buffer.concat(out);
}

describe('ResponseBuffer', () => {
  it('keeps a small answer in memory and writes no file', () => {
    const buffer = new ResponseBuffer(dir);
    buffer.push(chunk(1, 1000));
    buffer.push(chunk(2, 1000));
    expect({ memory: buffer.memoryBytes, disk: buffer.diskBytes }).toEqual({ memory: 2000, disk: 0 });
    expect(fs.readdirSync(dir.dir)).toEqual([]);
    expect(drain(buffer)).toEqual(Buffer.concat([chunk(1, 1000), chunk(2, 1000)]));
    expect(buffer.size).toBe(0);
  });

  it('spills past the memory threshold to a 0600 file and gives every byte back in order', () => {
    const buffer = new ResponseBuffer(dir);
    const pushed: Buffer[] = [];
    for (let i = 0; i < 40; i++) {
      const next = chunk(i, 64 * 1024);
      pushed.push(next);
      buffer.push(next);
    }
    expect(buffer.memoryBytes).toBeLessThanOrEqual(RESPONSE_MEMORY_BYTES);
    expect(buffer.diskBytes).toBe(40 * 64 * 1024 - buffer.memoryBytes);
    const [file] = fs.readdirSync(dir.dir);
    expect(file).toMatch(new RegExp(`^${process.pid}-\\d+\\.response$`));
    expect(fs.statSync(path.join(dir.dir, file as string)).mode & 0o777).toBe(0o600);
    // Taken partly, topped up while bytes still wait on disk, then taken to the end:
    const taken = [buffer.shift() as Buffer, buffer.shift() as Buffer];
    for (let i = 40; i < 45; i++) {
      const next = chunk(i, 10_000);
      pushed.push(next);
      buffer.push(next);
    }
    taken.push(drain(buffer));
    expect(Buffer.concat(taken).equals(Buffer.concat(pushed))).toBe(true);
    buffer.dispose();
    expect(fs.readdirSync(dir.dir)).toEqual([]);
  });

  it('goes back to memory once the file is read out, and removes the file when disposed early', () => {
    const buffer = new ResponseBuffer(dir);
    buffer.push(chunk(1, RESPONSE_MEMORY_BYTES));
    buffer.push(chunk(2, 100));
    expect(buffer.diskBytes).toBe(100);
    drain(buffer);
    buffer.push(chunk(3, 100));
    expect({ memory: buffer.memoryBytes, disk: buffer.diskBytes }).toEqual({ memory: 100, disk: 0 });
    buffer.push(chunk(4, RESPONSE_MEMORY_BYTES));
    expect(fs.readdirSync(dir.dir)).toHaveLength(1);
    buffer.dispose();
    expect(fs.readdirSync(dir.dir)).toEqual([]);
    expect(buffer.size).toBe(0);
  });
});

describe('BufferDir', () => {
  it('removes the files of cores that are gone and keeps those of a live one', () => {
    fs.writeFileSync(path.join(dir.dir, '999999999-1.request'), 'left by a crashed core');
    fs.writeFileSync(path.join(dir.dir, `${process.pid}-7.response`), 'a live core');
    BufferDir.prepare(instanceDir);
    expect(fs.readdirSync(dir.dir)).toEqual([`${process.pid}-7.response`]);
    dir.removeOwn();
    expect(fs.readdirSync(dir.dir)).toEqual([]);
  });
});
