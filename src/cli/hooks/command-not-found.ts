// oclif's hook for `ferry WORD` when WORD is no command: Ferry's usage error (FERRY_ERR_USAGE,
// exit 2), in JSON with --json, with the command the operator probably meant.

import type { Hook } from '@oclif/core';
import { closestName } from '../../lib/did-you-mean.js';
import { CliError } from '../errors.js';
import { renderError } from '../render-error.js';

/**
 * With topics separated by spaces, `ferry stop a b` reaches this hook as 'stop:a:b': a command
 * given words it does not take, which is what the operator must hear, not "no such command".
 */
function extraArguments(id: string, commandIDs: readonly string[]): { command: string; extra: string[] } | undefined {
  const words = id.split(':');
  for (let n = words.length - 1; n >= 1; n--) {
    const command = words.slice(0, n).join(':');
    if (commandIDs.includes(command)) return { command: command.replace(/:/g, ' '), extra: words.slice(n) };
  }
  return undefined;
}

const hook: Hook<'command_not_found'> = async function (opts) {
  const extra = extraArguments(opts.id, opts.config.commandIDs);
  const guess = closestName(opts.id, opts.config.commandIDs);
  const err = extra
    ? new CliError('FERRY_ERR_USAGE', `unexpected argument${extra.extra.length > 1 ? 's' : ''} for ferry ${extra.command}: ${extra.extra.join(' ')}`)
    : new CliError('FERRY_ERR_USAGE', `'${opts.id}' is not a ferry command`, guess ? [`Did you mean: ferry ${guess}`] : []);
  const json = (opts.argv ?? []).includes('--json');
  // "See: ferry COMMAND --help" for the command given too many words; "See: ferry --help" otherwise.
  const rendered = renderError(err, { json, color: Boolean(process.stderr.isTTY) && process.env.NO_COLOR === undefined, commandId: extra?.command });
  if (rendered.stdout) process.stdout.write(rendered.stdout);
  if (rendered.stderr) process.stderr.write(rendered.stderr);
  // As BaseCommand.catch does: rendered already, oclif only sets the exit code.
  throw Object.assign(new Error(err.message), { skipOclifErrorHandling: true, oclif: { exit: rendered.exitCode } });
};

export default hook;
