// The engine's field list in the two shapes the proxy's pure modules read (pure): a flat
// [name, value, ...] list (headers.ts, request-door.ts) and a node:http-style object with
// lower-case names (policy.ts, cookies), built once per request.

import type { IncomingHttpHeaders } from 'node:http';
import type { HeaderField } from '../../engine/syntax.js';

/** Fields node:http keeps once (the first), as apps and the cache policy expect. */
const SINGLE = new Set([
  'age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host', 'if-modified-since', 'if-unmodified-since',
  'last-modified', 'location', 'max-forwards', 'proxy-authorization', 'referer', 'retry-after', 'server', 'user-agent',
]);

export function flatFields(fields: readonly HeaderField[]): string[] {
  const out = new Array<string>(fields.length * 2);
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i] as HeaderField;
    out[2 * i] = field.name;
    out[2 * i + 1] = field.value;
  }
  return out;
}

/** As node:http joins them: Cookie with '; ', the SINGLE ones first wins, the rest with ', '. */
export function headersObject(fields: readonly HeaderField[]): IncomingHttpHeaders {
  const out: Record<string, string> = {};
  for (const field of fields) {
    const { lower, value } = field;
    const before = out[lower];
    if (before === undefined) out[lower] = value;
    else if (lower === 'cookie') out[lower] = `${before}; ${value}`;
    else if (!SINGLE.has(lower)) out[lower] = `${before}, ${value}`;
  }
  return out;
}
