// Vary (RFC 9111 §4.1), pure: which request fields an answer depends on, and the secondary key
// those fields give a request, so that an answer is only ever served to requests whose listed
// fields match the one it answered. Values are normalised only where that is sure to keep
// different meanings apart: Accept-Encoding down to the codings Ferry tells apart (so the
// `Vary: Accept-Encoding` every compression middleware adds splits a URL into a handful of
// variants, not one per browser spelling), any other field by whitespace only.

import type { IncomingHttpHeaders } from 'node:http';

/** The content codings told apart in a key; an answer in any other coding is not stored. */
export const KNOWN_CODINGS = ['br', 'deflate', 'gzip', 'zstd'] as const;

/** Variants kept per URL (and cookie variant), at most: the least recently stored go first. */
export const MAX_VARIANTS = 16;

/** What an answer's Vary says: the fields (lower-case, sorted, once each), or that it cannot be stored. */
export type VarySpec = { storable: true; fields: string[] } | { storable: false; why: 'vary-star' | 'vary-cookie' };

/**
 * The fields of an answer's Vary values. `*` is never storable (RFC 9111 §4.1: it never
 * matches); Cookie only when the key holds the cookie already (--vary-turbocache-by-cookie),
 * where it is left out: one variant per whole Cookie header would store a copy per visitor.
 */
export function varySpec(values: readonly string[], varyByCookie: boolean): VarySpec {
  const fields = new Set<string>();
  for (const value of values) {
    for (const part of value.split(',')) {
      const name = part.trim().toLowerCase();
      if (name === '') continue;
      if (name === '*') return { storable: false, why: 'vary-star' };
      if (name === 'cookie') {
        if (!varyByCookie) return { storable: false, why: 'vary-cookie' };
        continue;
      }
      fields.add(name);
    }
  }
  return { storable: true, fields: [...fields].sort() };
}

/** The codings an Accept-Encoding accepts, of KNOWN_CODINGS (q > 0; `*` for the ones it does not name). */
export function acceptedCodings(value: string | undefined): string[] {
  if (value === undefined) return [];
  const q = new Map<string, number>();
  let star: number | undefined;
  for (const part of value.split(',')) {
    const [token = '', ...params] = part.split(';');
    const name = token.trim().toLowerCase();
    if (name === '') continue;
    let weight = 1;
    for (const param of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(param);
      if (m) weight = Number(m[1]);
    }
    if (!Number.isFinite(weight)) weight = 0;
    if (name === '*') star = weight;
    else q.set(name === 'x-gzip' ? 'gzip' : name, weight);
  }
  return KNOWN_CODINGS.filter((coding) => (q.get(coding) ?? star ?? 0) > 0);
}

/** One field's value as it counts in a key: its lines joined, whitespace runs made one space; absent apart from empty. */
function normalised(name: string, value: string | string[] | undefined): string {
  if (value === undefined) return '\u0000';
  const text = Array.isArray(value) ? value.join(', ') : value;
  if (name === 'accept-encoding') return acceptedCodings(text).join(',');
  return text.trim().replace(/[ \t]+/g, ' ');
}

/** The secondary key of a request for an answer that varies on `fields` (sorted): '' for none. */
export function secondaryKey(fields: readonly string[], headers: IncomingHttpHeaders): string {
  let key = '';
  for (const name of fields) key += `\nvary:${name}=${normalised(name, headers[name])}`;
  return key;
}

/** Whether an answer with this Content-Encoding can be told apart by the key (identity, or a known coding). */
export function knownEncoding(contentEncoding: string | undefined): boolean {
  if (contentEncoding === undefined) return true;
  const codings = contentEncoding.split(',').map((c) => c.trim().toLowerCase()).filter((c) => c !== '' && c !== 'identity');
  return codings.length === 0 || (codings.length === 1 && (KNOWN_CODINGS as readonly string[]).includes(codings[0] as string));
}
