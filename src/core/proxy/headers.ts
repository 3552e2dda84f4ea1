// Header rewriting between client and app (pure): hop-by-hop headers stay on their own hop
// (RFC 9110 §7.6.1), and the app learns who the client was through X-Forwarded-*.

/** Connection-specific headers that a proxy must not forward (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** Headers a client may not strip by naming them in Connection: the request's identity and framing. */
const NEVER_HOP_BY_HOP = new Set(['host', 'content-length', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id']);

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
  const out: string[] = [];
  let forwardedFor: string | undefined;
  let proto: string | undefined;
  let forwardedHost: string | undefined;
  let host: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    const value = rawHeaders[i + 1] as string;
    const lower = name.toLowerCase();
    if (lower === 'x-forwarded-for') {
      forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
      continue;
    }
    if (lower === 'x-forwarded-proto') {
      proto ??= value;
      continue;
    }
    if (lower === 'x-forwarded-host') {
      forwardedHost ??= value;
      continue;
    }
    // We already answered 100-continue to the client; the app must not wait for it again.
    if (lower === 'x-request-id' || lower === 'expect') continue;
    if (lower === 'host') host = value;
    if (facts.upgrade && (lower === 'connection' || lower === 'upgrade')) {
      out.push(name, value);
      continue;
    }
    if (HOP_BY_HOP.has(lower) || listed?.has(lower)) continue;
    out.push(name, value);
  }
  if (facts.trustForwarded) {
    if (forwardedFor !== undefined) out.push('X-Forwarded-For', forwardedFor);
    out.push('X-Forwarded-Proto', proto ?? 'http');
    if (forwardedHost !== undefined || host !== undefined) out.push('X-Forwarded-Host', (forwardedHost ?? host) as string);
  } else {
    const client = facts.remoteAddress ?? 'unknown';
    out.push('X-Forwarded-For', forwardedFor === undefined ? client : `${forwardedFor}, ${client}`);
    out.push('X-Forwarded-Proto', 'http');
    if (host !== undefined) out.push('X-Forwarded-Host', host);
  }
  out.push('X-Request-Id', facts.requestId);
  return out;
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

/** One cookie's value from a Cookie header (RFC 6265 §5.4), or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return undefined;
}
