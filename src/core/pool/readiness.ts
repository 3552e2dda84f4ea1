// The readiness check of a new process (--readiness-path), as Kubernetes' readiness probe but at
// spawn time: once the process listens, the core GETs the path over the process's own socket or
// port, every READINESS_INTERVAL_MS, until it answers 2xx; only then does the process enter
// rotation. What counts as ready and how a check is described are pure, tested directly.

import type { AppConfig, ReadinessCheck } from '../../lib/config.js';
import type { WorkerProcess } from './worker.js';

/** Between two checks of one process. */
export const READINESS_INTERVAL_MS = 100;
/** One check's whole answer may take this long (Kubernetes' default timeoutSeconds). */
export const READINESS_ATTEMPT_TIMEOUT_MS = 1_000;
/** So an app's logs (and its own access log) can tell the checks from real requests. */
export const READINESS_USER_AGENT = 'Ferry-readiness';

/** What one check got: an answer's status, or why there was none (an error code or a short phrase). */
export type CheckResult = { status: number } | { error: string };

/** Ready means a 2xx answer; a redirect is not (Kubernetes takes 3xx, but a check that redirects is usually a wrong path). */
export function isReady(result: CheckResult): boolean {
  return 'status' in result && result.status >= 200 && result.status < 300;
}

/** The check's result as status and errors show it: "503", "ECONNREFUSED", "no answer within 1s". */
export function describeCheck(result: CheckResult): string {
  return 'status' in result ? String(result.status) : result.error;
}

/** What a failed check's error is called: Node's code (ECONNREFUSED), or what the upstream client said. */
export function checkError(err: unknown, attemptTimeoutMs: number): string {
  const code = (err as { code?: unknown }).code;
  if (code === 'FERRY_UPSTREAM_TIMEOUT') return `no answer within ${Math.max(1, Math.round(attemptTimeoutMs / 1000))}s`;
  if (code === 'FERRY_UPSTREAM_CLOSED') return 'connection closed before an answer';
  if (code === 'FERRY_UPSTREAM_BAD_RESPONSE') return 'not a valid HTTP answer';
  if (typeof code === 'string') return code;
  return (err as Error).message;
}

/** The Host of a check: the app's first host name, else localhost (the app's default host). */
export function readinessHost(app: Pick<AppConfig, 'hosts'>): string {
  return app.hosts[0] ?? 'localhost';
}

export type ReadinessOutcome =
  | { kind: 'ready' }
  /** Taken out of 'starting' by someone else meanwhile (the group stops): no failure of the app's. */
  | { kind: 'left' }
  /** Exited while its checks had not answered 2xx yet. */
  | { kind: 'exited'; last: string }
  | { kind: 'timeout'; last: string };

/** One check: GET the path on the process's own upstream (kept alive, so a later request may reuse it). */
export async function checkOnce(worker: WorkerProcess, app: Pick<AppConfig, 'hosts'>, path: string, timeoutMs: number): Promise<CheckResult> {
  try {
    const { status } = await worker.upstream.request({ method: 'GET', path, headers: ['Host', readinessHost(app), 'User-Agent', READINESS_USER_AGENT] }, timeoutMs);
    return { status };
  } catch (err) {
    return { error: checkError(err, timeoutMs) };
  }
}

/**
 * Checks until a 2xx, the process leaves 'starting' (exit, or the group stopped it), or
 * `check.timeoutMs` passed. Each result is kept in `worker.notReady` for status.
 */
export async function awaitReadiness(worker: WorkerProcess, app: Pick<AppConfig, 'hosts'>, check: ReadinessCheck): Promise<ReadinessOutcome> {
  const deadline = Date.now() + check.timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    if (worker.exitedFrom === 'starting') return { kind: 'exited', last };
    if (worker.state !== 'starting') return { kind: 'left' };
    const left = deadline - Date.now();
    if (left <= 0) return { kind: 'timeout', last };
    const result = await checkOnce(worker, app, check.path, Math.min(READINESS_ATTEMPT_TIMEOUT_MS, left));
    if (isReady(result) && worker.state === 'starting') return { kind: 'ready' };
    // An error from a process that has just exited says less than the answer before it did.
    if (worker.exitedFrom === undefined) last = describeCheck(result);
    worker.notReady = last;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([new Promise((resolve) => (timer = setTimeout(resolve, Math.min(READINESS_INTERVAL_MS, Math.max(0, deadline - Date.now()))))), worker.exited]);
    clearTimeout(timer);
  }
}
