// oclif's hook for `ferry WORD` when WORD is no command: Ferry's usage error (FERRY_ERR_USAGE,
// exit 2), in JSON with --json, with the command the operator probably meant.

import type { Hook } from '@oclif/core';
import { closestName } from '../../lib/did-you-mean.js';
import { CliError } from '../errors.js';
import { renderError } from '../render-error.js';

const hook: Hook<'command_not_found'> = async function (opts) {
  const guess = closestName(opts.id, opts.config.commandIDs);
  const err = new CliError('FERRY_ERR_USAGE', `'${opts.id}' is not a ferry command`, guess ? [`Did you mean: ferry ${guess}`] : []);
  const json = (opts.argv ?? []).includes('--json');
  const rendered = renderError(err, { json, color: Boolean(process.stderr.isTTY) && process.env.NO_COLOR === undefined });
  if (rendered.stdout) process.stdout.write(rendered.stdout);
  if (rendered.stderr) process.stderr.write(rendered.stderr);
  // As BaseCommand.catch does: rendered already, oclif only sets the exit code.
  throw Object.assign(new Error(err.message), { skipOclifErrorHandling: true, oclif: { exit: rendered.exitCode } });
};

export default hook;
