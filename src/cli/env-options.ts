// ferry start's side of an app's environment: env files read with errors an operator can act on
// (the layers and their precedence: lib/env-file.ts).

import { DotenvError } from '../lib/dotenv.js';
import { readEnvFile, type EnvFile } from '../lib/env-file.js';
import { UnsafeFileError } from '../lib/own-files.js';
import { CliError, cliErrorFromPayload } from './errors.js';

/** Reads an env file for ferry start: every failure a CliError that says which file and what to do. */
export function loadEnvFile(file: string, warn: (message: string) => void): Record<string, string> {
  let loaded: EnvFile;
  try {
    loaded = readEnvFile(file);
  } catch (err) {
    if (err instanceof UnsafeFileError) throw cliErrorFromPayload(err.toPayload());
    if (err instanceof DotenvError) throw new CliError('FERRY_ERR_CONFIG_INVALID', `env file ${err.message}`, ['Fix that line (see "Env files" in docs/guides/deploying.md for the syntax).']);
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new CliError('FERRY_ERR_CONFIG_INVALID', `cannot read env file ${file}: ${why}`, ['Check the --env-file (or "env-file" in ferry.json) path.']);
  }
  if (loaded.exposed) warn(`env file ${file} may be read by other users; if it holds secrets: chmod 600 ${file}`);
  return loaded.env;
}
