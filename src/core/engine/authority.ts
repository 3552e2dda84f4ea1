// Which host a message is for (pure): `host[:port]` parsed strictly (RFC 3986 §3.2.2-3.2.3 as
// RFC 9110 §4.2.1 and §7.2 use it), canonical, so that routing, a cache key and the Host the app
// gets are the same string. The same semantics as src/core/proxy/authority.ts on the current
// front: lower case, no trailing dot, the scheme's default port dropped; IPv6 keeps its brackets.

import net from 'node:net';

export type Scheme = 'http' | 'https';

const DEFAULT_PORT: Record<Scheme, number> = { http: 80, https: 443 };

export interface Authority {
  /** Lower case, without a trailing dot; an IPv6 literal keeps its brackets. */
  host: string;
  /** The host as routing compares it with an app's host names: without brackets. */
  name: string;
  /** The port when one was given and it is not the scheme's default. */
  port: number | undefined;
  /** host[:port], the port only when it is not the default: the canonical text. */
  text: string;
}

/** reg-name characters (unreserved, sub-delims; pct-encoded checked apart), by byte. */
const REG_NAME = new Uint8Array(128);
for (const c of "-._~!$&'()*+,;=") REG_NAME[c.charCodeAt(0)] = 1;
for (let b = 0x30; b <= 0x39; b++) REG_NAME[b] = 1;
for (let b = 0x61; b <= 0x7a; b++) REG_NAME[b] = 1;

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66);
}

function isRegName(host: string): boolean {
  if (host.length === 0) return false;
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c === 0x25) {
      if (!isHex(host.charCodeAt(i + 1)) || !isHex(host.charCodeAt(i + 2))) return false;
      i += 2;
    } else if (c >= 128 || REG_NAME[c] !== 1) return false;
  }
  return true;
}

/**
 * `host[:port]` (reg-name, IPv4 or [IPv6]; an empty port means the default) in canonical form, or
 * undefined for anything else: a path, userinfo, a second colon, a zone or IPvFuture literal, a
 * port that is not 0-65535. `requirePort`: CONNECT's authority-form names one (RFC 9110 §9.3.6).
 */
export function parseAuthority(value: string, scheme: Scheme, requirePort = false): Authority | undefined {
  const lower = value.toLowerCase();
  let host: string;
  let portAt: number;
  if (lower.charCodeAt(0) === 0x5b) {
    const close = lower.indexOf(']');
    if (close < 0) return undefined;
    const literal = lower.slice(1, close);
    for (let i = 0; i < literal.length; i++) {
      const c = literal.charCodeAt(i);
      if (!(isHex(c) || c === 0x3a || c === 0x2e)) return undefined;
    }
    if (!net.isIPv6(literal)) return undefined;
    host = lower.slice(0, close + 1);
    portAt = close + 1;
  } else {
    const colon = lower.indexOf(':');
    portAt = colon < 0 ? lower.length : colon;
    host = lower.slice(0, portAt);
    // "example.com." is example.com, as nginx has it.
    if (host.endsWith('.')) host = host.slice(0, -1);
    if (!isRegName(host)) return undefined;
  }
  let port: number | undefined;
  if (portAt < lower.length) {
    if (lower.charCodeAt(portAt) !== 0x3a) return undefined;
    const digits = lower.length - portAt - 1;
    if (digits > 5) return undefined;
    let n = 0;
    for (let i = portAt + 1; i < lower.length; i++) {
      const c = lower.charCodeAt(i);
      if (c < 0x30 || c > 0x39) return undefined;
      n = n * 10 + (c - 0x30);
    }
    if (n > 65_535) return undefined;
    if (digits > 0) port = n;
  }
  if (requirePort && port === undefined) return undefined;
  if (port === DEFAULT_PORT[scheme]) port = undefined;
  const name = host.charCodeAt(0) === 0x5b ? host.slice(1, -1) : host;
  return { host, name, port, text: port === undefined ? host : `${host}:${port}` };
}

/** Where a request goes, as the door admitted it. */
export interface RequestOrigin {
  /** http, or what a trusted front's X-Forwarded-Proto says. */
  scheme: Scheme;
  /**
   * The request's host: an absolute-form target's authority, else Host. What routing uses and
   * the app gets as Host; undefined only for an HTTP/1.0 request that names none.
   */
  host: Authority | undefined;
  /** A trusted front's X-Forwarded-Host: the host its client asked for. */
  forwardedHost: Authority | undefined;
  /** origin-form (path and query), or "*" for OPTIONS *. */
  target: string;
}
