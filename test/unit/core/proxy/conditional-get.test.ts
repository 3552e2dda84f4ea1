import { describe, expect, it } from 'vitest';
import { evaluatePreconditions, fileValidators, parseRange, rangeStillApplies } from '../../../../src/core/proxy/conditional-get.js';

// 26 bytes, modified 2026-01-02T03:04:05.678Z.
const MTIME_MS = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
const v = fileValidators(26, MTIME_MS);
const LAST_MODIFIED = new Date(v.lastModifiedMs).toUTCString();

describe('fileValidators', () => {
  it("gives send's weak ETag and a Last-Modified in whole seconds", () => {
    expect(v.etag).toBe(`W/"1a-${MTIME_MS.toString(16)}"`);
    expect(v.lastModifiedMs).toBe(Date.UTC(2026, 0, 2, 3, 4, 5));
  });
});

describe('parseRange', () => {
  it('reads one range in its three forms, clipping the end to the file', () => {
    expect(parseRange('bytes=0-5', 26)).toEqual({ start: 0, end: 5 });
    expect(parseRange('bytes=20-', 26)).toEqual({ start: 20, end: 25 });
    expect(parseRange('bytes=-4', 26)).toEqual({ start: 22, end: 25 });
    expect(parseRange('bytes=-100', 26)).toEqual({ start: 0, end: 25 });
    expect(parseRange('bytes=10-1000', 26)).toEqual({ start: 10, end: 25 });
    expect(parseRange('Bytes = 1 - 2', 26)).toEqual({ start: 1, end: 2 });
  });

  it('is unsatisfiable (416) when no spec is left: backwards, empty suffix, past the end, garbage', () => {
    for (const header of ['bytes=5-2', 'bytes=-0', 'bytes=26-', 'bytes=100-200', 'bytes=abc', 'bytes=-', 'bytes=', 'bytes=5-2,-0']) {
      expect([header, parseRange(header, 26)]).toEqual([header, 'unsatisfiable']);
    }
    expect(parseRange('bytes=0-', 0)).toBe('unsatisfiable');
    expect(parseRange('bytes=-1', 0)).toBe('unsatisfiable');
  });

  it('drops bad specs beside good ones, and merges overlapping and adjacent ranges', () => {
    expect(parseRange('bytes=5-2, 0-3', 26)).toEqual({ start: 0, end: 3 });
    expect(parseRange('bytes=0-3,4-7', 26)).toEqual({ start: 0, end: 7 });
    expect(parseRange('bytes=4-9,0-5', 26)).toEqual({ start: 0, end: 9 });
  });

  it('serves the whole file for no Range, another unit, or ranges that stay apart', () => {
    expect(parseRange(undefined, 26)).toBeUndefined();
    expect(parseRange('items=0-5', 26)).toBeUndefined();
    expect(parseRange('0-5', 26)).toBeUndefined();
    expect(parseRange('bytes=0-1,10-11', 26)).toBeUndefined();
  });
});

describe('evaluatePreconditions', () => {
  it('fails (412) an If-Match that lists no tag of the file, weak or strong, and passes * or a match', () => {
    expect(evaluatePreconditions({ 'if-match': '"other"' }, v)).toBe('failed');
    expect(evaluatePreconditions({ 'if-match': '*' }, v)).toBe('proceed');
    expect(evaluatePreconditions({ 'if-match': `"x", ${v.etag}` }, v)).toBe('proceed');
    expect(evaluatePreconditions({ 'if-match': v.etag.slice(2) }, v)).toBe('proceed');
  });

  it('fails (412) If-Unmodified-Since older than the file, and ignores it under If-Match or when unparsable', () => {
    expect(evaluatePreconditions({ 'if-unmodified-since': 'Thu, 01 Jan 1970 00:00:01 GMT' }, v)).toBe('failed');
    expect(evaluatePreconditions({ 'if-unmodified-since': LAST_MODIFIED }, v)).toBe('proceed');
    expect(evaluatePreconditions({ 'if-unmodified-since': 'yesterday' }, v)).toBe('proceed');
    expect(evaluatePreconditions({ 'if-match': '*', 'if-unmodified-since': 'Thu, 01 Jan 1970 00:00:01 GMT' }, v)).toBe('proceed');
  });

  it('answers 304 for a matching If-None-Match (which then outranks If-Modified-Since), or an If-Modified-Since not older than the file', () => {
    expect(evaluatePreconditions({ 'if-none-match': v.etag }, v)).toBe('not-modified');
    expect(evaluatePreconditions({ 'if-none-match': '*' }, v)).toBe('not-modified');
    expect(evaluatePreconditions({ 'if-none-match': '"other"', 'if-modified-since': LAST_MODIFIED }, v)).toBe('proceed');
    expect(evaluatePreconditions({ 'if-modified-since': LAST_MODIFIED }, v)).toBe('not-modified');
    expect(evaluatePreconditions({ 'if-modified-since': 'Thu, 01 Jan 1970 00:00:01 GMT' }, v)).toBe('proceed');
    // The request's Cache-Control does not turn validation off (fetch sends no-cache with these).
    expect(evaluatePreconditions({ 'if-none-match': v.etag, 'cache-control': 'no-cache' }, v)).toBe('not-modified');
  });

  it('checks 412 before 304', () => {
    expect(evaluatePreconditions({ 'if-match': '"other"', 'if-none-match': v.etag }, v)).toBe('failed');
  });
});

describe('rangeStillApplies', () => {
  it('keeps the range for no If-Range, the same ETag, or a date no older than the file', () => {
    expect(rangeStillApplies(undefined, v)).toBe(true);
    expect(rangeStillApplies(v.etag, v)).toBe(true);
    expect(rangeStillApplies(LAST_MODIFIED, v)).toBe(true);
  });

  it('drops it (whole file) for another ETag, an older date, or garbage', () => {
    expect(rangeStillApplies('W/"stale"', v)).toBe(false);
    expect(rangeStillApplies('"stale"', v)).toBe(false);
    expect(rangeStillApplies('Thu, 01 Jan 1970 00:00:01 GMT', v)).toBe(false);
    expect(rangeStillApplies('soon', v)).toBe(false);
  });
});
