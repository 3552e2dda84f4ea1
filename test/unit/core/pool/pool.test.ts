import { afterEach, describe, expect, it, vi } from 'vitest';
import { Logger } from '../../../../src/core/log.js';
import { Pool } from '../../../../src/core/pool/pool.js';
import { parseAuthority } from '../../../../src/core/proxy/authority.js';
import { FakeSpawner } from '../../../../src/core/spawn/fake-spawner.js';
import { DEFAULT_LIMITS, type FerryConfig } from '../../../../src/lib/config.js';
import { TEST_APP, TEST_BUFFERING, TEST_CLIENT_LIMITS, TEST_TURBOCACHE } from '../../../helpers/app-config.js';

const lines: string[] = [];
const spawner = new FakeSpawner();

function pool(maxPoolSize: number): Pool {
  const config: FerryConfig = {
    listen: { kind: 'tcp', address: '127.0.0.1', port: 0 },
    maxPoolSize,
    logLevel: 'debug',
    shutdownTimeoutMs: 1000,
    apps: [
      { ...TEST_APP, name: 'shop', hosts: ['shop.test'], limits: { ...DEFAULT_LIMITS, busySessions: 1 } },
      { ...TEST_APP, name: 'blog', hosts: [], limits: { ...DEFAULT_LIMITS, busySessions: 1 } },
    ],
    turbocache: TEST_TURBOCACHE,
    clientLimits: TEST_CLIENT_LIMITS,
    buffering: TEST_BUFFERING,
    websocketIdleTimeoutMs: 60_000,
  };
  return new Pool(config, spawner, new Logger({ level: 'debug', format: 'json', sink: { write: (l) => lines.push(l) } }));
}

const ready = (p: Pool, name: string): number => p.groups.find((g) => g.name === name)!.workers.filter((w) => w.state === 'ready').length;

afterEach(async () => {
  spawner.exitAll();
});

describe('Pool', () => {
  it('routes by the parsed host name to the app that lists it, else to the default app', () => {
    const p = pool(4);
    expect(p.groupFor(parseAuthority('SHOP.test:3000', 'http')?.name)?.name).toBe('shop');
    expect(p.groupFor('other.test')?.name).toBe('blog');
    expect(p.groupFor(undefined)?.name).toBe('blog');
    // A Host taken as text went to the default app with shop's path in it; the door refuses it now.
    expect(parseAuthority('shop.test/a', 'http')).toBeUndefined();
  });

  it("stops another app's longest-idle spare process when the pool is full and an app needs one", async () => {
    // Given a pool of 3: blog grew to two processes under load, then went idle,
    const p = pool(3);
    await p.start();
    const blog = p.groups[1]!;
    const busy = blog.checkout();
    await vi.waitFor(() => expect(ready(p, 'blog')).toBe(2));
    if (!(busy instanceof Promise)) busy.close();
    expect(p.processCount).toBe(3);

    // when shop gets busy and wants a second process,
    const shop = p.groups[0]!;
    const session = shop.checkout();

    // then blog gives up its idle spare (never below its minimum), and shop grows.
    await vi.waitFor(() => expect(ready(p, 'shop')).toBe(2));
    expect(ready(p, 'blog')).toBe(1);
    expect(lines.some((l) => l.includes('to make room for another app'))).toBe(true);
    if (!(session instanceof Promise)) session.close();
    const stopped = p.stop(Date.now());
    spawner.exitAll();
    await stopped;
  });
});
