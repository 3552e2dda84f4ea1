// Reads an env file (--env-file, "env-file" in ferry.json) as root may: through
// openTrustedFileForReading (no link, no file of another user's), then parsed strictly (dotenv.ts).

import fs from 'node:fs';
import path from 'node:path';
import { parseDotenv } from './dotenv.js';
import { openTrustedFileForReading } from './own-files.js';

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
