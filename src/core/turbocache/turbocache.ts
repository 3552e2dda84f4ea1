// Turbocache: the core's HTTP response cache. One per core (not per thread, as in Passenger), so
// one fill serves everyone; bounded by bytes with least-recently-used eviction; entries live as
// long as their freshness says, not 2 s. What may be stored is decided in policy.ts.

import type { TurbocacheStats } from '../../lib/admin-api-contract.js';
import type { IncomingHttpHeaders } from 'node:http';
import type { BypassReason, NotStoredReason, StaleAllowance } from './policy.js';
import { MAX_VARIANTS, secondaryKey } from './vary.js';
import { currentAgeMs, isFresh } from './policy.js';

export interface TurbocacheOptions {
  /** Total bytes of all entries (bodies, headers, keys). */
  maxBytes: number;
  /** One entry larger than this is not stored. */
  maxEntryBytes: number;
  /** Cookie whose value splits entries (--vary-turbocache-by-cookie). */
  varyByCookie?: string;
  /**
   * --turbocache-serve-stale-on-error S: when the app fails, an entry stale for less than this is
   * served (as stale-if-error, for every entry that does not forbid it). 0 = off.
   */
  staleOnErrorMs?: number;
}

export interface CacheEntry {
  key: string;
  url: string;
  status: number;
  statusText: string;
  /** The app's headers, ready for writeHead: without hop-by-hop, Age, Content-Length, X-Request-Id. */
  headers: string[];
  body: Buffer;
  /** Its validators (RFC 9110 §8.8): for the client's conditional requests (a 304 from the entry), and to revalidate it once stale rather than refetch it. */
  etag?: string;
  lastModified?: string;
  /** What it allows once stale (policy.ts staleAllowance); absent: nothing. */
  stale?: StaleAllowance;
  /**
   * An answer with Vary: the key without its secondary part (`primary`), and the request fields
   * (sorted) whose values make that part (vary.ts).
   */
  varies?: { primary: string; fields: string[] };
  /** When the response arrived, and the age and freshness it had then (ms). */
  responseTimeMs: number;
  initialAgeMs: number;
  lifetimeMs: number;
  size: number;
  /**
   * The stage proxy's wire form of the status line, the stored fields and Content-Length, made on
   * the first hit (proxy/stages/answers.ts): later hits copy it and add only Age and Connection.
   * Entries are never changed once stored; one that were (a revalidation) must drop it.
   */
  wireHead?: Buffer;
  /** When a hit last moved it to the recent end of the LRU order. */
  touchedMs?: number;
}

/**
 * A stale entry with a validator is kept this long past its freshness, for the app to confirm
 * with a 304 (RFC 9111 §4.3); without one it goes as soon as it is stale. LRU eviction still
 * bounds the bytes.
 */
export const STALE_KEEP_MS = 10 * 60_000;

/** An entry the app can be asked about with a conditional request. */
export function hasValidator(entry: { etag?: string; lastModified?: string }): boolean {
  return entry.etag !== undefined || entry.lastModified !== undefined;
}

/** How long past its freshness a stale entry is served, when it is: 0 if never. */
export function staleServingMs(entry: CacheEntry, why: 'while-revalidate' | 'if-error', operatorOnErrorMs = 0): number {
  const allowance = entry.stale;
  if (allowance?.neverStale === true) return 0;
  if (why === 'while-revalidate') return allowance?.whileRevalidateMs ?? 0;
  return Math.max(allowance?.ifErrorMs ?? 0, operatorOnErrorMs);
}

/** How long an entry is stale at `nowMs` (0 or less: fresh). */
export function stalenessMs(entry: CacheEntry, nowMs: number): number {
  return currentAgeMs(entry, nowMs) - entry.lifetimeMs;
}

/**
 * The Content-Length a full hit of the entry carries, or none: a 204 has no content, and a
 * server must not send Content-Length with it (RFC 9110 §8.6).
 */
export function hitContentLength(entry: { status: number; body: Buffer }): string | undefined {
  return entry.status === 204 ? undefined : String(entry.body.length);
}

/** An entry hit again within this long keeps its place in the LRU order. */
const TOUCH_INTERVAL_MS = 1000;

/** Keys of expired or invalidated entries remembered (for request collapsing), at most. */
const MAX_REMEMBERED_KEYS = 10_000;

/** Bookkeeping per entry besides body and headers (Map slots, object, strings' overhead). */
const ENTRY_OVERHEAD_BYTES = 256;

export function entrySize(key: string, headers: readonly string[], body: Buffer): number {
  let size = ENTRY_OVERHEAD_BYTES + key.length * 2 + body.length;
  for (const h of headers) size += h.length;
  return size;
}

export class Turbocache {
  // A Map iterates in insertion order: re-inserting on a hit keeps the least recently used first.
  private readonly entries = new Map<string, CacheEntry>();
  /** The entries of each URL (its cookie variants), so one change invalidates them all. */
  private readonly variants = new Map<string, Set<string>>();
  /**
   * For a key whose answers vary (Vary), the fields they vary on and the keys of its variants,
   * oldest first: a request's key is the primary one plus its values of those fields.
   */
  private readonly varying = new Map<string, { fields: string[]; keys: Set<string> }>();
  private bytes = 0;
  private readonly counters = { lookups: 0, hits: 0, misses: 0, stores: 0, invalidations: 0, evictions: 0, collapsed: 0, revalidations: 0, revalidated: 0, staleWhileRevalidate: 0, staleOnError: 0 };
  private readonly bypassed: Partial<Record<BypassReason, number>> = {};
  private readonly notStoredCounts: Partial<Record<NotStoredReason, number>> = {};
  /**
   * Keys that had an entry until it expired or was invalidated: the app's answer for them was
   * storable, so concurrent misses of one of them are worth collapsing onto one fill. Oldest first.
   */
  private readonly lapsed = new Set<string>();

  constructor(readonly options: TurbocacheOptions) {}

  /**
   * Kept although stale: to be revalidated (it has a validator: STALE_KEEP_MS), or to be served
   * stale while it is refreshed or when the app fails (as long as it allows).
   */
  private keptStale(entry: CacheEntry, nowMs: number): boolean {
    const keepMs = Math.max(hasValidator(entry) ? STALE_KEEP_MS : 0, staleServingMs(entry, 'while-revalidate'), staleServingMs(entry, 'if-error', this.options.staleOnErrorMs));
    return stalenessMs(entry, nowMs) < keepMs;
  }

  /** A fresh entry for the key, or undefined (a stale one is dropped, unless kept: see stale()). */
  lookup(key: string, nowMs: number, requestMaxAgeMs?: number, requestMinFreshMs?: number): CacheEntry | undefined {
    this.counters.lookups++;
    const entry = this.entries.get(key);
    if (entry === undefined) {
      this.counters.misses++;
      return undefined;
    }
    if (!isFresh(entry, nowMs, requestMaxAgeMs, requestMinFreshMs)) {
      // Too old for this request only (its own max-age or min-fresh), or stale but kept to be
      // revalidated or served stale (stale()): kept for what follows.
      if (isFresh(entry, nowMs) || this.keptStale(entry, nowMs)) {
        this.counters.misses++;
        return undefined;
      }
      this.remove(entry);
      this.rememberLapsed(key);
      this.counters.misses++;
      return undefined;
    }
    // Least recently used first: moved to the end at most once a second, not on every hit (a
    // delete and a set of a long key cost more than the rest of a hit's lookup).
    if (nowMs - (entry.touchedMs ?? 0) >= TOUCH_INTERVAL_MS) {
      entry.touchedMs = nowMs;
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    this.counters.hits++;
    return entry;
  }

  /**
   * The entry kept for a key that lookup() missed (stale, or too old for that request): to be
   * revalidated if it has a validator, or served stale where it allows; undefined otherwise.
   */
  stale(key: string, nowMs: number): CacheEntry | undefined {
    const entry = this.entries.get(key);
    return entry !== undefined && this.keptStale(entry, nowMs) ? entry : undefined;
  }

  /** A conditional request went to the app for a stale entry; `confirmed`: it answered 304. */
  countRevalidation(confirmed: boolean): void {
    this.counters.revalidations++;
    if (confirmed) this.counters.revalidated++;
  }

  /** Whether this very entry is still the one stored for its key (not replaced, invalidated or evicted). */
  holds(entry: CacheEntry): boolean {
    return this.entries.get(entry.key) === entry;
  }

  /** A stale entry was served: while it is refreshed, or because the app failed. */
  countStale(why: 'while-revalidate' | 'if-error'): void {
    if (why === 'while-revalidate') this.counters.staleWhileRevalidate++;
    else this.counters.staleOnError++;
  }

  /** Drops one entry (a revalidation found it no longer storable, another variant replaced it). */
  drop(entry: CacheEntry | undefined): void {
    if (entry === undefined || !this.holds(entry)) return;
    this.remove(entry);
    this.rememberLapsed(entry.key);
  }

  /** A request's full key: `primary`, plus the values of the fields its stored answers vary on (if any). */
  keyFor(primary: string, headers: IncomingHttpHeaders): string {
    const varying = this.varying.get(primary);
    return varying === undefined ? primary : primary + secondaryKey(varying.fields, headers);
  }

  /** Stores an entry (replacing the key's old one); false when it is larger than one entry may be. */
  store(entry: CacheEntry): boolean {
    if (entry.size > this.options.maxEntryBytes || entry.size > this.options.maxBytes) {
      this.countNotStored('too-large');
      return false;
    }
    const old = this.entries.get(entry.key);
    if (old) this.remove(old);
    this.noteVariant(entry);
    this.entries.set(entry.key, entry);
    let keys = this.variants.get(entry.url);
    if (!keys) this.variants.set(entry.url, (keys = new Set()));
    keys.add(entry.key);
    this.bytes += entry.size;
    this.counters.stores++;
    for (const lru of this.entries.values()) {
      if (this.bytes <= this.options.maxBytes) break;
      this.remove(lru);
      this.rememberLapsed(lru.key);
      this.counters.evictions++;
    }
    return true;
  }

  /** Drops every variant of a URL; returns how many entries went. */
  invalidate(url: string): number {
    const keys = this.variants.get(url);
    if (!keys) return 0;
    let dropped = 0;
    for (const key of [...keys]) {
      const entry = this.entries.get(key);
      if (entry) {
        this.remove(entry);
        this.rememberLapsed(key);
        dropped++;
      }
    }
    this.counters.invalidations += dropped;
    return dropped;
  }

  /** Drops entries past their freshness, so they do not hold memory until evicted. */
  sweep(nowMs: number): number {
    let dropped = 0;
    for (const entry of [...this.entries.values()]) {
      if (!isFresh(entry, nowMs) && !this.keptStale(entry, nowMs)) {
        this.remove(entry);
        this.rememberLapsed(entry.key);
        dropped++;
      }
    }
    return dropped;
  }

  purge(): number {
    const count = this.entries.size;
    this.entries.clear();
    this.variants.clear();
    this.varying.clear();
    this.bytes = 0;
    return count;
  }

  /** Whether the key had a (storable) entry that lapsed: its misses are worth collapsing. */
  hadEntry(key: string): boolean {
    return this.lapsed.has(key);
  }

  /** The app's answer for a lapsed key was not stored this time: stop collapsing its misses. */
  forgetLapsed(key: string): void {
    this.lapsed.delete(key);
  }

  private rememberLapsed(key: string): void {
    this.lapsed.delete(key);
    this.lapsed.add(key);
    if (this.lapsed.size > MAX_REMEMBERED_KEYS) this.lapsed.delete(this.lapsed.values().next().value as string);
  }

  countBypass(reason: BypassReason): void {
    this.bypassed[reason] = (this.bypassed[reason] ?? 0) + 1;
  }

  /** A miss that waited for another request's fill of the same entry instead of going to the app. */
  countCollapsed(): void {
    this.counters.collapsed++;
  }

  countNotStored(reason: NotStoredReason): void {
    this.notStoredCounts[reason] = (this.notStoredCounts[reason] ?? 0) + 1;
  }

  inspect(): TurbocacheStats {
    return {
      state: 'enabled',
      varyByCookie: this.options.varyByCookie ?? null,
      ...this.counters,
      entries: this.entries.size,
      variants: [...this.varying.values()].reduce((n, v) => n + v.keys.size, 0),
      bytes: this.bytes,
      maxBytes: this.options.maxBytes,
      maxEntryBytes: this.options.maxEntryBytes,
      bypassed: { ...this.bypassed },
      notStored: { ...this.notStoredCounts },
    };
  }

  /**
   * Keeps the primary key's Vary fields as this answer says: answers that varied otherwise (or
   * not at all) are dropped, as they were keyed by other fields; and at most MAX_VARIANTS of them.
   */
  private noteVariant(entry: CacheEntry): void {
    const primary = entry.varies?.primary ?? entry.key;
    const current = this.varying.get(primary);
    const fields = entry.varies?.fields;
    if (current !== undefined && (fields === undefined || fields.join(',') !== current.fields.join(','))) {
      for (const key of [...current.keys]) this.drop(this.entries.get(key));
      this.varying.delete(primary);
    }
    if (fields === undefined) return;
    // The plain entry of a URL that now varies was stored without the fields: not for every request.
    if (current === undefined) this.drop(this.entries.get(primary));
    let varying = this.varying.get(primary);
    if (varying === undefined) this.varying.set(primary, (varying = { fields, keys: new Set() }));
    varying.keys.delete(entry.key);
    varying.keys.add(entry.key);
    for (const key of varying.keys) {
      if (varying.keys.size <= MAX_VARIANTS) break;
      this.drop(this.entries.get(key));
      varying.keys.delete(key);
    }
  }

  private remove(entry: CacheEntry): void {
    if (this.entries.get(entry.key) !== entry) return;
    this.entries.delete(entry.key);
    this.bytes -= entry.size;
    if (entry.varies !== undefined) {
      const varying = this.varying.get(entry.varies.primary);
      varying?.keys.delete(entry.key);
      if (varying?.keys.size === 0) this.varying.delete(entry.varies.primary);
    }
    const keys = this.variants.get(entry.url);
    keys?.delete(entry.key);
    if (keys?.size === 0) this.variants.delete(entry.url);
  }
}
