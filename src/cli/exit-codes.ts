// One map from outcome to exit code, used by every command and shown in help.

export const EXIT_CODES = {
  ok: 0,
  failed: 1,
  usage: 2,
  notRunning: 3,
  notResponding: 4,
  /** The host refused something we need: port in use, permission denied. */
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
  partial: 68,
  inProgress: 69,
} as const;

export type ExitCodeName = keyof typeof EXIT_CODES;

export const EXIT_CODE_HELP = `EXIT CODES
  0  ok
  1  operation failed
  2  usage error (bad flag, no app in the directory, several instances and no --instance)
  3  no Ferry instance is running
  4  the instance is not responding
  5  the host refused (port in use, permission denied)
  6  the app could not be started (exited at start, never listened)
  7  not allowed: no valid admin token for this instance (run as its user or root)
  8  gdb is not installed (crash-watch)
  9  the kernel refused to let gdb attach: ptrace not permitted (crash-watch)
  10 no process with that pid (crash-watch)`;
