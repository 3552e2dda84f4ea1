// The one table of exit statuses: what each means, which one every error code ends a command
// with, and the help text each command shows for the statuses it declares. docs/errors.md is
// generated from it (npm run docs:errors; test/unit/cli/exit-codes.test.ts keeps it in step).

import type { ErrorCode } from '../lib/error-codes.js';

export const EXIT_CODES = {
  ok: 0,
  failed: 1,
  usage: 2,
  notRunning: 3,
  notResponding: 4,
  /** The host refused something we need: port in use, permission denied, a file we cannot write. */
  environment: 5,
  /** The app could not be started (exited at start, never listened). */
  appStartFailed: 6,
  /** Not allowed: no valid admin token for this instance. */
  unauthorized: 7,
  /** crash-watch: gdb is not installed. */
  gdbMissing: 8,
  /** crash-watch: the kernel refused to let gdb attach (ptrace). */
  ptraceDenied: 9,
  /** crash-watch: no process with that pid. */
  processGone: 10,
  /** Done, but something was left behind (crash-watch: the Node inspector did not close). */
  partial: 68,
  /** A --wait ran out of time; what it waited for goes on. */
  inProgress: 69,
} as const;

export type ExitCodeName = keyof typeof EXIT_CODES;

/** Statuses that are not one number: crash-watch passes on a crash's signal or a command's own status. */
const PASSED_ON = {
  crashSignal: { shown: '128+N', meaning: 'crash-watch: the watched process crashed with signal N (139 = SIGSEGV, 134 = SIGABRT)' },
  commandStatus: { shown: 'N', meaning: "crash-watch -- CMD: the command exited with status N (no crash): its own status" },
} as const;

export type ExitStatus = ExitCodeName | keyof typeof PASSED_ON;

const MEANINGS: Record<ExitCodeName, string> = {
  ok: 'ok',
  failed: 'the operation failed, or a bug (FERRY_ERR_INTERNAL)',
  usage: 'usage error: bad flag or argument, unknown command, no app in the directory, several instances and no --instance',
  notRunning: 'no Ferry instance is running',
  notResponding: 'the instance is not responding',
  environment: 'the host refused: port in use, permission denied, a file that cannot be written',
  appStartFailed: 'the app could not be started: it exited at start, or never listened',
  unauthorized: 'not allowed: no valid admin token for this instance (run as its user or root)',
  gdbMissing: 'crash-watch: gdb is not installed',
  ptraceDenied: 'crash-watch: the kernel refused to let gdb attach (ptrace)',
  processGone: 'crash-watch: no process with that pid',
  partial: 'crash-watch: the dump was taken, but the Node inspector it opened did not close',
  inProgress: 'a --wait (or restart --timeout) ran out of time; the operation goes on',
};

/** How a status is shown (its number, or 128+N) and what it means. */
export function describeExitStatus(status: ExitStatus): { shown: string; meaning: string } {
  if (status in PASSED_ON) return PASSED_ON[status as keyof typeof PASSED_ON];
  return { shown: String(EXIT_CODES[status as ExitCodeName]), meaning: MEANINGS[status as ExitCodeName] };
}

/** Every status, in the order help and docs list them. */
export const ALL_EXIT_STATUSES: readonly ExitStatus[] = [...(Object.keys(EXIT_CODES) as ExitCodeName[]), ...(Object.keys(PASSED_ON) as (keyof typeof PASSED_ON)[])];

/** The one map from error code to exit status: a code always ends a command the same way. */
export const EXIT_FOR_CODE: Record<ErrorCode, ExitCodeName> = {
  FERRY_ERR_INTERNAL: 'failed',
  FERRY_ERR_USAGE: 'usage',
  FERRY_ERR_CONFIG_INVALID: 'usage',
  FERRY_ERR_FAULTS_INVALID: 'usage',
  FERRY_ERR_APP_NOT_FOUND: 'usage',
  FERRY_ERR_INSTANCE_AMBIGUOUS: 'usage',
  FERRY_ERR_APP_USER_ROOT: 'usage',
  FERRY_ERR_APP_USER_UNKNOWN: 'usage',
  FERRY_ERR_APP_USER_NOT_ALLOWED: 'usage',
  FERRY_ERR_LISTEN_FDS_INVALID: 'usage',
  FERRY_ERR_APP_UNKNOWN: 'usage',
  FERRY_ERR_PROCESS_UNKNOWN: 'usage',
  FERRY_ERR_ADMIN_BAD_REQUEST: 'usage',
  FERRY_ERR_INSTANCE_NOT_RUNNING: 'notRunning',
  FERRY_ERR_CORE_NOT_RESPONDING: 'notResponding',
  FERRY_ERR_LISTEN_IN_USE: 'environment',
  FERRY_ERR_LISTEN_PERMISSION: 'environment',
  FERRY_ERR_LISTEN_FAILED: 'environment',
  FERRY_ERR_APP_USER_NO_ACCESS: 'environment',
  FERRY_ERR_FILE_UNWRITABLE: 'environment',
  FERRY_ERR_FILE_UNSAFE: 'environment',
  FERRY_ERR_LOG_UNREADABLE: 'environment',
  FERRY_ERR_SPAWN_EXITED: 'appStartFailed',
  FERRY_ERR_SPAWN_TIMEOUT: 'appStartFailed',
  FERRY_ERR_SPAWN_FAILED: 'appStartFailed',
  FERRY_ERR_SPAWN_NOT_READY: 'appStartFailed',
  FERRY_ERR_ADMIN_UNAUTHORIZED: 'unauthorized',
  FERRY_ERR_ADMIN_FORBIDDEN: 'unauthorized',
  FERRY_ERR_GDB_MISSING: 'gdbMissing',
  FERRY_ERR_PTRACE_DENIED: 'ptraceDenied',
  FERRY_ERR_PROCESS_GONE: 'processGone',
  FERRY_ERR_WAIT_TIMEOUT: 'inProgress',
  FERRY_ERR_CORE_START_FAILED: 'failed',
  FERRY_ERR_CORE_CRASH_LOOP: 'failed',
  FERRY_ERR_CORE_RESTART_BUSY: 'failed',
  FERRY_ERR_CORE_RESTART_FAILED: 'failed',
  FERRY_ERR_STOP_TIMEOUT: 'failed',
  FERRY_ERR_UPSTREAM_FAILED: 'failed',
  FERRY_ERR_POOL_UNAVAILABLE: 'failed',
  FERRY_ERR_SHUTTING_DOWN: 'failed',
  FERRY_ERR_ADMIN_NOT_FOUND: 'failed',
  FERRY_ERR_RESTART_FAILED: 'failed',
  FERRY_ERR_POOL_QUEUE_FULL: 'failed',
  FERRY_ERR_POOL_QUEUE_TIMEOUT: 'failed',
  FERRY_ERR_GDB_FAILED: 'failed',
  FERRY_ERR_LOG_REOPEN_FAILED: 'failed',
  FERRY_ERR_LOG_NOT_IN_FILE: 'failed',
};

/**
 * The EXIT CODES section of a command's --help: the statuses it declares, 0, 1 and 2 always
 * (every command can succeed, meet a bug, and be given a bad flag).
 */
export function exitCodeHelp(statuses: readonly ExitStatus[]): string {
  const listed = ALL_EXIT_STATUSES.filter((s) => s === 'ok' || s === 'failed' || s === 'usage' || statuses.includes(s));
  const rows = listed.map(describeExitStatus);
  const width = Math.max(...rows.map((r) => r.shown.length));
  return ['EXIT CODES', ...rows.map((r) => `  ${r.shown.padEnd(width)}  ${r.meaning}`)].join('\n');
}

export interface CommandExits {
  id: string;
  exitStatuses: readonly ExitStatus[];
}

/** The generated part of docs/errors.md: every status with the commands that return it, and every code's status. */
export function renderExitTables(commands: readonly CommandExits[]): string {
  const sorted = [...commands].sort((a, b) => a.id.localeCompare(b.id));
  const byStatus = ALL_EXIT_STATUSES.map((status) => {
    const { shown, meaning } = describeExitStatus(status);
    const which = status === 'ok' || status === 'failed' || status === 'usage' ? ['every command'] : sorted.filter((c) => c.exitStatuses.includes(status)).map((c) => `\`${c.id}\``);
    return `| ${shown} | ${meaning} | ${which.join(', ') || '(none)'} |`;
  });
  const byCode = (Object.entries(EXIT_FOR_CODE) as [ErrorCode, ExitCodeName][]).sort((a, b) => EXIT_CODES[a[1]] - EXIT_CODES[b[1]]).map(([code, exit]) => `| [${code}](#${code.toLowerCase()}) | ${EXIT_CODES[exit]} |`);
  return [
    '<!-- Generated by `npm run docs:errors` from src/cli/exit-codes.ts and each command\'s exitStatuses; do not edit by hand. -->',
    '## Exit statuses',
    '',
    '| status | meaning | returned by |',
    '|---|---|---|',
    ...byStatus,
    '',
    '## The exit status of each code',
    '',
    '| code | exit status |',
    '|---|---|',
    ...byCode,
    '<!-- end of generated part -->',
  ].join('\n');
}

export const GENERATED_START = '<!-- Generated by `npm run docs:errors`';
export const GENERATED_END = '<!-- end of generated part -->';

/** docs/errors.md with its generated part replaced by `tables` (or inserted before the first code). */
export function withExitTables(doc: string, tables: string): string {
  const start = doc.indexOf(GENERATED_START);
  if (start >= 0) {
    const end = doc.indexOf(GENERATED_END, start) + GENERATED_END.length;
    return doc.slice(0, start) + tables + doc.slice(end);
  }
  const firstCode = doc.indexOf('\n## FERRY_ERR_');
  return `${doc.slice(0, firstCode + 1)}${tables}\n\n${doc.slice(firstCode + 1)}`;
}
