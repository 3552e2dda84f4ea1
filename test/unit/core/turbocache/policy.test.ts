import CachePolicy from 'http-cache-semantics';
import { describe, expect, it } from 'vitest';
import { parseCacheControl, parseHttpDate } from '../../../../src/core/turbocache/http-fields.js';
import {
  collectResponseFacts,
  etagMatches,
  initialAgeMs,
  invalidatedUrls,
  isFresh,
  notModified,
  requestVerdict,
  storeVerdict,
  urlKey,
  variantKey,
  type StoreContext,
} from '../../../../src/core/turbocache/policy.js';

const NOW = Date.parse('2026-11-23T10:00:00Z');
const DATE = new Date(NOW).toUTCString();

/** The store decision for a GET answered at NOW with these raw headers. */
function verdict(headers: string[], overrides: Partial<StoreContext> = {}) {
  return storeVerdict({
    status: 200,
    facts: collectResponseFacts(['Date', DATE, ...headers]),
    authorization: false,
    varyByCookie: false,
    requestTimeMs: NOW,
    responseTimeMs: NOW,
    ...overrides,
  });
}

const reason = (v: ReturnType<typeof verdict>): string => (v.store ? 'stored' : v.reason);
const lifetimeS = (v: ReturnType<typeof verdict>): number => (v.store ? v.lifetimeMs / 1000 : -1);

describe('requestVerdict: which requests may be answered from the cache', () => {
  it('looks up GET and HEAD; HEAD answers are never stored', () => {
    expect(requestVerdict('GET', { host: 'a' })).toMatchObject({ lookup: true, mayStore: true });
    expect(requestVerdict('HEAD', { host: 'a' })).toMatchObject({ lookup: true, mayStore: false, notStored: 'head' });
  });

  it('sends other methods to the app; unsafe ones invalidate, OPTIONS does not', () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'PURGE']) expect(requestVerdict(method, { host: 'a' })).toMatchObject({ lookup: false, bypass: 'method', invalidates: true });
    expect(requestVerdict('OPTIONS', { host: 'a' })).toMatchObject({ lookup: false, bypass: 'method', invalidates: false });
  });

  it('bypasses on Cache-Control: no-cache and Pragma: no-cache, but may store the fresh answer', () => {
    expect(requestVerdict('GET', { host: 'a', 'cache-control': 'No-Cache' })).toMatchObject({ lookup: false, bypass: 'request-no-cache', mayStore: true });
    expect(requestVerdict('GET', { host: 'a', pragma: 'no-cache' })).toMatchObject({ lookup: false, bypass: 'request-no-cache', mayStore: true });
  });

  it('bypasses on Cache-Control: no-store and stores nothing for that request', () => {
    expect(requestVerdict('GET', { host: 'a', 'cache-control': 'no-store' })).toMatchObject({ lookup: false, bypass: 'request-no-cache', mayStore: false, notStored: 'request-no-store' });
  });

  it("never answers a request carrying Authorization from the cache (Passenger did, from an anonymous user's entry)", () => {
    expect(requestVerdict('GET', { host: 'a', authorization: 'Bearer x' })).toMatchObject({ lookup: false, bypass: 'authorization' });
  });

  it('bypasses Range requests, GETs with a body, and requests without Host', () => {
    expect(requestVerdict('GET', { host: 'a', range: 'bytes=0-10' })).toMatchObject({ lookup: false, bypass: 'range', mayStore: false });
    expect(requestVerdict('GET', { host: 'a', 'content-length': '5' })).toMatchObject({ lookup: false, bypass: 'request-body', mayStore: false });
    expect(requestVerdict('GET', {})).toMatchObject({ lookup: false, bypass: 'no-host' });
  });

  it("honours the request's min-fresh (the entry must stay fresh that much longer)", () => {
    expect(requestVerdict('GET', { host: 'a', 'cache-control': 'min-fresh=30' })).toMatchObject({ lookup: true, minFreshMs: 30_000 });
    expect(requestVerdict('GET', { host: 'a', 'cache-control': 'min-fresh=x' }).minFreshMs).toBeUndefined();
  });

  it('marks only-if-cached on every request, looked up or not (RFC 9111 §5.2.1.7: the cache or 504)', () => {
    expect(requestVerdict('GET', { host: 'a', 'cache-control': 'only-if-cached' })).toMatchObject({ lookup: true, onlyIfCached: true });
    expect(requestVerdict('GET', { host: 'a', 'cache-control': 'only-if-cached, max-age=5' })).toMatchObject({ lookup: true, onlyIfCached: true, maxAgeMs: 5000 });
    expect(requestVerdict('GET', { host: 'a', authorization: 'Bearer x', 'cache-control': 'only-if-cached' })).toMatchObject({ lookup: false, bypass: 'authorization', onlyIfCached: true });
    expect(requestVerdict('GET', { host: 'a', 'cache-control': 'no-cache, only-if-cached' })).toMatchObject({ lookup: false, onlyIfCached: true });
    expect(requestVerdict('POST', { host: 'a', 'cache-control': 'only-if-cached' })).toMatchObject({ lookup: false, bypass: 'method', onlyIfCached: true });
    expect(requestVerdict('GET', { host: 'a' }).onlyIfCached).toBeUndefined();
  });

  it("honours the request's own max-age", () => {
    expect(requestVerdict('GET', { host: 'a', 'cache-control': 'max-age=5' })).toMatchObject({ lookup: true, maxAgeMs: 5000 });
  });
});

describe('storeVerdict: what is stored', () => {
  it('stores an answer with explicit freshness', () => {
    expect(reason(verdict(['Cache-Control', 'public, max-age=60']))).toBe('stored');
    expect(lifetimeS(verdict(['Cache-Control', 'max-age=60']))).toBe(60);
  });

  it('stores any final status with explicit freshness (RFC 9111 §3), redirects and client errors too', () => {
    for (const status of [200, 203, 204, 300, 301, 404, 405, 410, 414, 501]) expect(reason(verdict(['Cache-Control', 'max-age=60'], { status }))).toBe('stored');
    for (const status of [201, 302, 303, 307, 308, 400, 403, 451]) expect(reason(verdict(['Cache-Control', 'max-age=60'], { status }))).toBe('stored');
    expect(reason(verdict(['Expires', new Date(NOW + 60_000).toUTCString()], { status: 302 }))).toBe('stored');
    expect(reason(verdict(['Cache-Control', 's-maxage=60'], { status: 307 }))).toBe('stored');
    expect(reason(verdict([], { status: 302 }))).toBe('no-freshness');
  });

  it('never stores 1xx, 304 (an answer to a conditional request) or a 5xx other than 501 (an error of the moment)', () => {
    for (const status of [100, 101, 103, 304, 500, 502, 503, 504, 599]) expect(reason(verdict(['Cache-Control', 'max-age=60'], { status }))).toBe('status');
  });

  it('never stores partial content', () => {
    expect(reason(verdict(['Cache-Control', 'max-age=60'], { status: 206 }))).toBe('partial');
    expect(reason(verdict(['Cache-Control', 'max-age=60', 'Content-Range', 'bytes 0-9/100']))).toBe('partial');
  });

  it('never stores without explicit freshness (no heuristics, not even with Last-Modified or public)', () => {
    expect(reason(verdict([]))).toBe('no-freshness');
    expect(reason(verdict(['Cache-Control', 'public', 'Last-Modified', 'Mon, 01 Jan 2024 00:00:00 GMT']))).toBe('no-freshness');
  });

  it('never stores private answers, including the qualified private="field" form', () => {
    expect(reason(verdict(['Cache-Control', 'private, max-age=60']))).toBe('private');
    expect(reason(verdict(['Cache-Control', 'max-age=60, private="Set-Cookie"']))).toBe('private');
  });

  it('never stores no-store answers', () => {
    expect(reason(verdict(['Cache-Control', 'no-store, max-age=60']))).toBe('no-store');
  });

  it('never stores no-cache answers without a validator, including the qualified no-cache="field" form', () => {
    expect(reason(verdict(['Cache-Control', 'no-cache, max-age=60']))).toBe('no-cache');
    expect(reason(verdict(['Cache-Control', 'max-age=60, no-cache="Set-Cookie"']))).toBe('no-cache');
  });

  it('stores a no-cache answer with a validator as stale at once (lifetime 0), to be revalidated on every use', () => {
    expect(verdict(['Cache-Control', 'no-cache', 'ETag', '"a"'])).toMatchObject({ store: true, lifetimeMs: 0 });
    expect(verdict(['Cache-Control', 'no-cache, max-age=60', 'Last-Modified', 'Tue, 01 Dec 2026 10:00:00 GMT'])).toMatchObject({ store: true, lifetimeMs: 0 });
    // The rules that keep personal answers out still come first.
    expect(reason(verdict(['Cache-Control', 'no-cache', 'ETag', '"a"', 'Set-Cookie', 's=1']))).toBe('set-cookie');
    expect(reason(verdict(['Cache-Control', 'no-cache, private', 'ETag', '"a"']))).toBe('private');
  });

  it('never stores an answer that sets a cookie, even a public one (Passenger replayed it to everyone)', () => {
    expect(reason(verdict(['Cache-Control', 'public, max-age=60', 'Set-Cookie', 'session=abc']))).toBe('set-cookie');
  });

  it('never stores an answer that sets a cookie the obsolete way (Set-Cookie2)', () => {
    expect(reason(verdict(['Cache-Control', 'public, max-age=60', 'Set-Cookie2', 'session=abc; Version=1']))).toBe('set-cookie');
  });

  it('stores an answer with Vary, told apart by the fields it names (sorted, once each); never Vary: *', () => {
    expect(verdict(['Cache-Control', 'max-age=60', 'Vary', 'Accept-Language'])).toMatchObject({ store: true, vary: ['accept-language'] });
    expect(verdict(['Cache-Control', 'max-age=60', 'Vary', 'Accept-Language, accept-encoding', 'Vary', 'Accept-Language'])).toMatchObject({ store: true, vary: ['accept-encoding', 'accept-language'] });
    expect(verdict(['Cache-Control', 'max-age=60'])).toMatchObject({ store: true, vary: [] });
    expect(reason(verdict(['Cache-Control', 'max-age=60', 'Vary', '*']))).toBe('vary');
    expect(reason(verdict(['Cache-Control', 'max-age=60', 'Vary', 'Accept, *']))).toBe('vary');
  });

  it('never stores an answer in a coding the key cannot tell apart', () => {
    expect(verdict(['Cache-Control', 'max-age=60', 'Vary', 'Accept-Encoding', 'Content-Encoding', 'gzip'])).toMatchObject({ store: true, vary: ['accept-encoding'] });
    expect(reason(verdict(['Cache-Control', 'max-age=60', 'Vary', 'Accept-Encoding', 'Content-Encoding', 'compress']))).toBe('encoding');
    expect(reason(verdict(['Cache-Control', 'max-age=60', 'Content-Encoding', 'gzip', 'Content-Encoding', 'br']))).toBe('encoding');
  });

  it('stores Vary: Cookie only when entries vary by a cookie (the key holds it), and nothing else with it', () => {
    expect(reason(verdict(['Cache-Control', 'max-age=60', 'Vary', 'cookie']))).toBe('vary');
    expect(reason(verdict(['Cache-Control', 'max-age=60', 'Vary', 'Cookie'], { varyByCookie: true }))).toBe('stored');
    expect(verdict(['Cache-Control', 'max-age=60', 'Vary', 'Cookie, Accept-Encoding'], { varyByCookie: true })).toMatchObject({ store: true, vary: ['accept-encoding'] });
    expect(verdict(['Cache-Control', 'max-age=60', 'Vary', 'Cookie', 'Vary', 'Accept'], { varyByCookie: true })).toMatchObject({ store: true, vary: ['accept'] });
  });

  it('never stores the answer to an Authorization request unless public or s-maxage says so', () => {
    expect(reason(verdict(['Cache-Control', 'max-age=60'], { authorization: true }))).toBe('authorization');
    expect(reason(verdict(['Cache-Control', 'max-age=60, must-revalidate'], { authorization: true }))).toBe('authorization');
    expect(reason(verdict(['Cache-Control', 'public, max-age=60'], { authorization: true }))).toBe('stored');
    expect(reason(verdict(['Cache-Control', 's-maxage=60'], { authorization: true }))).toBe('stored');
  });

  it('never stores an answer that asks for credentials', () => {
    expect(reason(verdict(['Cache-Control', 'max-age=60', 'WWW-Authenticate', 'Basic']))).toBe('www-authenticate');
  });

  it('reads directive names case-insensitively', () => {
    expect(lifetimeS(verdict(['Cache-Control', 'Public, MAX-AGE=60']))).toBe(60);
    expect(reason(verdict(['Cache-Control', 'Max-Age=60, PRIVATE']))).toBe('private');
    expect(reason(verdict(['cache-control', 'max-age=60', 'SET-COOKIE', 'a=b']))).toBe('set-cookie');
  });

  it('does not take text inside quoted strings for directives', () => {
    expect(reason(verdict(['Cache-Control', 'public, x-note="private, no-store", max-age=60']))).toBe('stored');
    expect(lifetimeS(verdict(['Cache-Control', 'x-note="max-age=999,", max-age=60']))).toBe(60);
    expect(reason(verdict(['Cache-Control', 'public, x-note="max-age=60"']))).toBe('no-freshness');
  });

  it('lets s-maxage win over max-age, and max-age over Expires', () => {
    expect(lifetimeS(verdict(['Cache-Control', 'max-age=10, s-maxage=300']))).toBe(300);
    expect(lifetimeS(verdict(['Cache-Control', 'max-age=10', 'Expires', new Date(NOW + 3_600_000).toUTCString()]))).toBe(10);
    expect(lifetimeS(verdict(['Expires', new Date(NOW + 3_600_000).toUTCString()]))).toBe(3600);
  });

  it('takes Expires relative to the answer\'s Date, not our clock', () => {
    const date = new Date(NOW - 30_000).toUTCString();
    const expires = new Date(NOW + 30_000).toUTCString();
    const v = storeVerdict({ status: 200, facts: collectResponseFacts(['Date', date, 'Expires', expires]), authorization: false, varyByCookie: false, requestTimeMs: NOW, responseTimeMs: NOW });
    expect(v).toMatchObject({ store: true, lifetimeMs: 60_000, initialAgeMs: 30_000 });
  });

  it('treats an invalid Expires (including "0" and a repeated one) as already expired', () => {
    expect(reason(verdict(['Expires', '0']))).toBe('invalid-freshness');
    expect(reason(verdict(['Expires', 'tomorrow']))).toBe('invalid-freshness');
    const later = new Date(NOW + 60_000).toUTCString();
    expect(reason(verdict(['Expires', later, 'Expires', later]))).toBe('invalid-freshness');
    expect(reason(verdict(['Expires', new Date(NOW - 60_000).toUTCString()]))).toBe('stale');
  });

  it('treats a malformed or repeated max-age as invalid freshness, and max-age=0 as stale', () => {
    expect(reason(verdict(['Cache-Control', 'max-age=abc']))).toBe('invalid-freshness');
    expect(reason(verdict(['Cache-Control', 'max-age=-5']))).toBe('invalid-freshness');
    expect(reason(verdict(['Cache-Control', 'max-age=60, max-age=10']))).toBe('invalid-freshness');
    expect(reason(verdict(['Cache-Control', 'max-age=60', 'Cache-Control', 'max-age=10']))).toBe('invalid-freshness');
    expect(reason(verdict(['Cache-Control', 'max-age=0']))).toBe('stale');
    expect(lifetimeS(verdict(['Cache-Control', 'max-age="60"']))).toBe(60);
  });

  it('treats whitespace around the "=" of a directive as malformed (RFC 9111 §5.2: no whitespace there)', () => {
    expect(reason(verdict(['Cache-Control', 'max-age =3600']))).toBe('invalid-freshness');
    expect(reason(verdict(['Cache-Control', 'max-age= 3600']))).toBe('invalid-freshness');
    expect(reason(verdict(['Cache-Control', 's-maxage = 3600, max-age=60']))).toBe('invalid-freshness');
    // The directive still counts: what forbids storing still does.
    expect(reason(verdict(['Cache-Control', 'max-age=60, no-cache ="Set-Cookie"']))).toBe('no-cache');
  });

  it('ignores an invalid Age (Age = delta-seconds, RFC 9111 §5.1): the answer counts as new', () => {
    expect(verdict(['Cache-Control', 'max-age=3600', 'Age', '7200;foo=bar'])).toMatchObject({ store: true, initialAgeMs: 0 });
    expect(verdict(['Cache-Control', 'max-age=3600', 'Age', '-5'])).toMatchObject({ store: true, initialAgeMs: 0 });
    expect(verdict(['Cache-Control', 'max-age=3600', 'Age', '7200'])).toMatchObject({ store: false, reason: 'stale' });
  });

  it('does not store an answer already older than its freshness (Age header)', () => {
    expect(reason(verdict(['Cache-Control', 'max-age=60', 'Age', '60']))).toBe('stale');
    expect(verdict(['Cache-Control', 'max-age=60', 'Age', '50'])).toMatchObject({ store: true, initialAgeMs: 50_000 });
  });
});

describe('storeVerdict: targeted fields (RFC 9213)', () => {
  it('never stores what CDN-Cache-Control forbids, whatever Cache-Control allows', () => {
    expect(reason(verdict(['Cache-Control', 'public, max-age=60', 'CDN-Cache-Control', 'private']))).toBe('private');
    expect(reason(verdict(['Cache-Control', 'public, max-age=60', 'CDN-Cache-Control', 'no-store']))).toBe('no-store');
    expect(reason(verdict(['Cache-Control', 'public, max-age=60', 'CDN-Cache-Control', 'no-cache']))).toBe('no-cache');
    expect(reason(verdict(['Cache-Control', 'public, max-age=60', 'Ferry-Cache-Control', 'private']))).toBe('private');
  });

  it('lets the most specific valid field alone decide: Ferry-Cache-Control, then CDN-Cache-Control, then Cache-Control', () => {
    expect(lifetimeS(verdict(['Cache-Control', 'no-store', 'CDN-Cache-Control', 'max-age=120']))).toBe(120);
    expect(lifetimeS(verdict(['Cache-Control', 'max-age=10', 'CDN-Cache-Control', 'max-age=120', 'Ferry-Cache-Control', 'max-age=300']))).toBe(300);
    // The CDN's own rule does not bind Ferry once Ferry's field speaks.
    expect(lifetimeS(verdict(['CDN-Cache-Control', 'no-store', 'Ferry-Cache-Control', 's-maxage=30']))).toBe(30);
    expect(reason(verdict(['Cache-Control', 'max-age=60', 'Ferry-Cache-Control', 'no-store']))).toBe('no-store');
  });

  it('ignores Cache-Control and Expires when a targeted field decides: without freshness of its own, nothing is stored', () => {
    expect(reason(verdict(['Cache-Control', 'max-age=60', 'CDN-Cache-Control', 'public']))).toBe('no-freshness');
    expect(reason(verdict(['Expires', new Date(NOW + 60_000).toUTCString(), 'CDN-Cache-Control', 'none']))).toBe('no-freshness');
    expect(reason(verdict(['Cache-Control', 'max-age=60', 'CDN-Cache-Control', 'max-age=-1']))).toBe('invalid-freshness');
    expect(reason(verdict(['Cache-Control', 'max-age=60', 'CDN-Cache-Control', 'max-age=1.5']))).toBe('invalid-freshness');
    // A valid Dictionary whose max-age is no Integer (RFC 9213 §2.1: not to be coerced).
    expect(reason(verdict(['Cache-Control', 'max-age=60', 'Ferry-Cache-Control', 'max-age="120"']))).toBe('invalid-freshness');
  });

  it('reads a targeted field as a Structured Fields Dictionary, ignoring parameters', () => {
    expect(lifetimeS(verdict(['CDN-Cache-Control', 'max-age=60;x=1, x-note="a, b", y=(a b), z=?1, w=:AQ==:']))).toBe(60);
    expect(lifetimeS(verdict(['CDN-Cache-Control', 'x-a', 'CDN-Cache-Control', 'max-age=60']))).toBe(60);
    expect(reason(verdict(['CDN-Cache-Control', 'max-age=60, private="set-cookie"']))).toBe('private');
  });

  it('ignores an invalid targeted field as if it were absent, but still never stores when it says private, no-store or no-cache', () => {
    expect(lifetimeS(verdict(['Cache-Control', 'max-age=60', 'CDN-Cache-Control', 'Max-Age=120']))).toBe(60);
    expect(lifetimeS(verdict(['Cache-Control', 'max-age=60', 'CDN-Cache-Control', 'max-age = 120']))).toBe(60);
    expect(lifetimeS(verdict(['Cache-Control', 'max-age=60', 'CDN-Cache-Control', 'max-age=120,']))).toBe(60);
    expect(lifetimeS(verdict(['Cache-Control', 'max-age=60', 'Ferry-Cache-Control', '']))).toBe(60);
    expect(lifetimeS(verdict(['Cache-Control', 'max-age=60', 'Ferry-Cache-Control', 'max-age=120 x', 'CDN-Cache-Control', 'max-age=90']))).toBe(90);
    expect(reason(verdict(['Cache-Control', 'public, max-age=60', 'CDN-Cache-Control', 'Private']))).toBe('private');
    expect(reason(verdict(['Cache-Control', 'public, max-age=60', 'Ferry-Cache-Control', 'no-store;']))).toBe('no-store');
  });

  it('keeps the personal rules: Set-Cookie, Vary, WWW-Authenticate; Authorization unless the deciding field says public or s-maxage', () => {
    expect(reason(verdict(['CDN-Cache-Control', 'max-age=60', 'Set-Cookie', 'a=b']))).toBe('set-cookie');
    expect(reason(verdict(['CDN-Cache-Control', 'max-age=60', 'Vary', '*']))).toBe('vary');
    expect(reason(verdict(['CDN-Cache-Control', 'max-age=60', 'WWW-Authenticate', 'Basic']))).toBe('www-authenticate');
    expect(reason(verdict(['Cache-Control', 'public', 'CDN-Cache-Control', 'max-age=60'], { authorization: true }))).toBe('authorization');
    expect(reason(verdict(['Cache-Control', 'public, max-age=60', 'CDN-Cache-Control', 'max-age=60'], { authorization: true }))).toBe('authorization');
    expect(reason(verdict(['CDN-Cache-Control', 'public, max-age=60'], { authorization: true }))).toBe('stored');
    expect(reason(verdict(['Ferry-Cache-Control', 's-maxage=60'], { authorization: true }))).toBe('stored');
  });
});

describe('age (RFC 9111 §4.2.3)', () => {
  it('takes the larger of the age by Date and the Age header plus the time the request took', () => {
    // Date says 20 s old, Age says 5 s, the app took 2 s: 20 s.
    expect(initialAgeMs('5', NOW - 20_000, NOW - 2000, NOW)).toBe(20_000);
    // Date says 0 s, Age says 5 s, the app took 2 s: 7 s.
    expect(initialAgeMs('5', NOW, NOW - 2000, NOW)).toBe(7000);
    // A Date in the future (clock skew) counts as 0.
    expect(initialAgeMs(undefined, NOW + 60_000, NOW, NOW)).toBe(0);
  });

  it('uses the first member of a list-valued Age and ignores an invalid one', () => {
    expect(initialAgeMs('30, 40', NOW, NOW, NOW)).toBe(30_000);
    expect(initialAgeMs('soon', NOW, NOW, NOW)).toBe(0);
    expect(initialAgeMs('7200;foo=bar', NOW, NOW, NOW)).toBe(0);
    expect(initialAgeMs('7200 s', NOW, NOW, NOW)).toBe(0);
  });

  it('keeps an entry fresh until its age reaches its lifetime, and honours the request max-age', () => {
    const entry = { initialAgeMs: 50_000, responseTimeMs: NOW, lifetimeMs: 60_000 };
    expect(isFresh(entry, NOW + 9_999)).toBe(true);
    expect(isFresh(entry, NOW + 10_000)).toBe(false);
    expect(isFresh(entry, NOW, 40_000)).toBe(false);
    expect(isFresh(entry, NOW, 50_000)).toBe(true);
    // min-fresh: 10 s of freshness left now.
    expect(isFresh(entry, NOW, undefined, 9_999)).toBe(true);
    expect(isFresh(entry, NOW, undefined, 10_000)).toBe(false);
  });
});

describe('keys', () => {
  it('holds scheme, host (canonical already: the parsed authority) and the target with its query', () => {
    expect(urlKey('http', 'example.com', '/a?x=1')).toBe('http://example.com/a?x=1');
    expect(urlKey('http', 'example.com', '/a?x=1')).not.toBe(urlKey('http', 'example.com', '/a?x=2'));
    expect(urlKey('https', 'example.com', '/a')).not.toBe(urlKey('http', 'example.com', '/a'));
  });

  it('with vary-by-cookie, splits by the cookie value, and a missing cookie is its own variant', () => {
    const url = urlKey('http', 'a', '/');
    expect(variantKey(url, undefined)).toBe(url);
    const anonymous = variantKey(url, { value: undefined });
    const empty = variantKey(url, { value: '' });
    const user1 = variantKey(url, { value: '1' });
    expect(new Set([anonymous, empty, user1, variantKey(url, { value: '2' })]).size).toBe(4);
  });

  it("behind a trusted front, holds Host too when it differs from X-Forwarded-Host (the URL's host then)", () => {
    const url = urlKey('http', 'site.example', '/');
    expect(variantKey(url, undefined, 'evil.example')).not.toBe(variantKey(url, undefined));
    expect(variantKey(url, { value: '1' }, 'evil.example')).not.toBe(variantKey(url, { value: '1' }));
    expect(variantKey(url, { value: '1' }, 'evil.example')).not.toBe(variantKey(url, undefined, 'evil.example'));
  });
});

describe('invalidation (RFC 9111 §4.4)', () => {
  it('invalidates the URL, and Location / Content-Location on the same host, after a non-error answer', () => {
    expect(invalidatedUrls(303, 'http', 'a.test', '/comments', '/', '/comments/7')).toEqual(['http://a.test/comments', 'http://a.test/', 'http://a.test/comments/7']);
    expect(invalidatedUrls(201, 'http', 'a.test', '/posts', 'http://a.test/posts/1?x=2')).toEqual(['http://a.test/posts', 'http://a.test/posts/1?x=2']);
  });

  it('does not invalidate another host through Location, nor anything after an error', () => {
    expect(invalidatedUrls(302, 'http', 'a.test', '/login', 'http://evil.test/')).toEqual(['http://a.test/login']);
    expect(invalidatedUrls(500, 'http', 'a.test', '/comments', '/')).toEqual([]);
    expect(invalidatedUrls(404, 'http', 'a.test', '/comments')).toEqual([]);
  });
});

describe('conditional requests', () => {
  it('matches If-None-Match by weak comparison, lists and *', () => {
    expect(etagMatches('"abc"', '"abc"')).toBe(true);
    expect(etagMatches('W/"abc"', '"abc"')).toBe(true);
    expect(etagMatches('"x", "abc"', 'W/"abc"')).toBe(true);
    expect(etagMatches('*', '"abc"')).toBe(true);
    expect(etagMatches('"abd"', '"abc"')).toBe(false);
  });
});

describe('notModified: a 304 from an entry (RFC 9110 §13.1, §13.2)', () => {
  const LAST_MODIFIED = new Date(NOW - 3_600_000).toUTCString();
  const entry = { status: 200, etag: '"v1"', lastModified: LAST_MODIFIED };
  const at = (ms: number): string => new Date(ms).toUTCString();

  it('answers If-Modified-Since with 304 when the entry was not modified since, and not when it was', () => {
    expect(notModified({ 'if-modified-since': LAST_MODIFIED }, entry, NOW)).toBe(true);
    expect(notModified({ 'if-modified-since': at(NOW - 60_000) }, entry, NOW)).toBe(true);
    expect(notModified({ 'if-modified-since': at(NOW - 7_200_000) }, entry, NOW)).toBe(false);
    expect(notModified({ 'if-modified-since': LAST_MODIFIED }, { status: 200 }, NOW)).toBe(false);
  });

  it('ignores If-Modified-Since that does not parse, or that is in the future, or when If-None-Match is there', () => {
    expect(notModified({ 'if-modified-since': 'yesterday' }, entry, NOW)).toBe(false);
    expect(notModified({ 'if-modified-since': at(NOW + 60_000) }, entry, NOW)).toBe(false);
    expect(notModified({ 'if-none-match': '"v2"', 'if-modified-since': LAST_MODIFIED }, entry, NOW)).toBe(false);
    expect(notModified({ 'if-none-match': '"v1"', 'if-modified-since': at(NOW - 7_200_000) }, entry, NOW)).toBe(true);
    expect(notModified({ 'if-none-match': '"v1"', 'if-modified-since': LAST_MODIFIED }, { status: 200, lastModified: LAST_MODIFIED }, NOW)).toBe(false);
  });

  it('answers only for entries that are 2xx: a stored 404 or 301 stays what it is', () => {
    expect(notModified({ 'if-none-match': '"v1"' }, { ...entry, status: 404 }, NOW)).toBe(false);
    expect(notModified({ 'if-modified-since': LAST_MODIFIED }, { ...entry, status: 301 }, NOW)).toBe(false);
  });
});

describe('field parsing', () => {
  it('parses Cache-Control with quoted strings, escapes and odd spacing; an argument after a spaced "=" is invalid', () => {
    const cc = parseCacheControl(['max-age = 5 , no-cache="a, \\"b\\"",,PUBLIC']);
    expect(cc.directives.get('max-age')).toBe('');
    expect(cc.directives.get('no-cache')).toBe('a, "b"');
    expect(cc.directives.get('public')).toBe(true);
    expect(cc.directives.size).toBe(3);
  });

  it('accepts the three HTTP-date forms and nothing else', () => {
    const ms = Date.parse('1994-11-06T08:49:37Z');
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT')).toBe(ms);
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT')).toBe(ms);
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994')).toBe(ms);
    expect(parseHttpDate('Sun Nov 06 08:49:37 1994')).toBe(ms);
    expect(parseHttpDate('2026-11-23')).toBeUndefined();
    expect(parseHttpDate('0')).toBeUndefined();
  });
});

describe('parseHttpDate: the obsolete forms Expires may come in', () => {
  it('reads a two-digit RFC 850 year as at most 50 years ahead, else the century before (RFC 9110 §5.6.7)', () => {
    // NOW is 2026-11-23.
    expect(parseHttpDate('Wednesday, 01-Jan-75 00:00:00 GMT', NOW)).toBe(Date.parse('2075-01-01T00:00:00Z'));
    expect(parseHttpDate('Friday, 01-Jan-77 00:00:00 GMT', NOW)).toBe(Date.parse('1977-01-01T00:00:00Z'));
    expect(parseHttpDate('Thursday, 23-Nov-76 00:00:00 GMT', NOW)).toBe(Date.parse('2076-11-23T00:00:00Z'));
    expect(parseHttpDate('Tuesday, 24-Nov-26 10:00:00 GMT', NOW)).toBe(Date.parse('2026-11-24T10:00:00Z'));
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', NOW)).toBe(Date.parse('1994-11-06T08:49:37Z'));
    // Late in a century, a small year is the next one.
    expect(parseHttpDate('Monday, 01-Jan-01 00:00:00 GMT', Date.parse('2099-06-01T00:00:00Z'))).toBe(Date.parse('2101-01-01T00:00:00Z'));
  });

  it('stores an answer whose Expires is in RFC 850 or asctime form', () => {
    const inAnHour = new Date(NOW + 3_600_000);
    const [weekday, day, month, year, time] = ['Monday', '23', 'Nov', '2026', '11:00:00'];
    expect(inAnHour.toUTCString()).toBe(`Mon, ${day} ${month} ${year} ${time} GMT`);
    expect(lifetimeS(verdict(['Expires', `${weekday}, ${day}-${month}-26 ${time} GMT`]))).toBe(3600);
    expect(lifetimeS(verdict(['Expires', `Mon ${month} ${day} ${time} ${year}`]))).toBe(3600);
    // Read from the answer's own time: 60 is 2060, 34 years ahead, not 1960 (already expired).
    expect(lifetimeS(verdict(['Expires', 'Thursday, 01-Jan-60 00:00:00 GMT']))).toBe((Date.parse('2060-01-01T00:00:00Z') - NOW) / 1000);
  });
});

describe('against http-cache-semantics (an oracle for well-formed answers)', () => {
  // Where our conservative rules store, the library must agree it is storable, with the same
  // lifetime; they differ only where we are stricter (never the other way round).
  const cases: [Record<string, string>, string][] = [
    [{ 'cache-control': 'public, max-age=60' }, 'stored'],
    [{ 'cache-control': 'max-age=120' }, 'stored'],
    [{ 'cache-control': 's-maxage=30, max-age=10' }, 'stored'],
    [{ expires: new Date(NOW + 90_000).toUTCString() }, 'stored'],
    [{ 'cache-control': 'private, max-age=60' }, 'private'],
    [{ 'cache-control': 'no-store' }, 'no-store'],
    [{ 'cache-control': 'public, max-age=60', 'set-cookie': 'a=b' }, 'set-cookie'],
    [{ 'cache-control': 'max-age=60', vary: 'accept-language' }, 'stored'],
    [{ 'cache-control': 'max-age=60', vary: '*' }, 'vary'],
    [{ 'last-modified': 'Mon, 01 Jan 2024 00:00:00 GMT' }, 'no-freshness'],
    [{ 'cache-control': 'public' }, 'no-freshness'],
  ];
  for (const [headers, expected] of cases) {
    it(`${expected}: ${JSON.stringify(headers)}`, () => {
      const all = { date: DATE, ...headers };
      const ours = verdict(Object.entries(headers).flat());
      expect(reason(ours)).toBe(expected);
      const policy = new CachePolicy({ method: 'GET', url: '/', headers: { host: 'a' } }, { status: 200, headers: all }, { shared: true });
      if (!policy.storable() || policy.maxAge() === 0) expect(ours.store).toBe(false);
      if (ours.store) {
        expect(policy.storable()).toBe(true);
        expect(policy.maxAge()).toBe(ours.lifetimeMs / 1000);
      }
    });
  }
});
