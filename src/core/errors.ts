// The core's error registry: every code with its HTTP status and kind, and the one error class
// the core throws. Codes are shared with the CLI through lib/error-codes.ts.

import type { ErrorCode, ErrorPayload } from '../lib/error-codes.js';

/** user: bad input or configuration; environment: the host refused (port, permission, resources); bug: ours. */
export type ErrorKind = 'user' | 'environment' | 'bug';

interface ErrorSpec {
  httpStatus: number;
  kind: ErrorKind;
}

const REGISTRY: Record<ErrorCode, ErrorSpec> = {
  FERRY_ERR_INTERNAL: { httpStatus: 500, kind: 'bug' },
  FERRY_ERR_CONFIG_INVALID: { httpStatus: 400, kind: 'user' },
  FERRY_ERR_APP_NOT_FOUND: { httpStatus: 400, kind: 'user' },
  FERRY_ERR_LISTEN_IN_USE: { httpStatus: 500, kind: 'environment' },
  FERRY_ERR_LISTEN_PERMISSION: { httpStatus: 500, kind: 'environment' },
  FERRY_ERR_LISTEN_FAILED: { httpStatus: 500, kind: 'environment' },
  FERRY_ERR_SPAWN_EXITED: { httpStatus: 503, kind: 'user' },
  FERRY_ERR_SPAWN_TIMEOUT: { httpStatus: 503, kind: 'user' },
  FERRY_ERR_SPAWN_FAILED: { httpStatus: 503, kind: 'environment' },
  FERRY_ERR_SPAWN_NOT_READY: { httpStatus: 503, kind: 'user' },
  FERRY_ERR_CORE_START_FAILED: { httpStatus: 500, kind: 'bug' },
  FERRY_ERR_CORE_CRASH_LOOP: { httpStatus: 500, kind: 'bug' },
  FERRY_ERR_CORE_RESTART_BUSY: { httpStatus: 409, kind: 'user' },
  FERRY_ERR_CORE_RESTART_FAILED: { httpStatus: 500, kind: 'environment' },
  FERRY_ERR_INSTANCE_NOT_RUNNING: { httpStatus: 404, kind: 'user' },
  FERRY_ERR_INSTANCE_AMBIGUOUS: { httpStatus: 400, kind: 'user' },
  FERRY_ERR_STOP_TIMEOUT: { httpStatus: 500, kind: 'environment' },
  FERRY_ERR_UPSTREAM_FAILED: { httpStatus: 502, kind: 'environment' },
  FERRY_ERR_POOL_UNAVAILABLE: { httpStatus: 503, kind: 'environment' },
  FERRY_ERR_SHUTTING_DOWN: { httpStatus: 503, kind: 'environment' },
  FERRY_ERR_USAGE: { httpStatus: 400, kind: 'user' },
  FERRY_ERR_ADMIN_UNAUTHORIZED: { httpStatus: 401, kind: 'user' },
  FERRY_ERR_ADMIN_FORBIDDEN: { httpStatus: 403, kind: 'user' },
  FERRY_ERR_ADMIN_NOT_FOUND: { httpStatus: 404, kind: 'user' },
  FERRY_ERR_ADMIN_BAD_REQUEST: { httpStatus: 400, kind: 'user' },
  FERRY_ERR_CORE_NOT_RESPONDING: { httpStatus: 504, kind: 'environment' },
  FERRY_ERR_APP_UNKNOWN: { httpStatus: 404, kind: 'user' },
  FERRY_ERR_PROCESS_UNKNOWN: { httpStatus: 404, kind: 'user' },
  FERRY_ERR_RESTART_FAILED: { httpStatus: 500, kind: 'environment' },
  FERRY_ERR_POOL_QUEUE_FULL: { httpStatus: 503, kind: 'environment' },
  FERRY_ERR_POOL_QUEUE_TIMEOUT: { httpStatus: 503, kind: 'environment' },
  FERRY_ERR_GDB_MISSING: { httpStatus: 500, kind: 'environment' },
  FERRY_ERR_PTRACE_DENIED: { httpStatus: 500, kind: 'environment' },
  FERRY_ERR_PROCESS_GONE: { httpStatus: 404, kind: 'user' },
  FERRY_ERR_GDB_FAILED: { httpStatus: 500, kind: 'environment' },
  FERRY_ERR_FAULTS_INVALID: { httpStatus: 400, kind: 'user' },
  FERRY_ERR_LOG_REOPEN_FAILED: { httpStatus: 500, kind: 'environment' },
  FERRY_ERR_APP_USER_ROOT: { httpStatus: 400, kind: 'user' },
  FERRY_ERR_APP_USER_UNKNOWN: { httpStatus: 400, kind: 'user' },
  FERRY_ERR_APP_USER_NOT_ALLOWED: { httpStatus: 400, kind: 'user' },
  FERRY_ERR_APP_USER_NO_ACCESS: { httpStatus: 500, kind: 'environment' },
  FERRY_ERR_LISTEN_FDS_INVALID: { httpStatus: 500, kind: 'user' },
  FERRY_ERR_FILE_UNSAFE: { httpStatus: 500, kind: 'environment' },
  FERRY_ERR_FILE_UNWRITABLE: { httpStatus: 500, kind: 'environment' },
  FERRY_ERR_WAIT_TIMEOUT: { httpStatus: 504, kind: 'environment' },
  // ferry logs' own (the CLI reads the file; no core answers with them).
  FERRY_ERR_LOG_NOT_IN_FILE: { httpStatus: 404, kind: 'user' },
  FERRY_ERR_LOG_UNREADABLE: { httpStatus: 500, kind: 'environment' },
};

export class CoreError extends Error {
  readonly code: ErrorCode;
  readonly httpStatus: number;
  readonly kind: ErrorKind;
  readonly suggestions: string[];
  readonly details: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { cause?: unknown; suggestions?: string[]; details?: Record<string, unknown> } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'CoreError';
    this.code = code;
    this.httpStatus = REGISTRY[code].httpStatus;
    this.kind = REGISTRY[code].kind;
    this.suggestions = opts.suggestions ?? [];
    this.details = opts.details ?? {};
  }

  toPayload(): ErrorPayload {
    const payload: ErrorPayload = { code: this.code, message: this.message };
    if (this.suggestions.length > 0) payload.suggestions = this.suggestions;
    if (Object.keys(this.details).length > 0) payload.details = this.details;
    return payload;
  }
}

/** Any thrown value as a payload; unknown errors become FERRY_ERR_INTERNAL. */
export function toErrorPayload(err: unknown): ErrorPayload {
  if (err instanceof CoreError) return err.toPayload();
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'FERRY_ERR_INTERNAL', message };
}
