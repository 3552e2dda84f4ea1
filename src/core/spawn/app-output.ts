// App processes write their stdout and stderr into named pipes (FIFOs) in the instance directory,
// not into pipes the core owns: a pipe dies with its reader, and an app that logs after a core
// crash would then get EPIPE and die too. The app holds its FIFO open for reading and writing, so
// the pipe always has a reader; the core (this one, or the next after a crash or a `ferry
// restart`) opens it and reads. While no core reads, the app can write 64 KiB before it waits.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import readline from 'node:readline';

export interface OutputFifos {
  stdout: string;
  stderr: string;
}

/** Creates the two FIFOs of one app process (mode 0600) next to `base`. */
export function createOutputFifos(base: string): OutputFifos {
  const fifos = { stdout: `${base}.out`, stderr: `${base}.err` };
  for (const file of [fifos.stdout, fifos.stderr]) fs.rmSync(file, { force: true });
  // Node has no mkfifo(); coreutils' is on every Linux host Ferry runs on.
  execFileSync('mkfifo', ['-m', '600', fifos.stdout, fifos.stderr], { stdio: 'ignore' });
  return fifos;
}

export function removeOutputFifos(fifos: OutputFifos): void {
  fs.rmSync(fifos.stdout, { force: true });
  fs.rmSync(fifos.stderr, { force: true });
}

/** The descriptor the app gets as stdout or stderr: read-write, so the FIFO never lacks a reader. */
export function openFifoForApp(file: string): number {
  return fs.openSync(file, fs.constants.O_RDWR);
}

/**
 * Reads one FIFO line by line. `onEnd` fires when every writer is gone (the app and whatever it
 * spawned have exited). `close()` stops reading without affecting the app.
 */
export function readFifoLines(file: string, onLine: (line: string) => void, onEnd?: () => void): { close(): void } {
  // O_NONBLOCK: open() returns at once even with no writer yet; libuv polls the descriptor.
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const socket = new net.Socket({ fd, readable: true, writable: false });
  socket.setEncoding('utf8');
  const lines = readline.createInterface({ input: socket, crlfDelay: Infinity });
  lines.on('line', onLine);
  let closed = false;
  socket.on('error', () => undefined);
  socket.once('close', () => {
    if (!closed) onEnd?.();
  });
  return {
    close() {
      closed = true;
      lines.close();
      socket.destroy();
    },
  };
}
