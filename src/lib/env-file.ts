// Reads an env file (--env-file, "env-file" in ferry.json) as root may: through
// openTrustedFileForReading (no link, no file of another user's), then parsed strictly (dotenv.ts);
// and merges an app's environment from its layers. Precedence, lowest first: what Ferry itself
// sets by default (NODE_ENV from --environment) and inherits, then env files (in order, later
// files win), then the chosen environment's "env" in ferry.json, then the app's "env", then
// --envvar on the command line. ferry start reads the files; a restart of the app reads them again.

import fs from 'node:fs';
import path from 'node:path';
import { parseDotenv } from './dotenv.js';
import { openTrustedFileForReading } from './own-files.js';

export interface EnvLayers {
  /** Absolute paths, lowest first: ferry.json's (top level, app, environment), then --env-file. */
  files: string[];
  /** "environments": {NAME: {"env": …}} for the chosen --environment (top level, then the app's). */
  environment: Record<string, string>;
  /** "env" (or "envvar") in ferry.json: the top level's, then the app's. */
  app: Record<string, string>;
  /** --envvar on the command line, resolved to values. */
  cli: Record<string, string>;
}

/** The layers merged by precedence; `read` gives each file's variables (pure with a fake). */
export function mergeEnvLayers(layers: EnvLayers, read: (file: string) => Record<string, string>): Record<string, string> {
  const fromFiles = Object.assign({}, ...layers.files.map(read)) as Record<string, string>;
  return { ...fromFiles, ...layers.environment, ...layers.app, ...layers.cli };
}

export interface EnvFile {
  env: Record<string, string>;
  /** Group or others may read (or write) it: worth a warning, since it likely holds secrets. */
  exposed: boolean;
}

/** Throws DotenvError for bad content, UnsafeFileError for a refused path, the system's error otherwise. */
export function readEnvFile(file: string): EnvFile {
  const absolute = path.resolve(file);
  const { fd, stat } = openTrustedFileForReading(absolute, 'env file', '--env-file');
  try {
    const env = parseDotenv(fs.readFileSync(fd, 'utf8'), absolute);
    return { env, exposed: (stat.mode & 0o077) !== 0 && Object.keys(env).length > 0 };
  } finally {
    fs.closeSync(fd);
  }
}
