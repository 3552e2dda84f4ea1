// How every command shows an error, in one place and without oclif or chalk, so the fast path
// of `ferry status` renders exactly what the oclif commands do.

import { CliError } from './errors.js';
import { EXIT_CODES } from './exit-codes.js';

export interface RenderedError {
  /** What to print on stdout (--json), if anything. */
  stdout?: string;
  /** What to print on stderr, if anything. */
  stderr?: string;
  exitCode: number;
}

interface OclifLikeError extends Error {
  oclif?: { exit?: number };
}

export function renderError(err: OclifLikeError, opts: { json: boolean; color: boolean; commandId?: string }): RenderedError {
  let code: string;
  let exitCode: number;
  let suggestions: string[] = [];
  if (err instanceof CliError) {
    code = err.code;
    exitCode = err.exitCode;
    suggestions = err.suggestions;
  } else if (err.oclif?.exit !== undefined) {
    // oclif's own parse errors: unknown flag, bad value, missing argument.
    code = 'FERRY_ERR_USAGE';
    exitCode = err.oclif.exit;
  } else {
    code = 'FERRY_ERR_INTERNAL';
    exitCode = EXIT_CODES.failed;
  }
  const message = err.message.replace(/\n+See more help with --help$/, '');
  if (opts.json) return { stdout: JSON.stringify({ error: { code, message, suggestions } }, null, 2) + '\n', exitCode };
  const first = `Error: ${message}`;
  let stderr = `${opts.color ? `\u001b[31m${first}\u001b[39m` : first}\n`;
  for (const suggestion of suggestions) stderr += `  ${suggestion}\n`;
  if (code === 'FERRY_ERR_USAGE') stderr += `  See: ferry ${opts.commandId ? `${opts.commandId} ` : ''}--help\n`;
  if (code === 'FERRY_ERR_INTERNAL' && process.env.DEBUG) stderr += `${err.stack ?? ''}\n`;
  return { stderr, exitCode };
}
