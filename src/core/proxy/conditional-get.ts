// Validators, preconditions and byte ranges for a static file (RFC 9110 §8.8, §13, §14), decided
// from the request's headers and the file's size and mtime alone, so each rule is unit-tested. The
// validators are the ones `send` (which served public/ before) gave, so caches keep their entries.

import type http from 'node:http';

export interface Validators {
  /** Weak: W/"<size hex>-<mtime ms hex>", send's format. */
  etag: string;
  /** Whole seconds, as Last-Modified carries it. */
  lastModifiedMs: number;
}

export function fileValidators(size: number, mtimeMs: number): Validators {
  const mtime = Math.floor(mtimeMs);
  return { etag: `W/"${size.toString(16)}-${mtime.toString(16)}"`, lastModifiedMs: Math.floor(mtime / 1000) * 1000 };
}

/** Entity tags listed in an If-Match / If-None-Match value. */
function entityTags(value: string): string[] {
  return value
    .split(',')
    .map((tag) => tag.trim())
    .filter(Boolean);
}

/**
 * Weak comparison (W/"x" matches "x"), as send did, for If-Match as well: our tags are weak, and a
 * strong comparison would make every If-Match fail.
 */
function matchesTag(value: string, etag: string): boolean {
  const opaque = (tag: string): string => (tag.startsWith('W/') ? tag.slice(2) : tag);
  return entityTags(value).some((tag) => tag === '*' || opaque(tag) === opaque(etag));
}

function httpDateMs(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

export type PreconditionOutcome = 'proceed' | 'not-modified' | 'failed';

/**
 * RFC 9110 §13.2.2 in its order: If-Match, else If-Unmodified-Since (either false: 412); then
 * If-None-Match, else If-Modified-Since (not modified: 304). An unparsable date is ignored. A
 * request's Cache-Control does not turn validation off (as nginx; send did, and answered 200).
 */
export function evaluatePreconditions(headers: http.IncomingHttpHeaders, v: Validators): PreconditionOutcome {
  const ifMatch = headers['if-match'];
  if (ifMatch !== undefined) {
    if (!matchesTag(ifMatch, v.etag)) return 'failed';
  } else {
    const unmodifiedSince = httpDateMs(headers['if-unmodified-since']);
    if (unmodifiedSince !== undefined && v.lastModifiedMs > unmodifiedSince) return 'failed';
  }
  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch !== undefined) return matchesTag(ifNoneMatch, v.etag) ? 'not-modified' : 'proceed';
  const modifiedSince = httpDateMs(headers['if-modified-since']);
  if (modifiedSince !== undefined && v.lastModifiedMs <= modifiedSince) return 'not-modified';
  return 'proceed';
}

/** Inclusive byte offsets. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * What a Range header asks of a file of `size` bytes: one range (206), `unsatisfiable` (416), or
 * undefined for the whole file (no Range, another unit, or several ranges: send served those whole
 * too, rather than as multipart). Specs that are malformed (`5-2`, `abc`) or start past the end
 * (`-0`, `SIZE-`) are dropped; if none is left the answer is 416, as nginx gives. Overlapping and
 * adjacent ranges are merged first, so `0-1,2-3` is one range.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*bytes\s*=(.*)$/i.exec(header);
  if (!match) return undefined;
  const ranges: ByteRange[] = [];
  for (const spec of (match[1] as string).split(',')) {
    const parts = /^\s*(\d*)\s*-\s*(\d*)\s*$/.exec(spec);
    if (!parts || (parts[1] === '' && parts[2] === '')) continue;
    let start: number;
    let end: number;
    if (parts[1] === '') {
      // Suffix: the last N bytes.
      const suffix = Number(parts[2]);
      if (suffix === 0 || size === 0) continue;
      start = Math.max(0, size - suffix);
      end = size - 1;
    } else {
      start = Number(parts[1]);
      const last = parts[2] === '' ? Infinity : Number(parts[2]);
      if (last < start || start >= size) continue;
      end = Math.min(last, size - 1);
    }
    ranges.push({ start, end });
  }
  if (ranges.length === 0) return 'unsatisfiable';
  ranges.sort((a, b) => a.start - b.start);
  const merged: ByteRange[] = [ranges[0] as ByteRange];
  for (const range of ranges.slice(1)) {
    const last = merged[merged.length - 1] as ByteRange;
    if (range.start <= last.end + 1) last.end = Math.max(last.end, range.end);
    else merged.push(range);
  }
  return merged.length === 1 ? merged[0] : undefined;
}

/**
 * If-Range: the range applies only while the file is the one the client has (its ETag, or a
 * Last-Modified date no older than the file); otherwise the whole file goes out.
 */
export function rangeStillApplies(ifRange: string | undefined, v: Validators): boolean {
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith('W/"')) return value === v.etag;
  const date = httpDateMs(value);
  return date !== undefined && v.lastModifiedMs <= date;
}
