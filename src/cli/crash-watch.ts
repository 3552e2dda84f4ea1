// ferry crash-watch's work: dump all-thread backtraces of a live process (plus its JS stack when
// it is Node), wait for a process to crash, or run a command under gdb; with clear failures.

import fs from 'node:fs';
import { dumpBacktraces, GdbError, parseBacktraces, parseExitCode, parseStopSignal, runUnderGdb, watchForCrash, type NativeThread } from '../lib/diagnostics/crash-dump.js';
import { captureJsStack, closeInspectorsOpenedSince, findInspectorUrl, formatFrames, listeningPorts, type InspectorState, type JsFrame } from '../lib/diagnostics/js-stack.js';
import { isProcessRunning } from '../lib/process-groups.js';
import { ROLE_ARG, type ProcessRole } from '../lib/paths.js';
import { CliError } from './errors.js';
import { EXIT_CODES } from './exit-codes.js';

export interface CrashWatchResult {
  mode: 'dump' | 'watch' | 'run';
  pid?: number;
  /** dumped: backtraces of a live process; crashed: it died of `signal`; exited: it ended by itself. */
  outcome: 'dumped' | 'crashed' | 'exited';
  signal?: string;
  exitCode?: number;
  threads: NativeThread[];
  jsStack?: JsFrame[];
  /** Why there is no JS stack for a Node process. */
  jsStackNote?: string;
  /** The Node inspector crash-watch used for the JS stack, and whether it is closed again. */
  inspector?: InspectorState;
  /** Other inspector ports of the process, opened while crash-watch worked, that it closed too. */
  inspectorStraysClosed?: number[];
  /** gdb's own output, for the text view. */
  output: string;
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGBUS: 7, SIGFPE: 8, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };

/**
 * The exit code crash-watch ends with: 128 + the signal's number after a crash, as a shell
 * reports it; partial when the dump is done but the inspector would not close.
 */
export function exitCodeFor(result: CrashWatchResult): number {
  if (result.inspector && !result.inspector.closed) return EXIT_CODES.partial;
  // `crash-watch -- CMD` wraps the command, so a script sees its status, as with time or nice.
  if (result.mode === 'run' && result.outcome === 'exited') return result.exitCode ?? 0;
  if (result.outcome !== 'crashed') return 0;
  return 128 + (SIGNAL_NUMBERS[result.signal ?? ''] ?? 0);
}

function toCliError(err: unknown, pid?: number): CliError {
  if (!(err instanceof GdbError)) return new CliError('FERRY_ERR_GDB_FAILED', `gdb failed: ${(err as Error).message}`);
  switch (err.reason) {
    case 'gdb-missing':
      return new CliError('FERRY_ERR_GDB_MISSING', 'gdb is not installed; crash-watch needs it', ['Install it: apt-get install gdb']);
    case 'ptrace-denied':
      return new CliError('FERRY_ERR_PTRACE_DENIED', `not allowed to attach to pid ${pid ?? '?'}: ${err.message}`, [
        'Run as root, or set kernel.yama.ptrace_scope to 0 (sysctl), or give the container CAP_SYS_PTRACE.',
      ]);
    case 'process-gone':
      return new CliError('FERRY_ERR_PROCESS_GONE', `no process with pid ${pid ?? '?'}`, ['Take a pid from ferry status or ferry memory-stats.']);
    default:
      return new CliError('FERRY_ERR_GDB_FAILED', `${err.message}: ${err.output.trim().split('\n').slice(-3).join(' | ')}`);
  }
}

function isNodeProcess(pid: number): boolean {
  try {
    if (/\/node(js)?$/.test(fs.readlinkSync(`/proc/${pid}/exe`))) return true;
    // An app run by the single executable (lib/paths.ts nodeAppCommand): its command line says so.
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv[1] === ROLE_ARG && argv[2] === ('node-app' satisfies ProcessRole);
  } catch {
    return false;
  }
}

export async function dumpProcess(pid: number, timeoutMs: number): Promise<CrashWatchResult> {
  if (!isProcessRunning(pid)) throw toCliError(new GdbError('process-gone', 'gone'), pid);
  const result: CrashWatchResult = { mode: 'dump', pid, outcome: 'dumped', threads: [], output: '' };
  // The JS stack first: pausing through the inspector does not need the process stopped by gdb,
  // and the inspector (open to every local user) closes before gdb's seconds, not after.
  if (isNodeProcess(pid)) {
    const before = new Set(listeningPorts(pid));
    const url = await findInspectorUrl(pid, undefined, before);
    const { frames, idle, inspector } = url ? await captureJsStack(pid, () => url) : {};
    // Seen on a loaded machine: an inspector listening again after the capture closed its own.
    const strays = await closeInspectorsOpenedSince(pid, before);
    if (strays.length > 0) result.inspectorStraysClosed = strays;
    if (inspector) result.inspector = inspector;
    if (frames) result.jsStack = frames;
    else if (idle) result.jsStackNote = 'its inspector opened, but no JavaScript was running to pause: the process is idle, waiting for I/O or timers (the native backtraces below show where)';
    else if (url) result.jsStackNote = 'its inspector opened, but the process did not answer it within 2 s: its main thread is busy outside JavaScript (native code, a synchronous call; the native backtraces below show where)';
    else {
      result.jsStackNote =
        'its inspector did not open within 2 s of SIGUSR1: its main thread is blocked outside JavaScript (native code, a synchronous call; the native backtraces below show where), or it has no SIGUSR1 handler for the inspector. ' +
        'Node opens it once that thread is back, and then anyone local can connect: Ferry closes the inspectors of its apps after 10 s; for another process, run crash-watch --dump again then, which closes it';
    }
  }
  try {
    result.output = await dumpBacktraces(pid, timeoutMs);
  } catch (err) {
    throw toCliError(err, pid);
  }
  result.threads = parseBacktraces(result.output);
  if (result.threads.length === 0) throw toCliError(new GdbError('no-backtrace', 'gdb gave no backtrace', result.output), pid);
  return result;
}

function outcomeOf(mode: 'watch' | 'run', output: string, pid?: number): CrashWatchResult {
  const signal = parseStopSignal(output);
  const result: CrashWatchResult = { mode, outcome: signal ? 'crashed' : 'exited', threads: signal ? parseBacktraces(output) : [], output };
  if (pid !== undefined) result.pid = pid;
  if (signal) result.signal = signal;
  const exitCode = parseExitCode(output);
  if (exitCode !== undefined) result.exitCode = exitCode;
  return result;
}

export async function watchProcess(pid: number): Promise<CrashWatchResult> {
  if (!isProcessRunning(pid)) throw toCliError(new GdbError('process-gone', 'gone'), pid);
  try {
    return outcomeOf('watch', await watchForCrash(pid), pid);
  } catch (err) {
    throw toCliError(err, pid);
  }
}

export async function runCommand(command: string[]): Promise<CrashWatchResult> {
  try {
    return outcomeOf('run', await runUnderGdb(command));
  } catch (err) {
    throw toCliError(err);
  }
}

/** The text view: what happened, each thread's backtrace, and the JS stack. */
export function formatCrashWatch(result: CrashWatchResult): string {
  const lines: string[] = [];
  const who = result.pid !== undefined ? `process ${result.pid}` : 'the command';
  if (result.outcome === 'crashed') lines.push(`*** ${who} crashed with ${result.signal}`);
  else if (result.outcome === 'exited') lines.push(`*** ${who} ${result.exitCode ? `exited with status ${result.exitCode}` : 'exited normally'}; no crash`);
  else lines.push(`*** backtraces of ${who} (${result.threads.length} threads); it keeps running`);
  for (const thread of result.threads) {
    lines.push('', `########### Thread ${thread.id}${thread.lwp ? ` (LWP ${thread.lwp})` : ''}${thread.name ? ` "${thread.name}"` : ''} ###########`);
    for (const f of thread.frames) lines.push(`#${f.index}  ${f.function}${f.location ? ` at ${f.location}` : ''}`);
  }
  if (result.jsStack) lines.push('', '########### JavaScript stack ###########', formatFrames(result.jsStack));
  else if (result.jsStackNote) lines.push('', `*** No JavaScript stack: ${result.jsStackNote}`);
  if (result.inspectorStraysClosed) lines.push(`*** Also closed: inspector ports ${result.inspectorStraysClosed.join(', ')} that opened while crash-watch worked`);
  if (result.inspector?.closed) lines.push(`*** The inspector on 127.0.0.1:${result.inspector.port} is closed again`);
  else if (result.inspector) {
    lines.push(
      `*** WARNING: the inspector on 127.0.0.1:${result.inspector.port} did not close: any local user can connect to it and run code as this process's user.`,
      '*** Restart the process (or run crash-watch --dump again once its JavaScript runs).',
    );
  }
  return lines.join('\n') + '\n';
}
