import { describe, expect, it } from 'vitest';
import { entrySize, Turbocache, type CacheEntry } from '../../../../src/core/turbocache/turbocache.js';

const NOW = 1_800_000_000_000;

function entry(key: string, bodyBytes: number, overrides: Partial<CacheEntry> = {}): CacheEntry {
  const body = Buffer.alloc(bodyBytes, 'x');
  const headers = ['Content-Type', 'text/plain'];
  const url = overrides.url ?? key.split('\n')[0] as string;
  return { key, url, status: 200, statusText: 'OK', headers, body, responseTimeMs: NOW, initialAgeMs: 0, lifetimeMs: 60_000, size: entrySize(key, headers, body), ...overrides };
}

const cache = (maxBytes = 1_000_000, maxEntryBytes = 100_000): Turbocache => new Turbocache({ maxBytes, maxEntryBytes });

describe('Turbocache', () => {
  it('returns a stored entry while it is fresh and counts hits and misses', () => {
    const c = cache();
    expect(c.lookup('http://a/', NOW)).toBeUndefined();
    c.store(entry('http://a/', 10));
    expect(c.lookup('http://a/', NOW + 1000)?.body.length).toBe(10);
    expect(c.inspect()).toMatchObject({ lookups: 2, hits: 1, misses: 1, stores: 1, entries: 1 });
  });

  it('drops an entry once it is stale, and keeps it for others when only the request wanted it younger', () => {
    const c = cache();
    c.store(entry('http://a/', 10, { initialAgeMs: 5000 }));
    expect(c.lookup('http://a/', NOW + 1000, 2000)).toBeUndefined();
    expect(c.inspect().entries).toBe(1);
    expect(c.lookup('http://a/', NOW + 55_000)).toBeUndefined();
    expect(c.inspect()).toMatchObject({ entries: 0, bytes: 0 });
  });

  it('is bounded by bytes and evicts the least recently used first', () => {
    const one = entry('http://a/1', 400).size;
    const c = cache(one * 3 + 10, one * 2);
    c.store(entry('http://a/1', 400));
    c.store(entry('http://a/2', 400));
    c.store(entry('http://a/3', 400));
    c.lookup('http://a/1', NOW); // 1 is now the most recently used; 2 goes first
    c.store(entry('http://a/4', 400));
    expect(c.lookup('http://a/2', NOW)).toBeUndefined();
    expect(c.lookup('http://a/1', NOW)).toBeDefined();
    expect(c.lookup('http://a/4', NOW)).toBeDefined();
    const stats = c.inspect();
    expect(stats.evictions).toBe(1);
    expect(stats.bytes).toBeLessThanOrEqual(stats.maxBytes);
    expect(stats.bytes).toBe(3 * one);
  });

  it('moves a hit entry to the recent end at most once a second (the LRU order is that coarse)', () => {
    const one = entry('http://a/1', 400).size;
    const c = cache(one * 2 + 10, one * 2);
    c.store(entry('http://a/1', 400));
    c.store(entry('http://a/2', 400));
    c.lookup('http://a/1', NOW); // moved: 2 is the least recently used
    c.lookup('http://a/2', NOW + 100); // moved: 1 is
    c.lookup('http://a/1', NOW + 500); // within a second of its last move: stays where it is
    c.store(entry('http://a/3', 400));
    expect(c.lookup('http://a/1', NOW + 600)).toBeUndefined();
    expect(c.lookup('http://a/2', NOW + 600)).toBeDefined();
    c.lookup('http://a/2', NOW + 1200); // a second after its last move: it moves again
    c.lookup('http://a/3', NOW + 1300);
    c.store(entry('http://a/4', 400));
    expect(c.lookup('http://a/2', NOW + 1400)).toBeUndefined();
    expect(c.lookup('http://a/3', NOW + 1400)).toBeDefined();
  });

  it('remembers keys whose entry lapsed (expired, swept, invalidated, evicted), not keys never stored', () => {
    const one = entry('http://a/1', 400).size;
    const c = cache(one * 2 + 10, one * 2);
    expect(c.hadEntry('http://a/never')).toBe(false);
    c.store(entry('http://a/1', 400, { lifetimeMs: 1000 }));
    expect(c.hadEntry('http://a/1')).toBe(false); // fresh: a hit, nothing to collapse
    expect(c.lookup('http://a/1', NOW + 2000)).toBeUndefined();
    expect(c.hadEntry('http://a/1')).toBe(true);
    c.store(entry('http://a/2', 400, { lifetimeMs: 1000 }));
    c.sweep(NOW + 2000);
    expect(c.hadEntry('http://a/2')).toBe(true);
    c.store(entry('http://a/3', 400));
    c.invalidate('http://a/3');
    expect(c.hadEntry('http://a/3')).toBe(true);
    c.store(entry('http://a/4', 400));
    c.store(entry('http://a/5', 400));
    c.store(entry('http://a/6', 400)); // 4 is evicted
    expect(c.hadEntry('http://a/4')).toBe(true);
    c.forgetLapsed('http://a/4');
    expect(c.hadEntry('http://a/4')).toBe(false);
  });

  it('refuses an entry larger than the entry limit', () => {
    const c = cache(1_000_000, 1000);
    expect(c.store(entry('http://a/big', 2000))).toBe(false);
    expect(c.inspect()).toMatchObject({ entries: 0, bytes: 0, notStored: { 'too-large': 1 } });
  });

  it('replaces the entry of a key and keeps the byte count right', () => {
    const c = cache();
    c.store(entry('http://a/', 100));
    c.store(entry('http://a/', 300));
    expect(c.inspect().entries).toBe(1);
    expect(c.inspect().bytes).toBe(entry('http://a/', 300).size);
  });

  it('invalidates every cookie variant of a URL, and nothing else', () => {
    const c = cache();
    c.store(entry('http://a/\n-', 10, { url: 'http://a/' }));
    c.store(entry('http://a/\n=1', 10, { url: 'http://a/' }));
    c.store(entry('http://a/\n=2', 10, { url: 'http://a/' }));
    c.store(entry('http://a/other\n=1', 10, { url: 'http://a/other' }));
    expect(c.invalidate('http://a/')).toBe(3);
    expect(c.lookup('http://a/\n=1', NOW)).toBeUndefined();
    expect(c.lookup('http://a/other\n=1', NOW)).toBeDefined();
    expect(c.inspect()).toMatchObject({ entries: 1, invalidations: 3 });
  });

  it('sweeps expired entries, and purges everything', () => {
    const c = cache();
    c.store(entry('http://a/short', 10, { lifetimeMs: 1000 }));
    c.store(entry('http://a/long', 10));
    expect(c.sweep(NOW + 2000)).toBe(1);
    expect(c.inspect().entries).toBe(1);
    expect(c.purge()).toBe(1);
    expect(c.inspect()).toMatchObject({ entries: 0, bytes: 0 });
  });
});
