// The error codes that travel between processes (core -> watchdog -> CLI, admin API -> CLI).
// Codes never change once released; messages may. Each is documented in docs/errors.md.

export const ERROR_CODES = [
  'FERRY_ERR_INTERNAL',
  'FERRY_ERR_CONFIG_INVALID',
  'FERRY_ERR_APP_NOT_FOUND',
  'FERRY_ERR_LISTEN_IN_USE',
  'FERRY_ERR_LISTEN_PERMISSION',
  'FERRY_ERR_LISTEN_FAILED',
  'FERRY_ERR_SPAWN_EXITED',
  'FERRY_ERR_SPAWN_TIMEOUT',
  'FERRY_ERR_SPAWN_FAILED',
  'FERRY_ERR_SPAWN_NOT_READY',
  'FERRY_ERR_CORE_START_FAILED',
  'FERRY_ERR_CORE_CRASH_LOOP',
  'FERRY_ERR_CORE_RESTART_BUSY',
  'FERRY_ERR_CORE_RESTART_FAILED',
  'FERRY_ERR_INSTANCE_NOT_RUNNING',
  'FERRY_ERR_INSTANCE_AMBIGUOUS',
  'FERRY_ERR_STOP_TIMEOUT',
  'FERRY_ERR_UPSTREAM_FAILED',
  'FERRY_ERR_POOL_UNAVAILABLE',
  'FERRY_ERR_SHUTTING_DOWN',
  'FERRY_ERR_USAGE',
  'FERRY_ERR_ADMIN_UNAUTHORIZED',
  'FERRY_ERR_ADMIN_FORBIDDEN',
  'FERRY_ERR_ADMIN_NOT_FOUND',
  'FERRY_ERR_ADMIN_BAD_REQUEST',
  'FERRY_ERR_CORE_NOT_RESPONDING',
  'FERRY_ERR_APP_UNKNOWN',
  'FERRY_ERR_PROCESS_UNKNOWN',
  'FERRY_ERR_RESTART_FAILED',
  'FERRY_ERR_POOL_QUEUE_FULL',
  'FERRY_ERR_POOL_QUEUE_TIMEOUT',
  'FERRY_ERR_GDB_MISSING',
  'FERRY_ERR_PTRACE_DENIED',
  'FERRY_ERR_PROCESS_GONE',
  'FERRY_ERR_GDB_FAILED',
  'FERRY_ERR_FAULTS_INVALID',
  'FERRY_ERR_LOG_REOPEN_FAILED',
  'FERRY_ERR_APP_USER_ROOT',
  'FERRY_ERR_APP_USER_UNKNOWN',
  'FERRY_ERR_APP_USER_NOT_ALLOWED',
  'FERRY_ERR_APP_USER_NO_ACCESS',
  'FERRY_ERR_LISTEN_FDS_INVALID',
  'FERRY_ERR_FILE_UNSAFE',
  'FERRY_ERR_FILE_UNWRITABLE',
  'FERRY_ERR_WAIT_TIMEOUT',
  'FERRY_ERR_LOG_NOT_IN_FILE',
  'FERRY_ERR_LOG_UNREADABLE',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** An error as it travels over IPC or JSON: plain data, never a class instance. */
export interface ErrorPayload {
  code: ErrorCode;
  message: string;
  /** What the operator can do about it; one short sentence each. */
  suggestions?: string[];
  details?: Record<string, unknown>;
}

/** Match on `code`, never on `instanceof`: the CLI and the core may be different builds. */
export function hasErrorCode(err: unknown, code: ErrorCode): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

export function isErrorPayload(value: unknown): value is ErrorPayload {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as ErrorPayload).code === 'string' &&
    typeof (value as ErrorPayload).message === 'string'
  );
}
