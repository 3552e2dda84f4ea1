// Validates --readiness-path and --readiness-timeout (flags, or per app in ferry.json) into the
// readiness check of one app.

import type { ReadinessCheck } from '../lib/config.js';
import { CliError } from './errors.js';

function usage(message: string, suggestion: string): CliError {
  return new CliError('FERRY_ERR_CONFIG_INVALID', message, [suggestion]);
}

/**
 * The path goes into a request line as it is: visible ASCII only (no space, CR or LF that could
 * split the request), no fragment. A query is allowed (`/ready?deep=1`).
 */
const READINESS_PATH = /^\/[!-"$-~]*$/;

/** Undefined without a path; the timeout defaults to the app's start timeout. */
export function buildReadiness(pathText: string | undefined, timeoutS: number | undefined, startTimeoutMs: number): ReadinessCheck | undefined {
  if (pathText === undefined) return undefined;
  if (!READINESS_PATH.test(pathText)) {
    throw usage(`--readiness-path '${pathText}' is not a path`, 'Give a path that starts with /, in visible ASCII characters, without #: for example --readiness-path /ready');
  }
  if (timeoutS === undefined) return { path: pathText, timeoutMs: startTimeoutMs };
  if (!Number.isInteger(timeoutS) || timeoutS < 1) {
    throw usage(`--readiness-timeout must be a whole number of seconds, 1 or more (got ${timeoutS})`, 'For example: --readiness-timeout 30, or "readiness-timeout": 30 for one app in ferry.json.');
  }
  return { path: pathText, timeoutMs: timeoutS * 1000 };
}

/** A timeout given for no app that has a path would bound nothing: most likely the path was forgotten. */
export function checkReadinessTimeoutUsed(apps: readonly { readinessPath?: string; readinessTimeoutS?: number }[]): void {
  if (apps.some((a) => a.readinessTimeoutS !== undefined) && !apps.some((a) => a.readinessPath !== undefined)) {
    throw usage('--readiness-timeout needs --readiness-path: it bounds how long a new process may take to answer that path', 'Add --readiness-path /ready (the path your app answers 2xx on once it can serve), or drop --readiness-timeout.');
  }
}
