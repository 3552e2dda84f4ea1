// The public front's door (pure): whether a request is let in, and as what. Every check a request
// passes before it is routed, answered from the cache or forwarded, in one place, so plain
// requests, Expect: 100-continue and upgrades are refused alike.

import type { IncomingHttpHeaders } from 'node:http';
import { OOB_WORK_PATH } from '../pool/app-group.js';
import { requestOrigin, type RequestOrigin } from './authority.js';
import { announcesTooLargeBody, bodyTooLargeRefusal, hasTooManyFields, TOO_MANY_FIELDS_REASON } from './client-limits.js';
import type { ErrorResponse } from './error-responses.js';
import { framingVerdict } from './message-framing.js';

/** What the door looks at (stages/accept.ts makes it from the engine's head). */
export interface DoorRequest {
  method: string;
  /** The request target as sent. */
  url: string;
  httpVersion: string;
  /** Flat [name, value, ...], as sent. */
  rawHeaders: string[];
  /** Lower-case names, repeated fields joined. */
  headers: IncomingHttpHeaders;
}

export interface DoorOptions {
  /** Behind a trusted front server (--socket): its X-Forwarded-Host and -Proto count. */
  trustForwarded: boolean;
  /** --max-body-size in bytes; 0 = none. */
  maxBodyBytes: number;
}

export type Refusal = Omit<ErrorResponse, 'requestId'>;

export type DoorVerdict = { admitted: true; origin: RequestOrigin } | { admitted: false; refusal: Refusal };

/** The methods Ferry's answer to `OPTIONS *` names (RFC 9110 §9.3.7): what its apps are sent. */
export const SERVER_OPTIONS_ALLOW = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';

/**
 * Every refusal closes the connection: what follows a refused request on it (a body, a pipelined
 * request) is never read, so it cannot be taken for another request.
 */
function refuse(status: Refusal['status'], reason: string): DoorVerdict {
  return { admitted: false, refusal: { status, reason, close: true } };
}

export function doorVerdict(req: DoorRequest, opts: DoorOptions): DoorVerdict {
  const framing = framingVerdict(req.httpVersion, req.rawHeaders);
  if (framing !== undefined) return refuse(400, framing);
  if (hasTooManyFields(req.rawHeaders)) return refuse(431, TOO_MANY_FIELDS_REASON);
  const verdict = requestOrigin({ method: req.method, target: req.url, httpVersion: req.httpVersion, rawHeaders: req.rawHeaders, trustForwarded: opts.trustForwarded });
  if (!verdict.ok) return refuse(400, verdict.reason);
  // As nginx answers a client's request for an internal location.
  if (isReservedPath(verdict.origin.target)) return refuse(404, 'There is no page at this address.');
  if (announcesTooLargeBody(req, opts.maxBodyBytes)) return { admitted: false, refusal: bodyTooLargeRefusal(opts.maxBodyBytes) };
  return { admitted: true, origin: verdict.origin };
}

/** One round of what an app's router may do to a path before it matches it. */
function loosen(path: string): string {
  let out = path.replace(/\\/g, '/').replace(/\/{2,}/g, '/');
  try {
    out = new URL(out, 'http://x').pathname; // dot segments, %2e among them
  } catch {
    // kept as it is
  }
  try {
    out = decodeURIComponent(out);
  } catch {
    // kept as it is
  }
  return out.toLowerCase().replace(/\\/g, '/').replace(/\/{2,}/g, '/').replace(/\/+$/, '');
}

/**
 * Ferry's own out-of-band work request to an app (POST /ferry/oob-work) must not come from a
 * client. Compared as loosely as an app's router might match it: case, %-escapes, dot segments,
 * repeated and trailing slashes aside.
 */
export function isReservedPath(target: string): boolean {
  const query = target.indexOf('?');
  let path = query < 0 ? target : target.slice(0, query);
  // Most paths are nothing like it: one test, then done.
  if (!/ferry|%/i.test(path)) return false;
  for (let round = 0; round < 3; round++) {
    const next = loosen(path);
    if (next === OOB_WORK_PATH) return true;
    if (next === path) break;
    path = next;
  }
  return false;
}
