import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AppGroup, spawnBackoffMs, type CapacityGate } from '../../../../src/core/pool/app-group.js';
import { Session } from '../../../../src/core/pool/session.js';
import { Logger } from '../../../../src/core/log.js';
import { FakeSpawner } from '../../../../src/core/spawn/fake-spawner.js';
import type { AppConfig } from '../../../../src/lib/config.js';
import { TEST_APP } from '../../../helpers/app-config.js';

const APP = TEST_APP;

let lines: string[];
let spawner: FakeSpawner;
let capacity: CapacityGate & { open: boolean };
let groups: AppGroup[];

function newGroup(overrides: Partial<AppConfig> = {}): AppGroup {
  const log = new Logger({ level: 'debug', format: 'json', sink: { write: (line) => lines.push(line) } });
  const group = new AppGroup({ ...APP, ...overrides }, capacity, spawner, log.child({ component: 'pool' }));
  groups.push(group);
  return group;
}

function logged(msg: string): Record<string, unknown>[] {
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.msg === msg);
}

/** Checks out a session that must be available at once. */
function checkoutNow(group: AppGroup): Session {
  const result = group.checkout();
  expect(result).toBeInstanceOf(Session);
  return result as Session;
}

beforeEach(() => {
  lines = [];
  spawner = new FakeSpawner();
  capacity = { open: true, hasCapacity: () => capacity.open };
  groups = [];
});

afterEach(async () => {
  // Stop every group so no respawn timer outlives its test; fake processes obey at once.
  spawner.release();
  for (const group of groups) {
    const stopped = group.stop(0);
    spawner.exitAll();
    await stopped;
  }
  vi.useRealTimers();
});

describe('spawnBackoffMs', () => {
  it('waits nothing before any failure', () => {
    expect(spawnBackoffMs(0)).toBe(0);
    expect(spawnBackoffMs(-3)).toBe(0);
  });

  it('doubles from half a second with each consecutive failure', () => {
    expect([1, 2, 3, 4, 5, 6].map(spawnBackoffMs)).toEqual([500, 1000, 2000, 4000, 8000, 16_000]);
  });

  it('never waits more than thirty seconds', () => {
    expect(spawnBackoffMs(7)).toBe(30_000);
    expect(spawnBackoffMs(1000)).toBe(30_000);
  });
});

describe('AppGroup', () => {
  it('spawns the minimum number of processes at start, all at once', async () => {
    const group = newGroup({ minInstances: 3 });
    await group.start();
    expect(spawner.spawnedCount).toBe(3);
    expect(spawner.maxConcurrentSpawns).toBe(3);
    expect(group.workers.map((w) => w.state)).toEqual(['ready', 'ready', 'ready']);
    expect(group.workers.map((w) => w.pid).sort()).toEqual(spawner.livePids.sort());
    expect(group.processCount).toBe(3);
  });

  it('rejects start with the spawn error when a process cannot be started', async () => {
    spawner.failNext(1, 'timeout');
    const group = newGroup();
    await expect(group.start()).rejects.toMatchObject({ name: 'SpawnError', code: 'FERRY_ERR_SPAWN_TIMEOUT' });
    expect(group.inspect().lastSpawnError?.code).toBe('FERRY_ERR_SPAWN_TIMEOUT');
    expect(logged('could not spawn app process')).toMatchObject([{ level: 50, component: 'pool', failures: 1, retryInMs: 500, category: 'timeout' }]);
  });

  it('hands out a session at once when a process is ready, on the least busy process', async () => {
    const group = newGroup({ minInstances: 2 });
    await group.start();
    const [first, second] = group.workers;

    const a = checkoutNow(group);
    const b = checkoutNow(group);
    expect(new Set([a.worker, b.worker])).toEqual(new Set([first, second]));

    // Both carry one request; closing a's makes its process the least busy again.
    a.close();
    const c = checkoutNow(group);
    expect(c.worker).toBe(a.worker);
    expect(c.worker.sessions).toBe(1);
    expect(b.worker.sessions).toBe(1);
    expect(spawner.spawnCalls).toBe(2);
  });

  it('makes a request wait for the spawn when no process is ready', async () => {
    vi.useFakeTimers();
    spawner.delayMs = 1_000;
    const group = newGroup();

    const pending = group.checkout();
    const pendingToo = group.checkout();
    expect(pending).toBeInstanceOf(Promise);
    expect(spawner.spawnCalls).toBe(1);
    expect(group.inspect()).toMatchObject({ spawning: 1, waiting: 2 });

    await vi.advanceTimersByTimeAsync(999);
    expect(group.workers).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);

    const [session, sessionToo] = await Promise.all([pending, pendingToo]);
    expect(session.worker).toBe(group.workers[0]);
    expect(sessionToo.worker).toBe(group.workers[0]);
    expect(session.worker.sessions).toBe(2);
    expect(spawner.spawnCalls).toBe(1);
  });

  it('rejects waiting requests when the spawn fails, then fails fast until the backoff has passed', async () => {
    vi.useFakeTimers();
    spawner.failNext(1, 'exited-before-ready');
    const group = newGroup();

    // A request arrives, the spawn it triggers fails: the request gets the reason.
    const waiting = group.checkout();
    await expect(waiting).rejects.toMatchObject({
      code: 'FERRY_ERR_POOL_UNAVAILABLE',
      httpStatus: 503,
      message: "app 'hello' cannot start: app 'hello' exited with code 1 before it listened: Error: fake boot failure",
      details: { retryAfterMs: 500 },
    });

    // During the backoff, requests fail at once and nothing is spawned.
    await vi.advanceTimersByTimeAsync(200);
    expect(() => group.checkout()).toThrow(expect.objectContaining({ code: 'FERRY_ERR_POOL_UNAVAILABLE', details: expect.objectContaining({ retryAfterMs: 300 }) }));
    expect(spawner.spawnCalls).toBe(1);

    // Once the backoff is over the group spawns again by itself, and requests are served.
    await vi.advanceTimersByTimeAsync(300);
    expect(spawner.spawnCalls).toBe(2);
    expect(checkoutNow(group).worker.pid).toBe(group.workers[0]?.pid);
    // Recovered: the old error is no longer reported.
    expect(group.inspect().lastSpawnError).toBeUndefined();
  });

  it('waits longer after each consecutive spawn failure', async () => {
    vi.useFakeTimers();
    spawner.failNext(3, 'timeout');
    const group = newGroup();
    await expect(group.start()).rejects.toMatchObject({ code: 'FERRY_ERR_SPAWN_TIMEOUT' });

    await vi.advanceTimersByTimeAsync(500);
    expect(spawner.spawnCalls).toBe(2);
    await vi.advanceTimersByTimeAsync(999);
    expect(spawner.spawnCalls).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(spawner.spawnCalls).toBe(3);
    await vi.advanceTimersByTimeAsync(2000);
    expect(spawner.spawnCalls).toBe(4);
    expect(spawner.spawnedCount).toBe(1);
    expect(logged('could not spawn app process').map((r) => r.retryInMs)).toEqual([500, 1000, 2000]);
  });

  it('does not spawn when the pool has no room left', async () => {
    capacity.open = false;
    const group = newGroup();
    const pending = group.checkout();
    expect(pending).toBeInstanceOf(Promise);
    expect(spawner.spawnCalls).toBe(0);
    expect(group.inspect().waiting).toBe(1);
    void group.stop(0);
    await expect(pending).rejects.toMatchObject({ code: 'FERRY_ERR_SHUTTING_DOWN' });
  });

  it('replaces a process that exits unexpectedly, after a backoff when it died young', async () => {
    vi.useFakeTimers();
    const group = newGroup({ minInstances: 2 });
    await group.start();
    const [dying, surviving] = group.workers;

    spawner.exit(dying?.pid as number, 1);
    expect(group.workers).toEqual([surviving]);
    expect(dying?.state).toBe('dead');
    expect(logged('app process exited unexpectedly')).toMatchObject([{ level: 40, appPid: dying?.pid, code: 1, signal: null }]);

    await vi.advanceTimersByTimeAsync(499);
    expect(spawner.spawnCalls).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(spawner.spawnCalls).toBe(3);
    expect(group.workers).toHaveLength(2);
    expect(group.workers.map((w) => w.pid)).not.toContain(dying?.pid);
  });

  it('replaces a process that ran stably at once', async () => {
    vi.useFakeTimers();
    const group = newGroup();
    await group.start();
    const [old] = group.workers;

    vi.setSystemTime(Date.now() + 60_000);
    spawner.exit(old?.pid as number, null, 'SIGKILL');
    await vi.advanceTimersByTimeAsync(0);

    expect(spawner.spawnCalls).toBe(2);
    expect(group.workers).toHaveLength(1);
    expect(group.workers[0]?.pid).not.toBe(old?.pid);
    expect(logged('app process exited unexpectedly')).toMatchObject([{ signal: 'SIGKILL', code: null }]);
  });

  it('stops every process on stop and spawns no replacement', async () => {
    const group = newGroup({ minInstances: 2 });
    await group.start();

    const stopped = group.stop(0);
    expect(group.workers.map((w) => w.state)).toEqual(['stopping', 'stopping']);
    spawner.exitAll(null, 'SIGTERM');
    await stopped;

    expect(group.workers).toEqual([]);
    expect(logged('app process stopped')).toHaveLength(2);
    expect(logged('app process exited unexpectedly')).toEqual([]);
    expect(spawner.spawnCalls).toBe(2);
  });

  it('lets a process finish its request before stopping it, within the deadline', async () => {
    vi.useFakeTimers();
    const group = newGroup();
    await group.start();
    const [worker] = group.workers;
    const session = checkoutNow(group);

    // Stop begins while a request is in flight: the process drains first.
    const stopped = group.stop(Date.now() + 10_000);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(worker?.state).toBe('draining');

    // The request ends: the process is asked to exit on the next poll.
    session.close();
    await vi.advanceTimersByTimeAsync(20);
    expect(worker?.state).toBe('stopping');
    spawner.exitAll();
    await stopped;
    expect(group.workers).toEqual([]);
  });

  it('rejects waiting requests with FERRY_ERR_SHUTTING_DOWN on stop, and refuses new ones', async () => {
    spawner.hang();
    const group = newGroup();
    const waiting = expect(group.checkout()).rejects.toMatchObject({ code: 'FERRY_ERR_SHUTTING_DOWN', httpStatus: 503 });
    await vi.waitFor(() => expect(spawner.heldCount).toBe(1));

    await group.stop(0);
    await waiting;
    expect(() => group.checkout()).toThrow(expect.objectContaining({ code: 'FERRY_ERR_SHUTTING_DOWN' }));

    // The spawn that was under way finishes after stop: its process is stopped, not used.
    spawner.release();
    await vi.waitFor(() => expect(group.workers[0]?.state).toBe('stopping'));
    spawner.exitAll();
    await vi.waitFor(() => expect(group.workers).toEqual([]));
    expect(spawner.spawnCalls).toBe(1);
  });
});
