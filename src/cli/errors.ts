// The CLI's errors: user errors (actionable, with suggestions), errors of processes we started,
// and bugs. Each carries a stable code and the exit code it maps to.

import type { ErrorCode, ErrorPayload } from '../lib/error-codes.js';
import { EXIT_CODES, type ExitCodeName } from './exit-codes.js';

export class CliError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;
  readonly suggestions: string[];

  constructor(code: ErrorCode, message: string, exit: ExitCodeName, suggestions: string[] = []) {
    super(message);
    this.name = 'CliError';
    this.code = code;
    this.exitCode = EXIT_CODES[exit];
    this.suggestions = suggestions;
  }
}

/** The exit code for an error that came from the watchdog or the core. */
export function exitNameForCode(code: ErrorCode): ExitCodeName {
  switch (code) {
    case 'FERRY_ERR_CONFIG_INVALID':
    case 'FERRY_ERR_FAULTS_INVALID':
    case 'FERRY_ERR_APP_NOT_FOUND':
    case 'FERRY_ERR_INSTANCE_AMBIGUOUS':
    case 'FERRY_ERR_APP_USER_ROOT':
    case 'FERRY_ERR_APP_USER_UNKNOWN':
    case 'FERRY_ERR_APP_USER_NOT_ALLOWED':
    case 'FERRY_ERR_LISTEN_FDS_INVALID':
      return 'usage';
    case 'FERRY_ERR_APP_USER_NO_ACCESS':
    case 'FERRY_ERR_FILE_UNSAFE':
    case 'FERRY_ERR_LISTEN_IN_USE':
    case 'FERRY_ERR_LISTEN_PERMISSION':
    case 'FERRY_ERR_LISTEN_FAILED':
      return 'environment';
    case 'FERRY_ERR_SPAWN_EXITED':
    case 'FERRY_ERR_SPAWN_TIMEOUT':
    case 'FERRY_ERR_SPAWN_FAILED':
      return 'appStartFailed';
    case 'FERRY_ERR_INSTANCE_NOT_RUNNING':
      return 'notRunning';
    case 'FERRY_ERR_CORE_NOT_RESPONDING':
      return 'notResponding';
    case 'FERRY_ERR_ADMIN_UNAUTHORIZED':
    case 'FERRY_ERR_ADMIN_FORBIDDEN':
      return 'unauthorized';
    case 'FERRY_ERR_GDB_MISSING':
      return 'gdbMissing';
    case 'FERRY_ERR_PTRACE_DENIED':
      return 'ptraceDenied';
    case 'FERRY_ERR_PROCESS_GONE':
      return 'processGone';
    case 'FERRY_ERR_APP_UNKNOWN':
    case 'FERRY_ERR_PROCESS_UNKNOWN':
    case 'FERRY_ERR_ADMIN_BAD_REQUEST':
      return 'usage';
    default:
      return 'failed';
  }
}

export function cliErrorFromPayload(payload: ErrorPayload): CliError {
  return new CliError(payload.code, payload.message, exitNameForCode(payload.code), payload.suggestions ?? []);
}
