// The CLI's errors: user errors (actionable, with suggestions), errors of processes we started,
// and bugs. Each carries a stable code; its exit status comes from the one table (EXIT_FOR_CODE).

import type { ErrorCode, ErrorPayload } from '../lib/error-codes.js';
import { EXIT_CODES, EXIT_FOR_CODE } from './exit-codes.js';

export class CliError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;
  readonly suggestions: string[];

  constructor(code: ErrorCode, message: string, suggestions: string[] = []) {
    super(message);
    this.name = 'CliError';
    this.code = code;
    this.exitCode = EXIT_CODES[EXIT_FOR_CODE[code]];
    this.suggestions = suggestions;
  }
}

export function cliErrorFromPayload(payload: ErrorPayload): CliError {
  return new CliError(payload.code, payload.message, payload.suggestions ?? []);
}
