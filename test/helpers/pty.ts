// A command in a real terminal: util-linux's `script` gives it a pty (raw mode, Ctrl-C as a byte,
// a window size), we write keys to it and read everything it draws.

import { execa, type ResultPromise } from 'execa';
import { BIN } from './ferry.js';

export interface PtyRun {
  /** Everything drawn so far, escape sequences included. */
  raw(): string;
  /** What was drawn, escape sequences removed. */
  text(): string;
  /** Keys, as the terminal would send them ('\u0003' is Ctrl-C, '\u001b[B' the down arrow). */
  press(keys: string): void;
  readonly process: ResultPromise;
}

const quote = (arg: string): string => `'${arg.replace(/'/g, `'\\''`)}'`;

/** Removes CSI and OSC sequences, so frames read as text. */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, '').replace(/\u001b\][^\u0007]*\u0007/g, '').replace(/\u001b[()][0-9A-B]/g, '');
}

/** `ferry ARGS` in a pty of `cols` x `rows`. The caller ends it (keys or signals) and awaits `process`. */
export function ferryInPty(args: string[], env: Record<string, string>, size: { cols: number; rows: number } = { cols: 100, rows: 40 }): PtyRun {
  const command = `stty cols ${size.cols} rows ${size.rows} && exec ${quote(process.execPath)} ${quote(BIN)} ${args.map(quote).join(' ')}`;
  // The terminal a person has: no NO_COLOR, FORCE_COLOR or CI unless the test says so.
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !['NO_COLOR', 'FORCE_COLOR', 'CI'].includes(name))) as Record<string, string>;
  const child = execa('script', ['-qfec', command, '/dev/null'], { reject: false, env: { ...base, TERM: 'xterm-256color', ...env }, extendEnv: false, stdin: 'pipe', all: true, timeout: 60_000 });
  let output = '';
  child.all?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  return {
    raw: () => output,
    text: () => stripAnsi(output),
    press: (keys) => void child.stdin?.write(keys),
    process: child,
  };
}
