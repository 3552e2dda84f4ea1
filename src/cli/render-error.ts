// How every command shows an error, in one place and without oclif or chalk, so the fast path
// of `ferry status` renders exactly what the oclif commands do.

import { closestName } from '../lib/did-you-mean.js';
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

/**
 * oclif's parse errors in Ferry's voice: one line (oclif wraps some in "The following error
 * occurred:" and splits others over lines with tabs), and a "did you mean" for a mistyped flag.
 * `flags`: the command's flag names (without dashes), when known.
 */
export function usageMessage(raw: string, flags: readonly string[] = []): { message: string; suggestions: string[] } {
  let text = raw.replace(/\n+See more help with --help$/, '');
  const listed = /^The following errors? occurred:\n([\s\S]*)$/.exec(text);
  if (listed) text = (listed[1] as string).split('\n').map((line) => line.trim()).filter(Boolean).join('; ');
  const suggestions: string[] = [];
  let match: RegExpExecArray | null;
  if ((match = /^Nonexistent flags?: (.+)$/.exec(text))) {
    const given = (match[1] as string).split(/,\s*/);
    text = `unknown flag${given.length > 1 ? 's' : ''} ${given.join(', ')}`;
    for (const flag of given) {
      const guess = flag.startsWith('--') ? closestName(flag.slice(2).split('=')[0] as string, flags) : undefined;
      if (guess) suggestions.push(`Did you mean --${guess} (for ${flag})?`);
    }
  } else if ((match = /^Parsing (--?[\w-]+)\s*\n\s*([\s\S]+)$/.exec(text))) {
    const detail = (match[2] as string).trim();
    text = `${match[1]}: ${detail.charAt(0).toLowerCase()}${detail.slice(1)}`;
  } else if ((match = /^Missing (\d+) required args?:\n([\s\S]+)$/.exec(text))) {
    const args = (match[2] as string).split('\n').map((line) => line.trim()).filter(Boolean).map((line) => {
      const [name, ...rest] = line.split(/\s{2,}/);
      return rest.length > 0 ? `${(name as string).toUpperCase()} (${rest.join(' ').replace(/\.$/, '')})` : (name as string).toUpperCase();
    });
    text = `missing argument${args.length > 1 ? 's' : ''}: ${args.join(', ')}`;
  } else if ((match = /^Flag (--?[\w-]+) expects a value$/.exec(text))) {
    text = `${match[1]} needs a value`;
  } else if ((match = /^Flag (--?[\w-]+) expects one of these values: (.+)$/.exec(text))) {
    text = `${match[1]} needs one of these values: ${match[2]}`;
  } else if ((match = /^Flag (--?[\w-]+) can only be specified once$/.exec(text))) {
    text = `${match[1]} can be given only once`;
  } else if ((match = /^Unexpected arguments?: (.+)$/.exec(text))) {
    text = `unexpected argument${(match[1] as string).includes(',') ? 's' : ''}: ${match[1]}`;
  }
  // Whatever else oclif says, on one line.
  return { message: text.replace(/\s*\n\s*/g, ' ').trim(), suggestions };
}

export function renderError(err: OclifLikeError, opts: { json: boolean; color: boolean; commandId?: string; flags?: readonly string[] }): RenderedError {
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
    exitCode = EXIT_CODES.usage;
    const usage = usageMessage(err.message, opts.flags);
    err = Object.assign(new Error(usage.message), { stack: err.stack });
    suggestions = usage.suggestions;
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
