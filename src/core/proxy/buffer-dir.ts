// The directory where the core keeps what it buffers on disk for slow clients: one 0600 file per
// request body or response, named after the core's pid so that a core never touches another
// core's files (a handover runs two at once) and a new core can remove what a crashed one left.

import fs from 'node:fs';
import path from 'node:path';
import { INSTANCE_FILES } from '../../lib/instance-registry.js';
import { isProcessRunning } from '../../lib/process-groups.js';

export class BufferDir {
  private seq = 0;
  private readonly prefix = `${process.pid}-`;

  private constructor(readonly dir: string) {}

  /** Creates `<instance>/buffers` (0700) and removes the files of cores that are gone. */
  static prepare(instanceDir: string): BufferDir {
    const dir = path.join(instanceDir, INSTANCE_FILES.buffersDir);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const name of fs.readdirSync(dir)) {
      const pid = Number.parseInt(name, 10);
      if (!Number.isInteger(pid) || !isProcessRunning(pid)) fs.rmSync(path.join(dir, name), { force: true });
    }
    return new BufferDir(dir);
  }

  /** A fresh path for one request's buffer; `kind` says what it holds, for an operator who looks. */
  nextPath(kind: 'request' | 'response'): string {
    return path.join(this.dir, `${this.prefix}${++this.seq}.${kind}`);
  }

  /** Removes this core's files (at shutdown: requests cut short may not have removed theirs). */
  removeOwn(): void {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return; // the instance directory is gone already
    }
    for (const name of names) if (name.startsWith(this.prefix)) fs.rmSync(path.join(this.dir, name), { force: true });
  }
}
