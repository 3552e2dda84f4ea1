// Compression in the front (--compression), pure: whether the app's answer is compressed for this
// client, and with what. Only what compresses well and is safe to touch: a 200 of a text-like type
// (text/*, JSON, JavaScript, XML, SVG, ...), not already encoded, not a range, no `no-transform`,
// larger than COMPRESSION_MIN_BYTES when its length is known, to a client that accepts br (chosen
// first: smaller) or gzip. Nothing here for HEAD, whose headers then match what a GET without
// compression would get.

import { acceptedCodings } from '../turbocache/vary.js';

export type Coding = 'br' | 'gzip';

/** Smaller answers are sent as they are: the coding's own overhead and the CPU are not worth it. */
export const COMPRESSION_MIN_BYTES = 1024;

const COMPRESSIBLE = /^(text\/[-+.\w]+|application\/(json|javascript|ecmascript|xml|xhtml\+xml|rss\+xml|atom\+xml|ld\+json|manifest\+json|wasm|x-javascript|[-.\w]+\+(json|xml))|image\/(svg\+xml|x-icon|vnd\.microsoft\.icon)|font\/(ttf|otf))$/i;

/** Whether a Content-Type compresses well (its media type, parameters aside). */
export function compressibleType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const type = (contentType.split(';')[0] ?? '').trim();
  // A stream of events is written a few bytes at a time for as long as it lasts: left as it is.
  return COMPRESSIBLE.test(type) && type.toLowerCase() !== 'text/event-stream';
}

export interface CompressionFacts {
  method: string;
  acceptEncoding: string | string[] | undefined;
  status: number;
  /** The app's answer fields, flat [name, value, ...]. */
  fields: readonly string[];
}

/** The coding the answer gets, or undefined: sent as the app wrote it. */
export function compressionFor(facts: CompressionFacts): Coding | undefined {
  if (facts.status !== 200 || (facts.method !== 'GET' && facts.method !== 'POST')) return undefined;
  let contentType: string | undefined;
  for (let i = 0; i < facts.fields.length; i += 2) {
    const name = (facts.fields[i] as string).toLowerCase();
    const value = facts.fields[i + 1] as string;
    if (name === 'content-encoding' || name === 'content-range') return undefined;
    if (name === 'cache-control' && /(^|,)\s*no-transform\s*(,|$)/i.test(value)) return undefined;
    if (name === 'content-length' && Number(value) < COMPRESSION_MIN_BYTES) return undefined;
    if (name === 'content-type') contentType = value;
  }
  if (!compressibleType(contentType)) return undefined;
  const accepted = acceptedCodings(Array.isArray(facts.acceptEncoding) ? facts.acceptEncoding.join(', ') : facts.acceptEncoding);
  if (accepted.includes('br')) return 'br';
  if (accepted.includes('gzip')) return 'gzip';
  return undefined;
}

/**
 * The answer's fields as compressed: Content-Encoding added, Content-Length gone (the length
 * changes; the front frames it), Accept-Encoding in Vary (a cache must tell the variants apart),
 * and a strong ETag made weak (the bytes differ from the uncompressed ones; RFC 9110 §8.8.3).
 */
export function compressedFields(fields: readonly string[], coding: Coding): string[] {
  const out: string[] = [];
  let varied = false;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i] as string;
    let value = fields[i + 1] as string;
    const lower = name.toLowerCase();
    if (lower === 'content-length') continue;
    if (lower === 'etag' && !value.startsWith('W/')) value = `W/${value}`;
    if (lower === 'vary') {
      if (value.split(',').some((v) => v.trim() === '*' || v.trim().toLowerCase() === 'accept-encoding')) varied = true;
    }
    out.push(name, value);
  }
  if (!varied) out.push('Vary', 'Accept-Encoding');
  out.push('Content-Encoding', coding);
  return out;
}
