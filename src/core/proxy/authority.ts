// Which host a request is for (pure). Parsed strictly, once, so that the turbocache key, the
// routing and the Host the app gets are one and the same: a Host taken as text ("t/a") would let a
// client store its answer under another URL's key. RFC 9112 §3.2 (Host, request target forms),
// RFC 3986 §3.2.2-3 (host, port).

import { parseAuthority, type Authority, type RequestOrigin, type Scheme } from '../engine/authority.js';

// One parser of host[:port], and one shape of a request's origin, for the current front and
// Ferry's own engine.
export { parseAuthority, type Authority, type RequestOrigin, type Scheme };

export interface OriginFacts {
  method: string;
  /** The request target as received. */
  target: string;
  httpVersion: string;
  /** [name, value, ...] as received. */
  rawHeaders: readonly string[];
  /** Behind a trusted front (--socket): its X-Forwarded-Host and X-Forwarded-Proto count. */
  trustForwarded: boolean;
}

export type OriginVerdict = { ok: true; origin: RequestOrigin } | { ok: false; reason: string };

const ABSOLUTE_FORM = /^(https?):\/\/([^/?#]*)(.*)$/is;

function fieldValues(rawHeaders: readonly string[], lowerName: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) values.push(rawHeaders[i + 1] as string);
  }
  return values;
}

/**
 * The request's scheme, host and origin-form target, or why it is refused (400). Host must be one
 * valid authority (and present on HTTP/1.1) even when an absolute-form target overrides it
 * (RFC 9112 §3.2: "more than one Host header field line or a Host header field with an invalid
 * field value" gets 400). From a trusted front, X-Forwarded-Host and X-Forwarded-Proto must each be
 * one value: a front that appends to a client's, instead of overwriting it, is misconfigured.
 */
export function requestOrigin(facts: OriginFacts): OriginVerdict {
  let scheme: Scheme = 'http';
  let forwardedHostValue: string | undefined;
  if (facts.trustForwarded) {
    const protos = fieldValues(facts.rawHeaders, 'x-forwarded-proto');
    if (protos.length > 1) return { ok: false, reason: 'The request has more than one X-Forwarded-Proto.' };
    if (protos.length === 1) {
      const proto = (protos[0] as string).trim().toLowerCase();
      if (proto !== 'http' && proto !== 'https') return { ok: false, reason: 'X-Forwarded-Proto is neither http nor https.' };
      scheme = proto;
    }
    const forwardedHosts = fieldValues(facts.rawHeaders, 'x-forwarded-host');
    if (forwardedHosts.length > 1) return { ok: false, reason: 'The request has more than one X-Forwarded-Host.' };
    forwardedHostValue = forwardedHosts[0];
  }
  let forwardedHost: Authority | undefined;
  if (forwardedHostValue !== undefined) {
    forwardedHost = parseAuthority(forwardedHostValue.trim(), scheme);
    if (!forwardedHost) return { ok: false, reason: 'X-Forwarded-Host is not one host[:port].' };
  }

  const hosts = fieldValues(facts.rawHeaders, 'host');
  if (hosts.length > 1) return { ok: false, reason: 'The request has more than one Host header.' };
  if (hosts.length === 0 && facts.httpVersion !== '1.0') return { ok: false, reason: 'An HTTP/1.1 request must have a Host header.' };
  let host: Authority | undefined;
  if (hosts.length === 1) {
    host = parseAuthority((hosts[0] as string).trim(), scheme);
    if (!host) return { ok: false, reason: 'The Host header is not a valid host[:port].' };
  }

  const { target } = facts;
  if (target.charCodeAt(0) === 0x2f) return { ok: true, origin: { scheme, host, forwardedHost, target } }; // '/': by far the most common
  if (target === '*') {
    return facts.method === 'OPTIONS' ? { ok: true, origin: { scheme, host, forwardedHost, target } } : { ok: false, reason: 'Only OPTIONS may have * as its target.' };
  }
  // Absolute-form: its authority is the request's host, Host is ignored (RFC 9112 §3.2.2). The
  // scheme the client wrote is not taken: the connection (or the trusted front) says what it is.
  const absolute = ABSOLUTE_FORM.exec(target);
  const rest = absolute?.[3] ?? '';
  const authority = absolute ? parseAuthority(absolute[2] as string, scheme) : undefined;
  if (!authority || !(rest === '' || rest[0] === '/' || rest[0] === '?')) return { ok: false, reason: 'The request target is not a valid path or URL.' };
  return { ok: true, origin: { scheme, host: authority, forwardedHost, target: rest[0] === '/' ? rest : `/${rest}` } };
}
