// RequestBodyBuffer on a real buffer directory: a body past the memory limit goes to a file,
// which leaves the directory once the body is whole and is read again from the start for each
// process it is offered to (a refused connection's retry).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BufferDir } from '../../../../src/core/proxy/buffer-dir.js';
import { REQUEST_MEMORY_BYTES, RequestBodyBuffer } from '../../../../src/core/proxy/request-body.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function bufferDir(): BufferDir {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-body-'));
  dirs.push(dir);
  return BufferDir.prepare(dir);
}

async function readAll(body: Buffer | Readable): Promise<Buffer> {
  if (Buffer.isBuffer(body)) return body;
  const parts: Buffer[] = [];
  for await (const part of body) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/** This process's descriptors open on files of `dir` (deleted ones too): other tests' files are not counted. */
function openIn(dir: BufferDir): number {
  let count = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir.dir)) count++;
    } catch {
      // closed meanwhile
    }
  }
  return count;
}

describe('RequestBodyBuffer', () => {
  it('keeps a large body in a file that is gone from the directory once whole, reads it whole for each try, and closes it on dispose', async () => {
    const dir = bufferDir();
    const buffer = new RequestBodyBuffer(dir, { pause: () => undefined, resume: () => undefined }, true);
    const first = Buffer.alloc(REQUEST_MEMORY_BYTES, 0x61);
    const second = Buffer.alloc(100_000, 0x62);
    buffer.push(first);
    buffer.push(second);
    // Still arriving: in the directory (the stream creates the file asynchronously).
    await vi.waitFor(() => expect(fs.readdirSync(dir.dir)).toHaveLength(1));
    buffer.end();
    await buffer.received;
    expect(fs.readdirSync(dir.dir)).toEqual([]);
    expect(buffer.length).toBe(first.length + second.length);

    const whole = Buffer.concat([first, second]);
    expect((await readAll(buffer.upstreamBody())).equals(whole)).toBe(true);
    // The retry reads from the start, through a descriptor of its own.
    expect((await readAll(buffer.upstreamBody())).equals(whole)).toBe(true);
    // Held open (gone from the directory) until disposed.
    expect(openIn(dir)).toBe(1);
    buffer.dispose();
    expect(openIn(dir)).toBe(0);
  });

  it('closes its descriptor only after a reader dropped mid-way has closed its own', async () => {
    const dir = bufferDir();
    const buffer = new RequestBodyBuffer(dir, { pause: () => undefined, resume: () => undefined }, false);
    buffer.push(Buffer.alloc(REQUEST_MEMORY_BYTES + 1, 0x63));
    buffer.end();
    await buffer.received;
    const reader = buffer.upstreamBody() as Readable;
    buffer.dispose();
    await new Promise((resolve) => reader.once('close', resolve));
    // Its own descriptor closes after the reader's (asynchronously, in the thread pool).
    await vi.waitFor(() => expect(openIn(dir)).toBe(0));
  });

  it('keeps a small body in memory, with no file at all', async () => {
    const dir = bufferDir();
    const buffer = new RequestBodyBuffer(dir, { pause: () => undefined, resume: () => undefined }, false);
    buffer.push(Buffer.from('name=ferry'));
    buffer.end();
    await buffer.received;
    expect(fs.readdirSync(dir.dir)).toEqual([]);
    expect((await readAll(buffer.upstreamBody())).toString()).toBe('name=ferry');
  });
});
