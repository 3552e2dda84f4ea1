// The health endpoint for load balancers (--health-check-path): answered by the core on the
// public port, before the turbocache and the apps, so a balancer learns whether this host can
// serve and, during a graceful stop, that it should send its traffic elsewhere.

/**
 * ready: serving, and every app can serve (a process takes requests, or one is starting).
 * starting: the core listens but its app processes are not up yet.
 * draining: a graceful stop began; requests are still served, but send no new ones.
 * unavailable: an app cannot start (its spawns fail); requests for it would get 503.
 */
export type HealthStatus = 'ready' | 'starting' | 'draining' | 'unavailable';

export interface HealthFacts {
  /** The pool has started (its minimum processes are up). */
  serving: boolean;
  draining: boolean;
  apps: readonly { name: string; canServe: boolean }[];
}

export interface HealthVerdict {
  httpStatus: 200 | 503;
  body: { status: HealthStatus; unavailableApps?: string[] };
}

export function healthVerdict(facts: HealthFacts): HealthVerdict {
  if (facts.draining) return { httpStatus: 503, body: { status: 'draining' } };
  if (!facts.serving) return { httpStatus: 503, body: { status: 'starting' } };
  const down = facts.apps.filter((a) => !a.canServe).map((a) => a.name);
  if (down.length > 0) return { httpStatus: 503, body: { status: 'unavailable', unavailableApps: down } };
  return { httpStatus: 200, body: { status: 'ready' } };
}

/** The request asks for the health path (query string ignored); the common case costs one startsWith. */
export function isHealthCheckRequest(url: string | undefined, healthPath: string): boolean {
  if (url === undefined || !url.startsWith(healthPath)) return false;
  return url.length === healthPath.length || url.charCodeAt(healthPath.length) === 63; // '?'
}

/** Shared between main.ts (which changes it) and the proxy (which reports it). */
export class HealthState {
  serving = false;
  draining = false;
}
