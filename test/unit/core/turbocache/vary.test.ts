// vary.ts: which answers with Vary are stored, and the secondary keys requests get.

import { describe, expect, it } from 'vitest';
import { acceptedCodings, knownEncoding, secondaryKey, varySpec } from '../../../../src/core/turbocache/vary.js';

describe('varySpec', () => {
  it('lists the fields lower-case, sorted, once; refuses * and a whole Cookie', () => {
    expect(varySpec(['Accept-Language, Accept-Encoding', 'accept-language'], false)).toEqual({ storable: true, fields: ['accept-encoding', 'accept-language'] });
    expect(varySpec(['Accept, *'], false)).toEqual({ storable: false, why: 'vary-star' });
    expect(varySpec(['Cookie'], false)).toEqual({ storable: false, why: 'vary-cookie' });
    // With vary-by-cookie the key holds the cookie already: Cookie adds nothing.
    expect(varySpec(['Cookie, Accept-Encoding'], true)).toEqual({ storable: true, fields: ['accept-encoding'] });
    expect(varySpec([], false)).toEqual({ storable: true, fields: [] });
  });
});

describe('acceptedCodings', () => {
  it('keeps the known codings a client accepts (q > 0), * for the ones it does not name', () => {
    expect(acceptedCodings('gzip, deflate, br, zstd')).toEqual(['br', 'deflate', 'gzip', 'zstd']);
    expect(acceptedCodings('br;q=1.0, gzip;q=0.8, *;q=0.1')).toEqual(['br', 'deflate', 'gzip', 'zstd']);
    expect(acceptedCodings('gzip;q=0, br')).toEqual(['br']);
    expect(acceptedCodings('*;q=0, gzip')).toEqual(['gzip']);
    expect(acceptedCodings('x-gzip, identity')).toEqual(['gzip']);
    expect(acceptedCodings('compress')).toEqual([]);
    expect(acceptedCodings(undefined)).toEqual([]);
  });
});

describe('secondaryKey', () => {
  it('gives requests that mean the same Accept-Encoding one key, and others their own', () => {
    const key = (value: string | undefined): string => secondaryKey(['accept-encoding'], { 'accept-encoding': value });
    expect(key('gzip, deflate, br')).toBe(key('br;q=1, deflate, gzip'));
    expect(key('gzip')).not.toBe(key('gzip, br'));
    expect(key('identity')).toBe(key('compress'));
  });

  it('tells an absent field from an empty one, and keeps case (other fields: whitespace only)', () => {
    const key = (value: string | undefined): string => secondaryKey(['accept-language'], { 'accept-language': value });
    expect(key(undefined)).not.toBe(key(''));
    expect(key('fr,  en')).toBe(key(' fr, en '));
    expect(key('fr')).not.toBe(key('FR'));
    expect(secondaryKey([], { 'accept-language': 'fr' })).toBe('');
  });

  it('cannot be made to look like another field by a value (the key holds each name)', () => {
    const a = secondaryKey(['accept', 'accept-language'], { accept: 'x\nvary:accept-language=fr' });
    const b = secondaryKey(['accept', 'accept-language'], { accept: 'x', 'accept-language': 'fr' });
    expect(a).not.toBe(b);
  });
});

describe('knownEncoding', () => {
  it('accepts identity and one known coding, nothing else', () => {
    expect(knownEncoding(undefined)).toBe(true);
    expect(knownEncoding('identity')).toBe(true);
    expect(knownEncoding('GZIP')).toBe(true);
    expect(knownEncoding('gzip, br')).toBe(false);
    expect(knownEncoding('compress')).toBe(false);
  });
});
