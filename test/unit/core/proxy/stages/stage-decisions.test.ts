// The stage proxy's pure pieces: the door over the engine's head, the field shapes, a cache hit's bytes.

import { describe, expect, it } from 'vitest';
import { RequestHeadParser, type RequestHead } from '../../../../../src/core/engine/request-head.js';
import { cacheHitBytes } from '../../../../../src/core/proxy/stages/answers.js';
import type { CacheHit } from '../../../../../src/core/turbocache/cache-front.js';
import type { CacheEntry } from '../../../../../src/core/turbocache/turbocache.js';
import { engineDoorVerdict } from '../../../../../src/core/proxy/stages/accept.js';
import { flatFields, headersObject } from '../../../../../src/core/proxy/stages/request-fields.js';

function head(text: string): RequestHead {
  const result = new RequestHeadParser().feed(Buffer.from(text, 'latin1'));
  if (result.kind !== 'head') throw new Error(`not parsed: ${JSON.stringify(result)}`);
  return result.head;
}

const OPTS = { trustForwarded: false, maxBodyBytes: 100 };

describe('engineDoorVerdict', () => {
  it('admits an absolute-form request as origin-form with its own authority', () => {
    const verdict = engineDoorVerdict(head('GET http://Shop.test:80/a?b HTTP/1.1\r\nHost: other\r\n\r\n'), OPTS);
    expect(verdict).toMatchObject({ admitted: true, origin: { target: '/a?b', host: { name: 'shop.test' } } });
  });

  it('refuses the reserved out-of-band path however it is spelled, and an announced body over the limit', () => {
    expect(engineDoorVerdict(head('POST /FERRY/%6fob-work/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n'), OPTS)).toMatchObject({ admitted: false, refusal: { status: 404, close: true } });
    expect(engineDoorVerdict(head('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n'), OPTS)).toMatchObject({ admitted: false, refusal: { status: 413 } });
  });

  it('takes a trusted front X-Forwarded-Host, and refuses two of them', () => {
    const trusted = { ...OPTS, trustForwarded: true };
    expect(engineDoorVerdict(head('GET / HTTP/1.1\r\nHost: in\r\nX-Forwarded-Host: out.test\r\n\r\n'), trusted)).toMatchObject({ admitted: true, origin: { forwardedHost: { name: 'out.test' } } });
    expect(engineDoorVerdict(head('GET / HTTP/1.1\r\nHost: in\r\nX-Forwarded-Host: a\r\nX-Forwarded-Host: b\r\n\r\n'), trusted)).toMatchObject({ admitted: false, refusal: { status: 400 } });
  });
});

describe('request fields', () => {
  it('joins as node:http does: cookies with "; ", Host first wins, others with ", "', () => {
    const h = head('GET / HTTP/1.1\r\nHost: a\r\nCookie: x=1\r\nCookie: y=2\r\nAccept: a\r\naccept: b\r\n\r\n');
    expect(headersObject(h.fields)).toEqual({ host: 'a', cookie: 'x=1; y=2', accept: 'a, b' });
    expect(flatFields(h.fields)).toEqual(['Host', 'a', 'Cookie', 'x=1', 'Cookie', 'y=2', 'Accept', 'a', 'accept', 'b']);
  });
});

describe('cacheHitBytes', () => {
  const hit = { status: 200, statusText: 'OK', headers: ['Content-Type', 'text/plain', 'Content-Length', '2', 'Age', '3'], body: Buffer.from('hi') };

  it('is the whole answer in one buffer, kept alive for HTTP/1.1', () => {
    expect(cacheHitBytes(hit, '1.1', false).toString('latin1')).toBe('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nAge: 3\r\n\r\nhi');
  });

  it('says keep-alive to an HTTP/1.0 client that asked for it, close when the connection closes; a 304 gets its reason', () => {
    expect(cacheHitBytes(hit, '1.0', false).toString('latin1')).toContain('Age: 3\r\nConnection: keep-alive\r\n\r\nhi');
    expect(cacheHitBytes(hit, '1.1', true).toString('latin1')).toContain('Age: 3\r\nConnection: close\r\n\r\nhi');
    expect(cacheHitBytes({ status: 304, statusText: undefined, headers: ['Age', '0'], body: undefined }, '1.1', false).toString('latin1')).toBe('HTTP/1.1 304 Not Modified\r\nAge: 0\r\n\r\n');
  });
});

describe('cacheHitBytes of a stored entry', () => {
  const entry = { key: 'k', url: 'u', status: 200, statusText: 'OK', headers: ['Content-Type', 'text/plain'], body: Buffer.from('hi'), responseTimeMs: 0, initialAgeMs: 0, lifetimeMs: 60_000, size: 0 } as CacheEntry;
  const hit = (ageS: string, debugHeader = false, headRequest = false): CacheHit => ({
    status: 200,
    statusText: 'OK',
    headers: [],
    body: headRequest ? undefined : entry.body,
    stored: { entry, ageS, mark: debugHeader ? 'hit' : undefined },
  });

  it('renders the entry head once and patches only Age, X-Ferry-Cache and Connection per hit', () => {
    expect(cacheHitBytes(hit('3'), '1.1', false).toString('latin1')).toBe('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nAge: 3\r\n\r\nhi');
    const rendered = entry.wireHead;
    expect(rendered?.toString('latin1')).toBe('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n');
    expect(cacheHitBytes(hit('7', true), '1.0', false).toString('latin1')).toBe('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nAge: 7\r\nX-Ferry-Cache: hit\r\nConnection: keep-alive\r\n\r\nhi');
    expect(entry.wireHead).toBe(rendered);
  });

  it('sends a 204 hit without Content-Length (RFC 9110 §8.6)', () => {
    const empty = { ...entry, status: 204, statusText: 'No Content', body: Buffer.alloc(0), wireHead: undefined } as CacheEntry;
    const bytes = cacheHitBytes({ status: 204, statusText: 'No Content', headers: [], body: empty.body, stored: { entry: empty, ageS: '1', mark: undefined } }, '1.1', false);
    expect(bytes.toString('latin1')).toBe('HTTP/1.1 204 No Content\r\nContent-Type: text/plain\r\nAge: 1\r\n\r\n');
  });

  it('sends the head of a HEAD hit with the stored length and no body; closes when asked', () => {
    expect(cacheHitBytes(hit('0', false, true), '1.1', true).toString('latin1')).toBe('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nAge: 0\r\nConnection: close\r\n\r\n');
  });
});
