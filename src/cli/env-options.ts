// The app's environment from its layers. Precedence, lowest first: what Ferry itself sets by
// default (NODE_ENV from --environment) and inherits, then env files (in order, later files win),
// then the chosen environment's "env" in ferry.json, then the app's "env", then --envvar on the
// command line. Files are read here, once, when the config is built.

import { DotenvError } from '../lib/dotenv.js';
import { readEnvFile, type EnvFile } from '../lib/env-file.js';
import { UnsafeFileError } from '../lib/own-files.js';
import { CliError, cliErrorFromPayload } from './errors.js';

export interface EnvLayers {
  /** Absolute paths, lowest first: ferry.json's (top level, app, environment), then --env-file. */
  files: string[];
  /** "environments": {NAME: {"env": …}} for the chosen --environment (top level, then the app's). */
  environment: Record<string, string>;
  /** "env" (or "envvar") in ferry.json: the top level's, then the app's. */
  app: Record<string, string>;
  /** --envvar on the command line, as NAME=VALUE. */
  cli: Record<string, string>;
}

export const NO_ENV: EnvLayers = { files: [], environment: {}, app: {}, cli: {} };

/** The layers merged by precedence; `read` gives each file's variables (pure with a fake). */
export function mergeEnvLayers(layers: EnvLayers, read: (file: string) => Record<string, string>): Record<string, string> {
  const fromFiles = Object.assign({}, ...layers.files.map(read)) as Record<string, string>;
  return { ...fromFiles, ...layers.environment, ...layers.app, ...layers.cli };
}

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
