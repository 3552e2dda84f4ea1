// Native backtraces of every thread through the system gdb (attach, dump, detach; wait for a
// crash; or run a command under gdb), parsed for --json. Failures carry a reason the CLI names.

import fs from 'node:fs';
import { execa } from 'execa';

export interface NativeFrame {
  index: number;
  function: string;
  location?: string;
}

export interface NativeThread {
  id: number;
  lwp?: number;
  name?: string;
  frames: NativeFrame[];
}

export type GdbFailure = 'gdb-missing' | 'ptrace-denied' | 'process-gone' | 'timeout' | 'no-backtrace';

export class GdbError extends Error {
  constructor(
    readonly reason: GdbFailure,
    message: string,
    readonly output = '',
  ) {
    super(message);
  }
}

const THREAD_LINE = /^Thread (\d+) \(.*?(?:\(LWP (\d+)\))?\)?(?: "([^"]*)")?\):\s*$/;
const FRAME_LINE = /^#(\d+)\s+(?:0x[0-9a-f]+ in )?(.+?) \(.*?\)(?: (?:at|from) (.+))?$/;

/** Threads and frames out of gdb's `thread apply all bt` output (pure). */
export function parseBacktraces(output: string): NativeThread[] {
  const threads: NativeThread[] = [];
  let current: NativeThread | undefined;
  for (const line of output.split('\n')) {
    const thread = THREAD_LINE.exec(line);
    if (thread) {
      current = { id: Number(thread[1]), frames: [] };
      if (thread[2]) current.lwp = Number(thread[2]);
      if (thread[3]) current.name = thread[3];
      threads.push(current);
      continue;
    }
    const frame = FRAME_LINE.exec(line);
    if (frame && current) {
      const f: NativeFrame = { index: Number(frame[1]), function: frame[2] as string };
      if (frame[3]) f.location = frame[3];
      current.frames.push(f);
    }
  }
  return threads;
}

/** Which signal stopped the program, if gdb reported one ("Program received signal SIGSEGV"). */
export function parseStopSignal(output: string): string | undefined {
  return /(?:Program|Thread \d+ .*?) received signal (SIG[A-Z0-9]+)/.exec(output)?.[1];
}

/** "exited normally" -> 0; "exited with code 03" -> 3; undefined if it did not exit. */
export function parseExitCode(output: string): number | undefined {
  if (/\[Inferior \d+ \(process \d+\) exited normally\]/.test(output)) return 0;
  const match = /\[Inferior \d+ \(process \d+\) exited with code (\d+)\]/.exec(output);
  return match ? parseInt(match[1] as string, 8) : undefined;
}

function ptraceHint(): string {
  try {
    const scope = fs.readFileSync('/proc/sys/kernel/yama/ptrace_scope', 'utf8').trim();
    return `kernel.yama.ptrace_scope is ${scope}`;
  } catch {
    return 'no Yama ptrace_scope here (a container without CAP_SYS_PTRACE, or another user\'s process)';
  }
}

/** Runs gdb in batch mode; classifies the ways it can fail. */
export async function runGdb(args: string[], timeoutMs: number | undefined): Promise<string> {
  let result;
  try {
    result = await execa('gdb', ['-batch', '-nx', '-ex', 'set pagination off', ...args], { all: true, reject: false, timeout: timeoutMs, stdin: 'ignore' });
  } catch (err) {
    throw new GdbError('gdb-missing', `could not run gdb: ${(err as Error).message}`);
  }
  const output = String(result.all ?? '');
  if ((result as { code?: string }).code === 'ENOENT' || /spawn gdb ENOENT/.test(String(result.message ?? ''))) {
    throw new GdbError('gdb-missing', 'gdb is not installed');
  }
  if (result.timedOut) throw new GdbError('timeout', `gdb did not finish within ${Math.round((timeoutMs ?? 0) / 1000)}s`, output);
  if (/ptrace: Operation not permitted|Could not attach to process/.test(output)) {
    throw new GdbError('ptrace-denied', `the kernel did not let gdb attach (${ptraceHint()})`, output);
  }
  if (/ptrace: No such process/.test(output)) throw new GdbError('process-gone', 'the process is gone', output);
  return output;
}

/** All-thread backtraces of a running process; gdb detaches at the end, so it keeps running. */
export function dumpBacktraces(pid: number, timeoutMs: number): Promise<string> {
  return runGdb(['-p', String(pid), '-ex', 'thread apply all bt', '-ex', 'detach'], timeoutMs);
}

/** Attaches and lets the process run until it crashes (backtraces then) or exits. */
export function watchForCrash(pid: number): Promise<string> {
  return runGdb(
    ['-p', String(pid), '-ex', 'handle SIGPIPE nostop noprint pass', '-ex', 'handle SIGUSR1 nostop noprint pass', '-ex', 'handle SIGUSR2 nostop noprint pass', '-ex', 'continue', '-ex', 'thread apply all bt'],
    undefined,
  );
}

/** Runs a command under gdb; backtraces if it crashes. */
export function runUnderGdb(command: string[]): Promise<string> {
  return runGdb(['-ex', 'handle SIGPIPE nostop noprint pass', '-ex', 'run', '-ex', 'thread apply all bt', '--args', ...command], undefined);
}
