// The turbocache's decisions (pure): may this request be answered from the cache, may this
// response be stored and for how long, how old is an entry, which URLs does a change invalidate.
// Each "no" carries a stable reason, shown in X-Ferry-Cache and counted in the stats.
//
// RFC 9111 with conservative rules on top (a shared cache in front of apps that did not plan for
// one): only explicit freshness, nothing personal (Set-Cookie, private, Authorization, Vary).
// http-cache-semantics was measured against these rules and not used at run time: its
// Cache-Control parser is case-sensitive and splits quoted strings at commas, its age ignores
// Date, and it would build a policy object from a header object per response. Its storable() and
// maxAge() serve as an oracle in the unit tests instead.

import type { IncomingHttpHeaders } from 'node:http';
import { parseCacheControl, parseDeltaSeconds, parseHttpDate, parseTargetedCacheControl, type CacheControl } from './http-fields.js';
import { knownEncoding, varySpec } from './vary.js';

/** Why a request is not answered from the cache. */
export type BypassReason = 'method' | 'no-host' | 'request-no-cache' | 'authorization' | 'range' | 'request-body';

/** Why a response is not stored. */
export type NotStoredReason =
  | 'head'
  | 'request-no-store'
  | 'status'
  | 'partial'
  | 'no-store'
  | 'private'
  | 'no-cache'
  | 'set-cookie'
  | 'vary'
  | 'encoding'
  | 'authorization'
  | 'www-authenticate'
  | 'no-freshness'
  | 'invalid-freshness'
  | 'stale'
  | 'too-large';

/**
 * Whether an answer with this status may be stored (RFC 9111 §3: any final status may, with
 * explicit freshness, which Ferry always asks for; so the statuses cacheable by default, RFC 9110
 * §15.1, need no list). Refused on purpose: 1xx (not final), 304 (it answers a conditional
 * request: stored, it would answer unconditional ones), and 5xx but 501: an error of the moment
 * (the app failing or overloaded, a gateway timing out) kept for its max-age would outlive its
 * cause, where 501 (not implemented) lasts. 206 is refused before, as 'partial'.
 */
function storableStatus(status: number): boolean {
  return status >= 200 && status < 600 && status !== 304 && (status < 500 || status === 501);
}

/** Methods that cannot change anything on the server (RFC 9110 §9.2.1); others invalidate. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

export interface RequestVerdict {
  /** Look the request up in the cache. */
  lookup: boolean;
  /** Why not, when lookup is false. */
  bypass?: BypassReason;
  /** Whether the app's answer to it may be stored (a no-cache reload refreshes the entry). */
  mayStore: boolean;
  /** Why not, when mayStore is false. */
  notStored?: NotStoredReason;
  /** An unsafe method: a non-error answer invalidates the URL (RFC 9111 §4.4). */
  invalidates: boolean;
  /** The request's own Cache-Control max-age: an older entry is not good enough for it. */
  maxAgeMs?: number;
  /** Its min-fresh: an entry must stay fresh this much longer to answer it (RFC 9111 §5.2.1.3). */
  minFreshMs?: number;
  /**
   * Its only-if-cached: answered from the cache or with 504, never by the app (RFC 9111
   * §5.2.1.7); on any request, since one the cache cannot answer gets the 504 too.
   */
  onlyIfCached?: true;
}

function hasBody(headers: IncomingHttpHeaders): boolean {
  const length = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** What the cache may do with a request, from its method and headers alone. */
export function requestVerdict(method: string, headers: IncomingHttpHeaders): RequestVerdict {
  const cacheControl = headers['cache-control'];
  // Most requests say nothing about caching: no parsing.
  const cc = cacheControl === undefined ? undefined : parseCacheControl(cacheControl);
  const verdict = verdictFor(method, headers, cc);
  return cc?.directives.has('only-if-cached') ? { ...verdict, onlyIfCached: true } : verdict;
}

function verdictFor(method: string, headers: IncomingHttpHeaders, cc: CacheControl | undefined): RequestVerdict {
  if (method !== 'GET' && method !== 'HEAD') {
    return { lookup: false, bypass: 'method', mayStore: false, invalidates: !SAFE_METHODS.has(method) };
  }
  const head = method === 'HEAD';
  if (!headers.host) return notStoredBypass('no-host', head, 'request-no-store');
  if (headers.range !== undefined) return notStoredBypass('range', head, 'partial');
  if (hasBody(headers)) return notStoredBypass('request-body', head, 'request-no-store');
  // The answer may still be stored, if the app marks it public (decided on the response).
  if (headers.authorization !== undefined) return storableBypass('authorization', head);
  const pragma = headers.pragma;
  const lookup = head ? LOOKUP_HEAD : LOOKUP_GET;
  // Most requests say nothing about caching: one verdict object.
  if (cc === undefined && pragma === undefined) return lookup;
  if (cc?.directives.has('no-store')) return notStoredBypass('request-no-cache', head, 'request-no-store');
  if (cc?.directives.has('no-cache') || (pragma !== undefined && /(^|,)\s*no-cache\s*(,|$)/i.test(pragma))) return storableBypass('request-no-cache', head);
  const maxAge = parseDeltaSeconds(cc?.directives.get('max-age'));
  const minFresh = parseDeltaSeconds(cc?.directives.get('min-fresh'));
  if (maxAge === undefined && minFresh === undefined) return lookup;
  return { ...lookup, ...(maxAge !== undefined ? { maxAgeMs: maxAge * 1000 } : {}), ...(minFresh !== undefined ? { minFreshMs: minFresh * 1000 } : {}) };
}

/** A GET or HEAD looked up with nothing else to say (shared: verdicts are never changed). */
const LOOKUP_GET: RequestVerdict = Object.freeze({ lookup: true, mayStore: true, invalidates: false });
const LOOKUP_HEAD: RequestVerdict = Object.freeze({ lookup: true, mayStore: false, notStored: 'head', invalidates: false });

/** Not looked up, and its answer not stored (a HEAD's answer never is: it has no body). */
function notStoredBypass(bypass: BypassReason, head: boolean, reason: NotStoredReason): RequestVerdict {
  return { lookup: false, bypass, mayStore: false, notStored: head ? 'head' : reason, invalidates: false };
}

/** Not looked up, but its answer may be stored (a GET's). */
function storableBypass(bypass: BypassReason, head: boolean): RequestVerdict {
  return head ? { lookup: false, bypass, mayStore: false, notStored: 'head', invalidates: false } : { lookup: false, bypass, mayStore: true, invalidates: false };
}

/** The response fields the store decision reads, gathered in one pass over the raw headers. */
export interface ResponseFacts {
  cacheControl: string[];
  /** The targeted fields (RFC 9213): Ferry's own, and the one for CDNs. */
  ferryCacheControl: string[];
  cdnCacheControl: string[];
  expires: string[];
  date?: string;
  age?: string;
  vary: string[];
  setCookie: boolean;
  wwwAuthenticate: boolean;
  contentRange: boolean;
  /** Declared body length, when the app sent one. */
  contentLength?: number;
  etag?: string;
  lastModified?: string;
  contentEncoding?: string;
}

export function collectResponseFacts(raw: readonly string[]): ResponseFacts {
  const facts: ResponseFacts = { cacheControl: [], ferryCacheControl: [], cdnCacheControl: [], expires: [], vary: [], setCookie: false, wwwAuthenticate: false, contentRange: false };
  for (let i = 0; i < raw.length; i += 2) {
    const value = raw[i + 1] as string;
    switch ((raw[i] as string).toLowerCase()) {
      case 'cache-control':
        facts.cacheControl.push(value);
        break;
      case 'ferry-cache-control':
        facts.ferryCacheControl.push(value);
        break;
      case 'cdn-cache-control':
        facts.cdnCacheControl.push(value);
        break;
      case 'expires':
        facts.expires.push(value);
        break;
      case 'date':
        facts.date ??= value;
        break;
      case 'age':
        facts.age ??= value;
        break;
      case 'vary':
        facts.vary.push(value);
        break;
      // Set-Cookie2 is obsolete (RFC 6265 §9.4), but a client may still act on it: as personal.
      case 'set-cookie':
      case 'set-cookie2':
        facts.setCookie = true;
        break;
      case 'www-authenticate':
        facts.wwwAuthenticate = true;
        break;
      case 'content-range':
        facts.contentRange = true;
        break;
      case 'content-length':
        if (/^[0-9]+$/.test(value.trim())) facts.contentLength = Number(value);
        break;
      case 'etag':
        facts.etag ??= value;
        break;
      case 'last-modified':
        facts.lastModified ??= value;
        break;
      case 'content-encoding':
        facts.contentEncoding = facts.contentEncoding === undefined ? value : `${facts.contentEncoding}, ${value}`;
        break;
    }
  }
  return facts;
}

export interface StoreContext {
  status: number;
  facts: ResponseFacts;
  /** The request carried Authorization. */
  authorization: boolean;
  /** --vary-turbocache-by-cookie is on: the key already holds the cookie, so `Vary: Cookie` is fine. */
  varyByCookie: boolean;
  /** When the request was sent to the app and its answer arrived (ms since the epoch). */
  requestTimeMs: number;
  responseTimeMs: number;
}

export type StoreVerdict =
  /** `vary`: the request fields its variants are told apart by (sorted; none: one entry for the URL). */
  | { store: true; lifetimeMs: number; initialAgeMs: number; dateMs: number | undefined; vary: string[] }
  | { store: false; reason: NotStoredReason };

/**
 * The directives that decide storability and freshness (RFC 9213 §2.2): the most specific
 * targeted field that parses, Ferry-Cache-Control (for Ferry alone) then CDN-Cache-Control, else
 * Cache-Control. `targeted`: Cache-Control and Expires are then ignored. `ignored`: targeted
 * fields that did not parse (RFC 9213 §2.1: ignored as if absent), read leniently.
 */
function decidingControl(facts: ResponseFacts): { cc: CacheControl; targeted: boolean; ignored?: CacheControl } {
  let ignored: string[] | undefined;
  for (const values of [facts.ferryCacheControl, facts.cdnCacheControl]) {
    if (values.length === 0) continue;
    const cc = parseTargetedCacheControl(values);
    if (cc) return { cc, targeted: true, ...(ignored ? { ignored: parseCacheControl(ignored) } : {}) };
    (ignored ??= []).push(...values);
  }
  return { cc: parseCacheControl(facts.cacheControl), targeted: false, ...(ignored ? { ignored: parseCacheControl(ignored) } : {}) };
}

/** What an ignored targeted field still decides: the app meant it, whatever its spelling. */
const FORBIDDING = ['no-store', 'private', 'no-cache'] as const;

/** Freshness lifetime (RFC 9111 §4.2.1): s-maxage, else max-age, else Expires - Date. */
function freshnessLifetimeMs(cc: CacheControl, expiresValues: readonly string[], dateMs: number, nowMs: number): number | NotStoredReason {
  for (const name of ['s-maxage', 'max-age']) {
    if (!cc.directives.has(name)) continue;
    // A repeated or malformed value is invalid freshness: treated as stale, so not stored.
    const seconds = cc.repeated.has(name) ? undefined : parseDeltaSeconds(cc.directives.get(name));
    return seconds === undefined ? 'invalid-freshness' : seconds * 1000;
  }
  if (expiresValues.length === 0) return 'no-freshness';
  const expires = expiresValues.length === 1 ? parseHttpDate(expiresValues[0], nowMs) : undefined;
  return expires === undefined ? 'invalid-freshness' : expires - dateMs;
}

/**
 * The age a response already had when it arrived (RFC 9111 §4.2.3): the larger of what its Date
 * says and what its Age says plus the time the request took.
 */
export function initialAgeMs(ageHeader: string | undefined, dateMs: number, requestTimeMs: number, responseTimeMs: number): number {
  // A list-valued Age counts by its first member; an invalid one is ignored (RFC 9111 §5.1).
  const ageValueS = ageHeader === undefined ? 0 : (parseDeltaSeconds(ageHeader.split(',')[0]?.trim()) ?? 0);
  const apparentAgeMs = Math.max(0, responseTimeMs - dateMs);
  const correctedAgeMs = ageValueS * 1000 + (responseTimeMs - requestTimeMs);
  return Math.max(apparentAgeMs, correctedAgeMs);
}

/** How old an entry is now. */
export function currentAgeMs(entry: { initialAgeMs: number; responseTimeMs: number }, nowMs: number): number {
  return entry.initialAgeMs + (nowMs - entry.responseTimeMs);
}

/** Whether the app's answer to a GET may be stored, and for how long. */
export function storeVerdict(ctx: StoreContext): StoreVerdict {
  const { facts } = ctx;
  if (ctx.status === 206 || facts.contentRange) return { store: false, reason: 'partial' };
  if (!storableStatus(ctx.status)) return { store: false, reason: 'status' };
  const { cc, targeted, ignored } = decidingControl(facts);
  if (cc.directives.has('no-store')) return { store: false, reason: 'no-store' };
  // Also the qualified forms (private="Set-Cookie"): storing what is left is not worth the risk.
  if (cc.directives.has('private')) return { store: false, reason: 'private' };
  // Stored only to be revalidated on every use (RFC 9111 §5.2.2.4): with a validator to ask with.
  const revalidateAlways = cc.directives.has('no-cache');
  if (revalidateAlways && facts.etag === undefined && facts.lastModified === undefined) return { store: false, reason: 'no-cache' };
  const refusal = ignored && FORBIDDING.find((name) => ignored.directives.has(name));
  if (refusal) return { store: false, reason: refusal };
  if (facts.setCookie) return { store: false, reason: 'set-cookie' };
  // Stored per value of the fields it varies on (vary.ts), but never Vary: * nor a whole Cookie.
  const vary = varySpec(facts.vary, ctx.varyByCookie);
  if (!vary.storable) return { store: false, reason: 'vary' };
  // A coding the key cannot tell apart could reach a client that does not accept it.
  if (!knownEncoding(facts.contentEncoding)) return { store: false, reason: 'encoding' };
  // RFC 9111 §3.5: a shared cache keeps an answer to an authorized request only when told to.
  if (ctx.authorization && !cc.directives.has('public') && !cc.directives.has('s-maxage')) return { store: false, reason: 'authorization' };
  if (facts.wwwAuthenticate) return { store: false, reason: 'www-authenticate' };
  if (revalidateAlways) {
    const dateMs = parseHttpDate(facts.date);
    const initialAge = initialAgeMs(facts.age, dateMs ?? ctx.responseTimeMs, ctx.requestTimeMs, ctx.responseTimeMs);
    return { store: true, lifetimeMs: 0, initialAgeMs: initialAge, dateMs, vary: vary.fields };
  }
  // No freshness given: decided before the Date is parsed (most answers end here).
  // A targeted field that decides ignores Expires (RFC 9213 §2.2).
  const expires = targeted ? [] : facts.expires;
  if (!cc.directives.has('s-maxage') && !cc.directives.has('max-age') && expires.length === 0) return { store: false, reason: 'no-freshness' };
  const parsedDate = parseHttpDate(facts.date, ctx.responseTimeMs);
  const dateMs = parsedDate ?? ctx.responseTimeMs;
  const lifetime = freshnessLifetimeMs(cc, expires, dateMs, ctx.responseTimeMs);
  if (typeof lifetime === 'string') return { store: false, reason: lifetime };
  const initialAge = initialAgeMs(facts.age, dateMs, ctx.requestTimeMs, ctx.responseTimeMs);
  if (lifetime <= initialAge) return { store: false, reason: 'stale' };
  return { store: true, lifetimeMs: lifetime, initialAgeMs: initialAge, dateMs: parsedDate, vary: vary.fields };
}

/** What an answer allows a cache to do with it once stale (RFC 5861; RFC 9111 §4.2.4). */
export interface StaleAllowance {
  /** stale-while-revalidate: served at once while one refresh runs in the background. */
  whileRevalidateMs: number;
  /** stale-if-error: served when the app fails (5xx, no answer, no process). */
  ifErrorMs: number;
  /**
   * must-revalidate, proxy-revalidate, no-cache, or s-maxage (which means proxy-revalidate for a
   * shared cache, RFC 9111 §5.2.2.10): never served stale, whatever else says so.
   */
  neverStale: boolean;
}

export function staleAllowance(cc: CacheControl): StaleAllowance {
  const d = cc.directives;
  const neverStale = d.has('must-revalidate') || d.has('proxy-revalidate') || d.has('no-cache') || d.has('s-maxage');
  const ms = (name: string): number => (neverStale || cc.repeated.has(name) ? 0 : (parseDeltaSeconds(d.get(name)) ?? 0) * 1000);
  return { whileRevalidateMs: ms('stale-while-revalidate'), ifErrorMs: ms('stale-if-error'), neverStale };
}

/**
 * A stored answer's allowance, from the field that decides its caching (a targeted one first);
 * never stale when Cache-Control forbids it too, even where a targeted field decides.
 */
export function staleAllowanceOf(facts: ResponseFacts): StaleAllowance {
  const { cc, targeted } = decidingControl(facts);
  const allowance = staleAllowance(cc);
  if (targeted && staleAllowance(parseCacheControl(facts.cacheControl)).neverStale) return { whileRevalidateMs: 0, ifErrorMs: 0, neverStale: true };
  return allowance;
}

/** Whether a stored entry may answer a request now: fresh, and within the request's max-age and min-fresh. */
export function isFresh(entry: { initialAgeMs: number; responseTimeMs: number; lifetimeMs: number }, nowMs: number, requestMaxAgeMs?: number, requestMinFreshMs?: number): boolean {
  const age = currentAgeMs(entry, nowMs);
  return age + (requestMinFreshMs ?? 0) < entry.lifetimeMs && (requestMaxAgeMs === undefined || age <= requestMaxAgeMs);
}

/**
 * The URL part of a key: scheme, host and the request target with its query. The host is
 * canonical already (the door's parsed authority, or a URL's host): a key built from a Host taken
 * as text ("t/a") would be another URL's key.
 */
export function urlKey(scheme: string, host: string, target: string): string {
  return `${scheme}://${host}${target}`;
}

/**
 * The full key: the URL, then what else the answer may depend on. With vary-by-cookie, that
 * cookie's value (a missing cookie is its own variant). Behind a trusted front whose
 * X-Forwarded-Host (the URL's host then) differs from Host, Host too: an app may build its links
 * from either.
 */
export function variantKey(url: string, varyCookie: { value: string | undefined } | undefined, otherHost?: string): string {
  const base = otherHost === undefined ? url : `${url}\nhost=${otherHost}`;
  if (!varyCookie) return base;
  return varyCookie.value === undefined ? `${base}\n-` : `${base}\n=${varyCookie.value}`;
}

/**
 * The URLs an unsafe request invalidates when it succeeds (RFC 9111 §4.4): its own, and those in
 * Location and Content-Location when they are on the same host.
 */
export function invalidatedUrls(status: number, scheme: string, host: string, target: string, location?: string, contentLocation?: string): string[] {
  if (status < 200 || status >= 400) return [];
  const own = urlKey(scheme, host, target);
  const urls = [own];
  for (const ref of [location, contentLocation]) {
    if (!ref) continue;
    let resolved: URL;
    try {
      resolved = new URL(ref, own);
    } catch {
      continue;
    }
    const key = urlKey(resolved.protocol.slice(0, -1), resolved.host, resolved.pathname + resolved.search);
    if (resolved.protocol === `${scheme}:` && resolved.host === host && !urls.includes(key)) urls.push(key);
  }
  return urls;
}

/**
 * Whether a GET or HEAD gets a 304 from an entry. If-None-Match against its ETag when the request
 * has one (RFC 9110 §13.1.2: it takes precedence, If-Modified-Since is then ignored); else
 * If-Modified-Since against its Last-Modified (§13.1.3), when both dates parse and the request's
 * is not later than now (a future date is invalid: the full answer is never wrong). Only for an
 * entry answered 2xx (§13.2.1): a stored 404 or redirect stays what it is.
 */
export function notModified(headers: IncomingHttpHeaders, entry: { status: number; etag?: string; lastModified?: string }, nowMs: number): boolean {
  if (entry.status < 200 || entry.status >= 300) return false;
  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch !== undefined) return entry.etag !== undefined && etagMatches(ifNoneMatch, entry.etag);
  const ifModifiedSince = headers['if-modified-since'];
  if (ifModifiedSince === undefined || entry.lastModified === undefined) return false;
  const since = parseHttpDate(ifModifiedSince, nowMs);
  const modified = parseHttpDate(entry.lastModified, nowMs);
  return since !== undefined && modified !== undefined && since <= nowMs && modified <= since;
}

/** If-None-Match against a stored ETag, by weak comparison (RFC 9110 §13.1.2). */
export function etagMatches(ifNoneMatch: string, etag: string): boolean {
  if (ifNoneMatch.trim() === '*') return true;
  const opaque = (tag: string): string => tag.trim().replace(/^W\//, '');
  const stored = opaque(etag);
  return ifNoneMatch.split(',').some((tag) => opaque(tag) === stored);
}
