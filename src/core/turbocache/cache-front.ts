// Where the turbocache meets the proxy: answers a request from the cache, or follows the app's
// answer to it (store it, invalidate what it changed) and says what happened in X-Ferry-Cache.

import type http from 'node:http';
import { readCookie } from '../proxy/headers.js';
import { collectResponseFacts, currentAgeMs, etagMatches, invalidatedUrls, requestVerdict, storeVerdict, urlKey, variantKey, type NotStoredReason, type RequestVerdict } from './policy.js';
import { entrySize, Turbocache, type CacheEntry } from './turbocache.js';

export const CACHE_HEADER = 'X-Ferry-Cache';

/** Headers kept from the stored response on a 304 (RFC 9110 §15.4.5). */
const NOT_MODIFIED_HEADERS = new Set(['cache-control', 'content-location', 'date', 'etag', 'expires', 'vary', 'last-modified']);

/** Per-request fields that must not be replayed to other clients from a stored answer. */
const NOT_STORED_HEADERS = new Set(['age', 'content-length', 'x-request-id']);

export interface CacheFrontOptions {
  /** Add X-Ferry-Cache to every answer that passes through. */
  debugHeader: boolean;
  /** Requests come through a trusted front server whose X-Forwarded-Proto tells the scheme. */
  trustForwarded: boolean;
  now?: () => number;
}

export class CacheFront {
  private readonly now: () => number;
  private readonly sweeper: NodeJS.Timeout;

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
   * follows the app's answer to it.
   */
  begin(req: http.IncomingMessage, res: http.ServerResponse): CacheTransaction | undefined {
    const method = req.method ?? 'GET';
    const verdict = requestVerdict(method, req.headers);
    const forwardedProto = req.headers['x-forwarded-proto'];
    const scheme = this.options.trustForwarded && typeof forwardedProto === 'string' && forwardedProto.trim().toLowerCase() === 'https' ? 'https' : 'http';
    const host = req.headers.host ?? '';
    const target = req.url ?? '/';
    const url = urlKey(scheme, host, target);
    const cookieName = this.cache.options.varyByCookie;
    const key = variantKey(url, cookieName === undefined ? undefined : { value: readCookie(req.headers.cookie, cookieName) });
    const now = this.now();
    if (verdict.lookup) {
      const entry = this.cache.lookup(key, now, verdict.maxAgeMs);
      if (entry) {
        this.serve(req, res, entry, now);
        return undefined;
      }
    } else if (verdict.bypass) {
      this.cache.countBypass(verdict.bypass);
    }
    return new CacheTransaction(this.cache, verdict, { scheme, host, target, url, key, authorization: req.headers.authorization !== undefined }, now, this.options.debugHeader, this.now);
  }

  private serve(req: http.IncomingMessage, res: http.ServerResponse, entry: CacheEntry, now: number): void {
    const age = String(Math.floor(currentAgeMs(entry, now) / 1000));
    const ifNoneMatch = req.headers['if-none-match'];
    if (ifNoneMatch !== undefined && entry.etag !== undefined && etagMatches(ifNoneMatch, entry.etag)) {
      const headers: string[] = [];
      for (let i = 0; i < entry.headers.length; i += 2) {
        if (NOT_MODIFIED_HEADERS.has((entry.headers[i] as string).toLowerCase())) headers.push(entry.headers[i] as string, entry.headers[i + 1] as string);
      }
      headers.push('Age', age);
      if (this.options.debugHeader) headers.push(CACHE_HEADER, 'hit');
      res.writeHead(304, headers);
      res.end();
      return;
    }
    const headers = entry.headers.concat('Content-Length', String(entry.body.length), 'Age', age);
    if (this.options.debugHeader) headers.push(CACHE_HEADER, 'hit');
    res.writeHead(entry.status, entry.statusText, headers);
    // HEAD: Node sends the headers (with the body's length) and no body.
    res.end(req.method === 'HEAD' ? undefined : entry.body);
  }
}

interface RequestKey {
  scheme: string;
  host: string;
  target: string;
  url: string;
  key: string;
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
  ) {}

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
    const outcome = this.decide(status, statusText, headers);
    if (!this.debugHeader) return undefined;
    if (!verdict.lookup) return `bypass (${verdict.bypass ?? 'method'})`;
    return outcome === undefined ? 'miss' : `miss (${outcome})`;
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
    this.pending = {
      key: this.request.key,
      url: this.request.url,
      status,
      statusText,
      headers: stored,
      ...(facts.etag !== undefined ? { etag: facts.etag } : {}),
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
    this.cache.store({ ...this.pending, body, size: entrySize(this.pending.key, this.pending.headers, body) });
    this.pending = undefined;
  }
}
