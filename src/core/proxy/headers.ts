// Header rewriting between client and app (pure): hop-by-hop headers stay on their own hop
// (RFC 9110 §7.6.1), and the app learns who the client was and what it asked for from Ferry's
// own Host, X-Forwarded-*, X-Real-IP and X-Request-Id. On TCP a client is nobody's word: those are
// Ferry's values, whatever it sent, and its Forwarded goes. Behind a trusted front (--socket) the
// front's are kept (it must overwrite what its own clients send). X-Ferry-* is Ferry's own
// vocabulary with its apps (the out-of-band work request): never a client's, on either.

import type { Scheme } from './authority.js';

/** Connection-specific headers that a proxy must not forward (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * Headers a client may not strip by naming them in Connection: the request's framing and identity,
 * which the cache key, sticky sessions and the app's idea of who is asking rest on. With Cookie
 * stripped, the app would answer anonymously and the cache store that answer as the cookie's
 * variant. (nginx ignores Connection's list altogether.)
 */
const NEVER_HOP_BY_HOP = new Set(['host', 'content-length', 'cookie', 'authorization', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id']);

/** Set by Ferry for every request, so never copied from the client's: Expect was answered already (100-continue). */
const SET_BY_FERRY = new Set(['host', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id', 'expect']);

/** What only a trusted front may tell the app; from a TCP client they are dropped (X-Real-IP: replaced). */
const FRONT_ONLY = new Set(['forwarded', 'x-real-ip']);

/** Header names listed in Connection are hop-by-hop too (RFC 9110 §7.6.1), except the ones above. */
function connectionTokens(rawHeaders: readonly string[]): Set<string> | undefined {
  let tokens: Set<string> | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    // Length first: this runs for every header of every request and response.
    if (name.length !== 10 || name.toLowerCase() !== 'connection') continue;
    for (const token of (rawHeaders[i + 1] as string).split(',')) {
      const name = token.trim().toLowerCase();
      if (name && !NEVER_HOP_BY_HOP.has(name)) (tokens ??= new Set()).add(name);
    }
  }
  return tokens;
}

export interface ForwardingFacts {
  /** The client's address as the front saw it (undefined on a unix socket). */
  remoteAddress: string | undefined;
  /** True when we listen on a unix socket behind a front server we trust to set X-Forwarded-*. */
  trustForwarded: boolean;
  requestId: string;
  /** The request's scheme and hosts as the door parsed them (authority.ts), canonical. */
  scheme: Scheme;
  /** The Host the app gets; undefined for an HTTP/1.0 request that named none. */
  host: string | undefined;
  /** A trusted front's X-Forwarded-Host. */
  forwardedHost: string | undefined;
  /** Keep Upgrade/Connection for a WebSocket handshake. */
  upgrade?: boolean;
}

/**
 * Headers for the request to the app, as a raw [name, value, ...] list (order, case and
 * duplicates kept). Transfer-Encoding goes too: the upstream client frames the body it re-sends
 * itself (Content-Length when the client gave one, else chunked).
 */
export function buildUpstreamHeaders(rawHeaders: readonly string[], facts: ForwardingFacts): string[] {
  const listed = connectionTokens(rawHeaders);
  const trusted = facts.trustForwarded;
  const out: string[] = facts.host === undefined ? [] : ['Host', facts.host];
  let forwardedFor: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    const value = rawHeaders[i + 1] as string;
    const lower = name.toLowerCase();
    if (lower === 'x-forwarded-for') {
      if (trusted) forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
      continue;
    }
    if (SET_BY_FERRY.has(lower) || lower.startsWith('x-ferry-') || (!trusted && FRONT_ONLY.has(lower))) continue;
    if (facts.upgrade && (lower === 'connection' || lower === 'upgrade')) {
      out.push(name, value);
      continue;
    }
    if (HOP_BY_HOP.has(lower) || listed?.has(lower)) continue;
    out.push(name, value);
  }
  if (trusted) {
    if (forwardedFor !== undefined) out.push('X-Forwarded-For', forwardedFor);
  } else {
    // Ferry is the first hop the app can trust: the peer is the client, whatever it claims.
    const client = facts.remoteAddress ?? 'unknown';
    out.push('X-Forwarded-For', client, 'X-Real-IP', client);
  }
  out.push('X-Forwarded-Proto', facts.scheme);
  const forwardedHost = facts.forwardedHost ?? facts.host;
  if (forwardedHost !== undefined) out.push('X-Forwarded-Host', forwardedHost);
  out.push('X-Request-Id', facts.requestId);
  return out;
}

/**
 * The request's id: a trusted front's X-Request-Id, so one id follows the request end to end;
 * else (on TCP, or junk) a new one, so a client cannot choose the id its lines in the log carry.
 */
export function chooseRequestId(given: string | string[] | undefined, trustForwarded: boolean, next: () => string): string {
  return trustForwarded && typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : next();
}

/** Headers of the app's response for the client, without hop-by-hop ones; a 101 (`upgrade`) keeps Upgrade and Connection, which make the switch. */
export function buildDownstreamHeaders(rawHeaders: readonly string[], upgrade = false): string[] {
  const listed = connectionTokens(rawHeaders);
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    const lower = name.toLowerCase();
    if (upgrade && (lower === 'connection' || lower === 'upgrade')) {
      out.push(name, rawHeaders[i + 1] as string);
      continue;
    }
    if (HOP_BY_HOP.has(lower) || listed?.has(lower)) continue;
    out.push(name, rawHeaders[i + 1] as string);
  }
  return out;
}

