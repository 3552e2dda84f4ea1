// Where the turbocache meets the proxy: answers a request from the cache, or follows the app's
// answer to it (store it, invalidate what it changed) and says what happened in X-Ferry-Cache.

import type { IncomingHttpHeaders } from 'node:http';
import type { RequestOrigin } from '../engine/authority.js';
import { readCookie } from './http-fields.js';
import { collectResponseFacts, currentAgeMs, invalidatedUrls, notModified, requestVerdict, staleAllowanceOf, storeVerdict, urlKey, variantKey, type NotStoredReason, type RequestVerdict } from './policy.js';
import { secondaryKey } from './vary.js';
import { entrySize, hasValidator, hitContentLength, staleServingMs, stalenessMs, Turbocache, type CacheEntry } from './turbocache.js';

export const CACHE_HEADER = 'X-Ferry-Cache';

/**
 * Headers kept from the stored response on a 304 (RFC 9110 §15.4.5); CDN-Cache-Control too, so
 * that a CDN revalidating with Ferry refreshes its own rule with the entry.
 */
const NOT_MODIFIED_HEADERS = new Set(['cache-control', 'cdn-cache-control', 'content-location', 'date', 'etag', 'expires', 'vary', 'last-modified']);

/**
 * Per-request fields that must not be replayed to other clients from a stored answer, and
 * Ferry-Cache-Control, which is for Ferry alone.
 */
const NOT_STORED_HEADERS = new Set(['age', 'content-length', 'x-request-id', 'ferry-cache-control']);

/**
 * Takes Ferry-Cache-Control out of an answer before the client gets it: it speaks to Ferry only
 * (RFC 9213's targeted field for this cache), after the cache has read it. CDN-Cache-Control
 * stays: a CDN in front of Ferry obeys it.
 */
export function dropFerryCacheControl(headers: string[]): void {
  for (let i = headers.length - 2; i >= 0; i -= 2) if (isFerryCacheControl(headers[i] as string)) headers.splice(i, 2);
}

function isFerryCacheControl(name: string): boolean {
  return name.length === 19 && name.toLowerCase() === 'ferry-cache-control';
}

/** How a fill (the first miss of a key, gone to the app) ended, as the requests waiting on it learn. */
type FillOutcome = 'stored' | 'not-stored';

/** Requests collapsed onto a fill wait at most this long before they go to the app themselves. */
const COLLAPSE_WAIT_MS = 10_000;

export interface CacheFrontOptions {
  /** Add X-Ferry-Cache to every answer that passes through. */
  debugHeader: boolean;
  now?: () => number;
}

/** What the cache reads of a request. */
export interface CacheRequest {
  method: string;
  /** Lower-case names, as node:http joins them (the fields policy.ts reads). */
  headers: IncomingHttpHeaders;
  /** The request's origin as the door parsed it. */
  origin: RequestOrigin;
}

/** A ready answer from the cache: the writer adds only framing-free bits (Connection). */
export interface CacheHit {
  status: number;
  statusText: string | undefined;
  /** Flat [name, value, ...]: the stored fields, Content-Length (not on a 304 or 204), Age, X-Ferry-Cache. */
  readonly headers: string[];
  /** undefined for HEAD and 304. */
  body: Buffer | undefined;
  /**
   * A full hit (not a 304): the entry and the fields that differ per hit, so that a writer can
   * keep the entry's head ready and patch only these (`headers` is the same answer, made on use).
   */
  stored?: StoredAnswer;
}

/** A stored entry as one hit sends it: its age now, and the X-Ferry-Cache value (debug header on). */
export interface StoredAnswer {
  entry: CacheEntry;
  ageS: string;
  mark: StoredMark | undefined;
}

/** X-Ferry-Cache of an answer from a stored entry. */
export type StoredMark = 'hit' | 'revalidated' | 'stale (revalidating)' | 'stale (error)';

/** An entry's Age now, in whole seconds (never below 0, should the clock step back). */
function ageOf(entry: CacheEntry, nowMs: number): string {
  return String(Math.floor(Math.max(0, currentAgeMs(entry, nowMs)) / 1000));
}

/** A stored entry as a full answer (a body unless HEAD). */
function storedHit(entry: CacheEntry, ageS: string, mark: StoredMark | undefined, head: boolean): CacheHit {
  return new StoredHit({ entry, ageS, mark }, head ? undefined : entry.body);
}

/** A full hit; its flat field list is made only if a writer asks for it (the stage proxy writes `stored`). */
class StoredHit implements CacheHit {
  readonly statusText: string;
  readonly status: number;

  constructor(
    readonly stored: StoredAnswer,
    readonly body: Buffer | undefined,
  ) {
    this.status = stored.entry.status;
    this.statusText = stored.entry.statusText;
  }

  get headers(): string[] {
    const { entry, ageS, mark } = this.stored;
    const length = hitContentLength(entry);
    const headers = length === undefined ? entry.headers.concat('Age', ageS) : entry.headers.concat('Content-Length', length, 'Age', ageS);
    if (mark !== undefined) headers.push(CACHE_HEADER, mark);
    return headers;
  }
}

/** The client side of a lookup (the stage proxy's ProxyRequest). */
export interface CacheClient {
  /** The client went (or its answer was cut): nothing more is written for it. */
  readonly gone: boolean;
  /** Called once the client's answer is over, however it ended. */
  onClose(listener: () => void): void;
  answer(hit: CacheHit): void;
  /** Send `tx`'s request to the app on its own, for the cache (stale-while-revalidate). */
  refresh(tx: CacheTransaction): void;
  /**
   * The request said only-if-cached and the cache has no fresh answer for it: 504, and the app
   * never sees it (RFC 9111 §5.2.1.7). `lookedUp`: it was a miss, not a bypass; `cacheStatus`:
   * the X-Ferry-Cache value when the debug header is on.
   */
  notCached(lookedUp: boolean, cacheStatus: string | undefined): void;
}

export class CacheFront {
  private readonly now: () => number;
  private readonly sweeper: NodeJS.Timeout;
  /**
   * Keys whose first miss is at the app now, with the requests for the same key waiting on it:
   * when a popular entry expires, one request refills it and the others get the new entry,
   * instead of every one of them going to the app at once (a stampede). Only keys that had an
   * entry: misses of a URL never stored (most of an app's pages) go to the app side by side, as
   * they would without a cache.
   */
  private readonly fills = new Map<string, ((outcome: FillOutcome) => void)[]>();

  constructor(
    readonly cache: Turbocache,
    private readonly options: CacheFrontOptions,
  ) {
    this.now = options.now ?? Date.now;
    // Expired entries otherwise hold memory until LRU eviction reaches them.
    this.sweeper = setInterval(() => cache.sweep(this.now()), 30_000);
    this.sweeper.unref();
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  /**
   * Answers the request from the cache and returns undefined, or returns the transaction that
   * follows the app's answer to it; or, while another request for the same entry is at the app,
   * a promise of either once that one has its answer. The key comes from the request's origin
   * as the door parsed it (the Host and X-Forwarded-* the app gets), never from header text;
   * a hit goes to `client`.
   */
  begin(req: CacheRequest, client: CacheClient, collapse = true): CacheTransaction | undefined | Promise<CacheTransaction | undefined> {
    const { method, origin } = req;
    const verdict = requestVerdict(method, req.headers);
    const { scheme, target } = origin;
    const host = (origin.forwardedHost ?? origin.host)?.text ?? '';
    const url = urlKey(scheme, host, target);
    const otherHost = origin.forwardedHost !== undefined && origin.host !== undefined && origin.host.text !== host ? origin.host.text : undefined;
    const cookieName = this.cache.options.varyByCookie;
    const primary = variantKey(url, cookieName === undefined ? undefined : { value: readCookie(req.headers.cookie, cookieName) }, otherHost);
    // With the values of the fields its stored answers vary on, if they do (Vary).
    const key = this.cache.keyFor(primary, req.headers);
    const now = this.now();
    let fill: ((outcome: FillOutcome) => void) | undefined;
    let stale: CacheEntry | undefined;
    let kept: CacheEntry | undefined;
    if (verdict.lookup) {
      const entry = this.cache.lookup(key, now, verdict.maxAgeMs, verdict.minFreshMs);
      if (entry) {
        client.answer(this.hit(req, entry, now));
        return undefined;
      }
      kept = verdict.mayStore ? this.cache.stale(key, now) : undefined;
      // stale-while-revalidate: the stale page at once, one refresh behind it; not for a request
      // that asked for a younger one (its own max-age).
      if (kept !== undefined && verdict.maxAgeMs === undefined && stalenessMs(kept, now) > 0 && stalenessMs(kept, now) < staleServingMs(kept, 'while-revalidate')) {
        this.cache.countStale('while-revalidate');
        client.answer(this.hit(req, kept, now, 'stale (revalidating)'));
        if (!this.fills.has(key)) {
          const refill = this.startFill(key);
          client.refresh(new CacheTransaction(this.cache, verdict, { scheme, host, target, url, primary, key, headers: req.headers, authorization: req.headers.authorization !== undefined }, now, this.options.debugHeader, this.now, refill, hasValidator(kept) ? kept : undefined));
        }
        return undefined;
      }
    } else if (verdict.bypass) {
      this.cache.countBypass(verdict.bypass);
    }
    if (verdict.onlyIfCached) {
      // Nothing fresh for it here, and no waiting for a fill: only what is stored now counts.
      client.notCached(verdict.lookup, this.options.debugHeader ? (verdict.lookup ? 'miss (only-if-cached)' : `bypass (${verdict.bypass ?? 'method'})`) : undefined);
      return undefined;
    }
    if (verdict.lookup) {
      const waiting = this.fills.get(key);
      if (waiting && collapse) return this.waitForFill(waiting, req, client);
      // A client's own conditional request goes to the app as it is: its validators, not ours.
      if (kept !== undefined && hasValidator(kept) && !isConditional(req.headers)) stale = kept;
      // One refill (or revalidation) at a time; the others for the key wait for it. Not for an
      // entry revalidated on every use (no-cache): its refresh is stale at once, so the others
      // would wait only to send their own.
      const collapsible = stale !== undefined ? stale.lifetimeMs > 0 : this.cache.hadEntry(key);
      if (!waiting && verdict.mayStore && collapsible) fill = this.startFill(key);
    }
    const tx = new CacheTransaction(this.cache, verdict, { scheme, host, target, url, primary, key, headers: req.headers, authorization: req.headers.authorization !== undefined }, now, this.options.debugHeader, this.now, fill, stale, kept);
    // An answer cut short (app died, client left) ends the fill too: the waiters go to the app.
    if (fill) client.onClose(() => tx.settle('not-stored'));
    return tx;
  }

  private startFill(key: string): (outcome: FillOutcome) => void {
    const waiters: ((outcome: FillOutcome) => void)[] = [];
    this.fills.set(key, waiters);
    return (outcome) => {
      if (this.fills.get(key) !== waiters) return;
      this.fills.delete(key);
      if (outcome === 'not-stored') this.cache.forgetLapsed(key);
      for (const wake of waiters) wake(outcome);
    };
  }

  private waitForFill(waiters: ((outcome: FillOutcome) => void)[], req: CacheRequest, client: CacheClient): Promise<CacheTransaction | undefined> {
    this.cache.countCollapsed();
    return new Promise((resolve) => {
      let done = false;
      const wake = (outcome: FillOutcome): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        // Stored: answered from the cache now. Not stored (personal, uncacheable, failed): to the
        // app, each on its own, with no second round of waiting.
        resolve(client.gone ? undefined : this.begin(req, client, outcome === 'stored'));
      };
      const timer = setTimeout(() => wake('not-stored'), COLLAPSE_WAIT_MS);
      waiters.push(wake);
    });
  }

  private hit(req: CacheRequest, entry: CacheEntry, now: number, mark: StoredMark = 'hit'): CacheHit {
    const age = ageOf(entry, now);
    if (notModified(req.headers, entry, now)) {
      const headers: string[] = [];
      for (let i = 0; i < entry.headers.length; i += 2) {
        if (NOT_MODIFIED_HEADERS.has((entry.headers[i] as string).toLowerCase())) headers.push(entry.headers[i] as string, entry.headers[i + 1] as string);
      }
      headers.push('Age', age);
      if (this.options.debugHeader) headers.push(CACHE_HEADER, mark);
      return { status: 304, statusText: undefined, headers, body: undefined };
    }
    return storedHit(entry, age, this.options.debugHeader ? mark : undefined, req.method === 'HEAD');
  }
}

/** Request fields that make a request conditional (RFC 9110 §13.1). */
const CONDITIONAL_FIELDS = ['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range'] as const;

function isConditional(headers: IncomingHttpHeaders): boolean {
  for (const name of CONDITIONAL_FIELDS) if (headers[name] !== undefined) return true;
  return false;
}

/**
 * Fields a 304 does not update in the stored answer (RFC 9111 §3.2): the framing, and what never
 * is stored (NOT_STORED_HEADERS: Ferry-Cache-Control is for Ferry alone); with the hop-by-hop
 * ones already gone from the app's headers.
 */
const NOT_UPDATED_HEADERS = new Set([...NOT_STORED_HEADERS, 'transfer-encoding', 'content-range']);

/** The Ferry-Cache-Control fields of a field list. */
function ferryCacheControlOf(fields: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < fields.length; i += 2) if (isFerryCacheControl(fields[i] as string)) out.push(fields[i] as string, fields[i + 1] as string);
  return out;
}

/** The stored fields freshened by a 304's (RFC 9111 §4.3.4): the 304's replace those of the same names. */
export function freshenedHeaders(stored: readonly string[], notModified: readonly string[]): string[] {
  const replaced = new Set<string>();
  const fresh: string[] = [];
  for (let i = 0; i < notModified.length; i += 2) {
    const lower = (notModified[i] as string).toLowerCase();
    if (NOT_UPDATED_HEADERS.has(lower)) continue;
    replaced.add(lower);
    fresh.push(notModified[i] as string, notModified[i + 1] as string);
  }
  const out: string[] = [];
  for (let i = 0; i < stored.length; i += 2) {
    if (!replaced.has((stored[i] as string).toLowerCase())) out.push(stored[i] as string, stored[i + 1] as string);
  }
  return out.concat(fresh);
}

interface RequestKey {
  scheme: string;
  host: string;
  target: string;
  url: string;
  /** The key without what Vary adds (the URL, and the cookie or host variant). */
  primary: string;
  /** The key the request was looked up by. */
  key: string;
  /** The request's fields: the values an answer that varies is stored under. */
  headers: IncomingHttpHeaders;
  authorization: boolean;
}

/** One request that went to the app: decides on its answer as it arrives. */
export class CacheTransaction {
  private chunks: Buffer[] | undefined;
  private collected = 0;
  private pending: Omit<CacheEntry, 'body' | 'size'> | undefined;

  constructor(
    private readonly cache: Turbocache,
    private readonly verdict: RequestVerdict,
    private readonly request: RequestKey,
    private readonly requestTimeMs: number,
    private readonly debugHeader: boolean,
    private readonly now: () => number,
    /** This request fills the entry others wait on: tell them how it went. */
    private fill?: (outcome: FillOutcome) => void,
    /** The stale entry the app is asked to confirm (a conditional request with its validators). */
    private readonly revalidating?: CacheEntry,
    /** The stale entry kept for this key: what the client may get if the app fails (stale-if-error). */
    private fallback?: CacheEntry,
  ) {}

  /**
   * The app failed (a 5xx, no answer, no process): the stale entry, if it may still be served
   * for that (stale-if-error, --turbocache-serve-stale-on-error) and nothing removed it meanwhile.
   */
  staleOnError(head: boolean): CacheHit | undefined {
    const entry = this.fallback;
    this.fallback = undefined;
    if (entry === undefined || !this.cache.holds(entry)) return undefined;
    const now = this.now();
    if (stalenessMs(entry, now) >= staleServingMs(entry, 'if-error', this.cache.options.staleOnErrorMs)) return undefined;
    this.cache.countStale('if-error');
    this.settle('not-stored');
    this.instead = storedHit(entry, ageOf(entry, now), this.debugHeader ? 'stale (error)' : undefined, head);
    return this.instead;
  }

  /**
   * The stored answer the client gets instead of the app's: the app's 304 to Ferry's conditional
   * request confirmed it, or the app failed and it may be served stale (staleOnError). The
   * respond stage writes this, not the app's answer.
   */
  instead: CacheHit | undefined;

  /** The fields that make the request conditional on the stale entry's validators, for the app. */
  conditionalFields(): string[] | undefined {
    const entry = this.revalidating;
    if (entry === undefined) return undefined;
    const fields: string[] = [];
    if (entry.etag !== undefined) fields.push('If-None-Match', entry.etag);
    if (entry.lastModified !== undefined) fields.push('If-Modified-Since', entry.lastModified);
    return fields;
  }

  /** The cache was asked (a miss, as it reaches the app), rather than bypassed (method, no-cache, ...). */
  get lookedUp(): boolean {
    return this.verdict.lookup;
  }

  /** Wakes the requests waiting on this fill (once). */
  settle(outcome: FillOutcome): void {
    const fill = this.fill;
    this.fill = undefined;
    fill?.(outcome);
  }

  /**
   * The app's answer has begun (headers already without hop-by-hop fields). Returns the
   * X-Ferry-Cache value to add, or undefined when the debug header is off.
   */
  onHeaders(status: number, statusText: string, headers: readonly string[]): string | undefined {
    const { verdict } = this;
    if (verdict.invalidates) {
      let location: string | undefined;
      let contentLocation: string | undefined;
      for (let i = 0; i < headers.length; i += 2) {
        const name = (headers[i] as string).toLowerCase();
        if (name === 'location') location = headers[i + 1];
        else if (name === 'content-location') contentLocation = headers[i + 1];
      }
      for (const url of invalidatedUrls(status, this.request.scheme, this.request.host, this.request.target, location, contentLocation)) this.cache.invalidate(url);
    }
    if (this.revalidating !== undefined) {
      this.cache.countRevalidation(status === 304);
      if (status === 304) return this.confirmed(this.revalidating, headers);
    }
    const outcome = this.decide(status, statusText, headers);
    // Not storable: the waiting requests need not wait for the body; they go to the app.
    if (!this.chunks) this.settle('not-stored');
    if (!this.debugHeader) return undefined;
    if (!verdict.lookup) return `bypass (${verdict.bypass ?? 'method'})`;
    return outcome === undefined ? 'miss' : `miss (${outcome})`;
  }

  /**
   * The app answered 304 to Ferry's conditional request: the stored answer with the 304's fields
   * is what the client gets (`instead`), and what is stored from now on if it still may be;
   * else the entry goes, and only this client gets it.
   */
  private confirmed(entry: CacheEntry, notModified: readonly string[]): string | undefined {
    const headers = freshenedHeaders(entry.headers, notModified);
    const responseTimeMs = this.now();
    // Decided as the 304 says, with its Ferry-Cache-Control too (which is never stored itself).
    const facts = collectResponseFacts(headers.concat(ferryCacheControlOf(notModified)));
    const decision = storeVerdict({
      status: entry.status,
      facts,
      authorization: this.request.authorization,
      varyByCookie: this.cache.options.varyByCookie !== undefined,
      requestTimeMs: this.requestTimeMs,
      responseTimeMs,
    });
    let answered: CacheEntry = { ...entry, headers, etag: facts.etag, lastModified: facts.lastModified, stale: staleAllowanceOf(facts), wireHead: undefined, touchedMs: undefined };
    // A 304 that changes what the answer varies on: its variants were keyed otherwise; not kept.
    if (decision.store && decision.vary.join(',') !== (entry.varies?.fields ?? []).join(',')) {
      this.cache.countNotStored('vary');
      this.cache.drop(entry);
      this.settle('not-stored');
    } else if (decision.store) {
      answered = { ...answered, responseTimeMs, initialAgeMs: decision.initialAgeMs, lifetimeMs: decision.lifetimeMs, size: entrySize(entry.key, headers, entry.body) };
      this.cache.store(answered);
      this.settle('stored');
    } else {
      this.cache.countNotStored(decision.reason);
      this.cache.drop(entry);
      this.settle('not-stored');
    }
    this.instead = storedHit(answered, ageOf(answered, responseTimeMs), this.debugHeader ? 'revalidated' : undefined, false);
    return undefined;
  }

  /** Starts collecting the body when the answer may be stored; returns why not otherwise. */
  private decide(status: number, statusText: string, headers: readonly string[]): NotStoredReason | undefined {
    const { verdict } = this;
    if (!verdict.mayStore) {
      if (verdict.notStored) this.cache.countNotStored(verdict.notStored);
      return verdict.notStored;
    }
    const responseTimeMs = this.now();
    const facts = collectResponseFacts(headers);
    const decision = storeVerdict({
      status,
      facts,
      authorization: this.request.authorization,
      varyByCookie: this.cache.options.varyByCookie !== undefined,
      requestTimeMs: this.requestTimeMs,
      responseTimeMs,
    });
    if (!decision.store) {
      this.cache.countNotStored(decision.reason);
      return decision.reason;
    }
    if (facts.contentLength !== undefined && facts.contentLength > this.cache.options.maxEntryBytes) {
      this.cache.countNotStored('too-large');
      return 'too-large';
    }
    const stored: string[] = [];
    for (let i = 0; i < headers.length; i += 2) {
      if (!NOT_STORED_HEADERS.has((headers[i] as string).toLowerCase())) stored.push(headers[i] as string, headers[i + 1] as string);
    }
    // A cache that stores an answer without Date gives it one (RFC 9110 §6.6.1), so Age adds up.
    if (decision.dateMs === undefined && facts.date === undefined) stored.push('Date', new Date(responseTimeMs).toUTCString());
    const { primary } = this.request;
    // Under the request's values of the fields the answer varies on (this answer's Vary, which
    // may differ from what the lookup used).
    const key = decision.vary.length === 0 ? primary : primary + secondaryKey(decision.vary, this.request.headers);
    this.pending = {
      key,
      url: this.request.url,
      ...(decision.vary.length > 0 ? { varies: { primary, fields: decision.vary } } : {}),
      status,
      statusText,
      headers: stored,
      ...(facts.etag !== undefined ? { etag: facts.etag } : {}),
      ...(facts.lastModified !== undefined ? { lastModified: facts.lastModified } : {}),
      stale: staleAllowanceOf(facts),
      responseTimeMs,
      initialAgeMs: decision.initialAgeMs,
      lifetimeMs: decision.lifetimeMs,
    };
    this.chunks = [];
    return undefined;
  }

  onData(chunk: Buffer): void {
    if (!this.chunks) return;
    this.collected += chunk.length;
    if (this.collected > this.cache.options.maxEntryBytes) {
      this.chunks = undefined;
      this.pending = undefined;
      this.cache.countNotStored('too-large');
      this.settle('not-stored');
      return;
    }
    this.chunks.push(chunk);
  }

  /** The whole answer arrived: store it. (An answer cut short never reaches here.) */
  onComplete(): void {
    if (!this.chunks || !this.pending) return;
    // A copy of its own: the chunks are views into the socket's read buffers, which a small
    // entry would otherwise keep alive whole (and a pooled Buffer would share a slab).
    const body = Buffer.allocUnsafeSlow(this.collected);
    let offset = 0;
    for (const chunk of this.chunks) offset += chunk.copy(body, offset);
    this.chunks = undefined;
    const stored = this.cache.store({ ...this.pending, body, size: entrySize(this.pending.key, this.pending.headers, body) });
    this.pending = undefined;
    this.settle(stored ? 'stored' : 'not-stored');
  }
}
