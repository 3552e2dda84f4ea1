// compression.ts: which answers the front compresses, with what, and how their fields change.

import { describe, expect, it } from 'vitest';
import { compressedFields, compressibleType, compressionFor, COMPRESSION_MIN_BYTES } from '../../../../src/core/proxy/compression.js';

const html = ['Content-Type', 'text/html; charset=utf-8'];

describe('compressionFor', () => {
  it('picks br over gzip, as the client accepts them', () => {
    expect(compressionFor({ method: 'GET', acceptEncoding: 'gzip, deflate, br', status: 200, fields: html })).toBe('br');
    expect(compressionFor({ method: 'GET', acceptEncoding: 'gzip', status: 200, fields: html })).toBe('gzip');
    expect(compressionFor({ method: 'GET', acceptEncoding: 'br;q=0, gzip', status: 200, fields: html })).toBe('gzip');
    expect(compressionFor({ method: 'GET', acceptEncoding: 'identity', status: 200, fields: html })).toBeUndefined();
    expect(compressionFor({ method: 'GET', acceptEncoding: undefined, status: 200, fields: html })).toBeUndefined();
  });

  it('leaves alone what is not a 200 to GET or POST, encoded, a range, no-transform, small, or not text-like', () => {
    const accepts = 'br, gzip';
    expect(compressionFor({ method: 'HEAD', acceptEncoding: accepts, status: 200, fields: html })).toBeUndefined();
    expect(compressionFor({ method: 'GET', acceptEncoding: accepts, status: 404, fields: html })).toBeUndefined();
    expect(compressionFor({ method: 'GET', acceptEncoding: accepts, status: 200, fields: [...html, 'Content-Encoding', 'gzip'] })).toBeUndefined();
    expect(compressionFor({ method: 'GET', acceptEncoding: accepts, status: 200, fields: [...html, 'Content-Range', 'bytes 0-9/100'] })).toBeUndefined();
    expect(compressionFor({ method: 'GET', acceptEncoding: accepts, status: 200, fields: [...html, 'Cache-Control', 'public, No-Transform'] })).toBeUndefined();
    expect(compressionFor({ method: 'GET', acceptEncoding: accepts, status: 200, fields: [...html, 'Content-Length', String(COMPRESSION_MIN_BYTES - 1)] })).toBeUndefined();
    expect(compressionFor({ method: 'GET', acceptEncoding: accepts, status: 200, fields: [...html, 'Content-Length', String(COMPRESSION_MIN_BYTES)] })).toBe('br');
    expect(compressionFor({ method: 'GET', acceptEncoding: accepts, status: 200, fields: ['Content-Type', 'image/png'] })).toBeUndefined();
    expect(compressionFor({ method: 'POST', acceptEncoding: accepts, status: 200, fields: ['Content-Type', 'application/json'] })).toBe('br');
  });
});

describe('compressibleType', () => {
  it('takes text-like types, not images, archives or event streams', () => {
    for (const type of ['text/html', 'text/css; charset=utf-8', 'application/json', 'application/javascript', 'application/problem+json', 'application/rss+xml', 'image/svg+xml']) expect(compressibleType(type), type).toBe(true);
    for (const type of ['image/png', 'application/zip', 'application/octet-stream', 'text/event-stream', 'video/mp4', undefined]) expect(compressibleType(type), String(type)).toBe(false);
  });
});

describe('compressedFields', () => {
  it('adds Content-Encoding and Vary: Accept-Encoding, drops Content-Length, weakens a strong ETag', () => {
    expect(compressedFields(['Content-Type', 'text/html', 'Content-Length', '5000', 'ETag', '"abc"'], 'br')).toEqual(['Content-Type', 'text/html', 'ETag', 'W/"abc"', 'Vary', 'Accept-Encoding', 'Content-Encoding', 'br']);
    // Vary already naming it, a weak ETag: kept as they are.
    expect(compressedFields(['Vary', 'Accept-Language, accept-encoding', 'ETag', 'W/"x"'], 'gzip')).toEqual(['Vary', 'Accept-Language, accept-encoding', 'ETag', 'W/"x"', 'Content-Encoding', 'gzip']);
    expect(compressedFields(['Vary', 'Accept-Language'], 'gzip')).toEqual(['Vary', 'Accept-Language', 'Vary', 'Accept-Encoding', 'Content-Encoding', 'gzip']);
  });
});
