// A restart of an app reads its env files again, so the processes it starts get what the files
// say now (PM2's most-filed bug: restarts that keep the old environment). Same reader and rules
// as ferry start (lib/env-file.ts); a file that cannot be read refuses the restart instead.

import { DotenvError } from '../../lib/dotenv.js';
import { mergeEnvLayers, readEnvFile } from '../../lib/env-file.js';
import type { AppConfig } from '../../lib/config.js';
import { UnsafeFileError } from '../../lib/own-files.js';
import { CoreError } from '../errors.js';

/**
 * Re-reads the env files of `app` (if it has any) into app.envvars. Returns the names whose value
 * changed, appeared or went (never the values). Throws CoreError, leaving app.envvars as it was.
 */
export function rereadAppEnv(app: AppConfig): string[] {
  const layers = app.envLayers;
  if (!layers || layers.files.length === 0) return [];
  let next: Record<string, string>;
  try {
    next = mergeEnvLayers(layers, (file) => readEnvFile(file).env);
  } catch (err) {
    const keep = `The app keeps running as it is; fix the file and restart again.`;
    if (err instanceof UnsafeFileError) throw new CoreError('FERRY_ERR_FILE_UNSAFE', `not restarting ${app.name}: ${err.message}`, { suggestions: [...err.suggestions, keep] });
    if (err instanceof DotenvError) throw new CoreError('FERRY_ERR_CONFIG_INVALID', `not restarting ${app.name}: env file ${err.message}`, { suggestions: [keep] });
    throw new CoreError('FERRY_ERR_CONFIG_INVALID', `not restarting ${app.name}: cannot read an env file: ${(err as Error).message}`, { suggestions: [keep] });
  }
  const before = app.envvars;
  const changed = [...new Set([...Object.keys(before), ...Object.keys(next)])].filter((name) => before[name] !== next[name]).sort();
  app.envvars = next;
  return changed;
}
