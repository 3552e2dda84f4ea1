import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AppGroup, spawnBackoffMs, type CapacityGate } from '../../../../src/core/pool/app-group.js';
import { Session } from '../../../../src/core/pool/session.js';
import { Logger } from '../../../../src/core/log.js';
import { FakeSpawner } from '../../../../src/core/spawn/fake-spawner.js';
import { DEFAULT_LIMITS, type AppConfig, type PoolLimits } from '../../../../src/lib/config.js';
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

  it('adopts the processes an earlier core left instead of spawning new ones', async () => {
    spawner.leaveBehind(2);
    const group = newGroup({ minInstances: 2 });
    await group.start();
    expect(spawner.spawnCalls).toBe(0);
    expect(group.workers.map((w) => [w.pid, w.adopted])).toEqual(spawner.livePids.map((pid) => [pid, true]));
  });

  it('spawns nothing for a request that comes while it takes the processes over, and serves it on one of them', async () => {
    // A core restarted after a crash listens first: requests from the backlog come in at once.
    spawner.leaveBehind(2);
    const group = newGroup({ minInstances: 2 });
    const started = group.start();
    const waiting = group.checkout();
    await started;
    const session = await waiting;
    expect(spawner.spawnCalls).toBe(0);
    expect(spawner.livePids).toContain(session.worker.pid);
    expect(group.processCount).toBe(2);
    session.close();
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

  it('starts the backoff over once a spawn has succeeded', async () => {
    // Found with FERRY_FAULTS: failed spawns used to add up for the life of the group, so an app
    // that recovered each time still waited up to 30 s after a later, single failure.
    vi.useFakeTimers();
    spawner.failNext(2, 'exited-before-ready');
    const group = newGroup();
    await expect(group.start()).rejects.toMatchObject({ code: 'FERRY_ERR_SPAWN_EXITED' });
    await vi.advanceTimersByTimeAsync(500); // the second spawn fails too
    await vi.advanceTimersByTimeAsync(1000); // the third succeeds
    expect(group.workers).toHaveLength(1);

    // The process is taken out of rotation; its replacement fails once: the first failure again.
    spawner.failNext(1, 'exited-before-ready');
    group.detach(group.workers[0]?.pid as number);
    spawner.exitAll();
    await vi.advanceTimersByTimeAsync(0);
    expect(logged('could not spawn app process').map((r) => r.retryInMs)).toEqual([500, 1000, 500]);
  });

  it('ends the backoff when a spawn succeeds, so a process needed meanwhile starts at once', async () => {
    // Found with FERRY_FAULTS: of two spawns, one failed (a 500 ms backoff, and up to 30 s after
    // more failures) and one succeeded; when that process went, requests queued for the rest of
    // the backoff although the app had just shown it starts.
    vi.useFakeTimers();
    spawner.failNext(1, 'exited-before-ready');
    const group = newGroup({ minInstances: 2 });
    await expect(group.start()).rejects.toMatchObject({ code: 'FERRY_ERR_SPAWN_EXITED' });
    await vi.advanceTimersByTimeAsync(0);

    expect(spawner.spawnCalls).toBe(3); // the failed one was replaced at once, not after 500 ms
    expect(group.workers).toHaveLength(2);
    expect(group.state).toBe('running');
  });

  it('counts spawns that fail together as one failure of the app', async () => {
    // Four processes of an app that cannot start fail in one round: the backoff doubles once per
    // round (0.5 s, then 1 s), not once per process (which made it 4 s after the first round).
    vi.useFakeTimers();
    spawner.failNext(8, 'exited-before-ready');
    const group = newGroup({ minInstances: 4 });
    await expect(group.start()).rejects.toMatchObject({ code: 'FERRY_ERR_SPAWN_EXITED' });
    expect(logged('could not spawn app process').map((r) => r.retryInMs)).toEqual([500, 500, 500, 500]);

    await vi.advanceTimersByTimeAsync(500);
    expect(spawner.spawnCalls).toBe(8);
    expect(logged('could not spawn app process').map((r) => r.retryInMs)).toEqual([500, 500, 500, 500, 1000, 1000, 1000, 1000]);
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

  describe('lifecycle', () => {
    it('spawns, reaps and restarts nothing while frozen for a handover, and manages again once thawed', async () => {
      const group = newGroup({ minInstances: 2 });
      await group.start();
      group.freeze();
      spawner.exit(group.workers[0]?.pid as number, 1);
      expect(group.workers).toHaveLength(1);
      expect(() => group.restart(false)).toThrow(expect.objectContaining({ code: 'FERRY_ERR_SHUTTING_DOWN' }));
      expect(spawner.spawnCalls).toBe(2);

      // The handover failed: the group tops itself up again (after the backoff of a young death).
      vi.useFakeTimers();
      group.thaw();
      await vi.advanceTimersByTimeAsync(1_000);
      expect(group.workers.filter((w) => w.state === 'ready')).toHaveLength(2);
      expect(spawner.spawnCalls).toBe(3);
    });

    it('keeps counting a process that does out-of-band work, so max-pool-size holds', async () => {
      const group = newGroup({ minInstances: 2 });
      capacity.hasCapacity = () => group.processCount < 2;
      await group.start();
      const session = checkoutNow(group);
      // The app asks for out-of-band work while the request is still in flight: it waits for it.
      group.requestOobWork(session.worker);
      expect(session.worker.state).toBe('oob-work');
      expect(group.processCount).toBe(2);
      expect(spawner.spawnCalls).toBe(2);
      // Requests go to the other process meanwhile.
      expect(checkoutNow(group).worker).not.toBe(session.worker);
      expect(group.canServe()).toBe(true);
    });

    it("gives a leaving process the app's stop timeout to finish its requests, then stops it anyway", async () => {
      vi.useFakeTimers();
      const group = newGroup({ minInstances: 1, stopTimeoutMs: 1_000 });
      await group.start();
      const [worker] = group.workers;
      checkoutNow(group); // a request that never ends
      group.detach(worker?.pid as number);
      await vi.advanceTimersByTimeAsync(980);
      expect(worker?.state).toBe('draining');
      await vi.advanceTimersByTimeAsync(40);
      expect(worker?.state).toBe('stopping');
    });

    it("stops an app's processes by its own stop timeout when it is shorter than the instance's", async () => {
      vi.useFakeTimers();
      const group = newGroup({ minInstances: 1, stopTimeoutMs: 500 });
      await group.start();
      const [worker] = group.workers;
      checkoutNow(group);
      const stopped = group.stop(Date.now() + 30_000);
      await vi.advanceTimersByTimeAsync(480);
      expect(worker?.state).toBe('draining');
      await vi.advanceTimersByTimeAsync(40);
      expect(worker?.state).toBe('stopping');
      spawner.exitAll();
      await stopped;
    });

    it('kills a stuck process whatever it was doing, once, and a killed process never drains', async () => {
      const group = newGroup({ minInstances: 1 });
      await group.start();
      const [worker] = group.workers;
      const session = checkoutNow(group);
      expect(group.detach(worker?.pid as number)).toBe(true);
      expect(worker?.state).toBe('draining');
      await group.replaceStuck(worker!, 'req-1');
      expect(worker?.state).toBe('stopping');
      // A second report of the same stuck process does nothing more.
      await group.replaceStuck(worker!, 'req-2');
      expect(logged('request exceeded max-request-time; killing its app process')).toHaveLength(1);
      session.close();
      spawner.exit(worker?.pid as number, null, 'SIGKILL');
      expect(worker?.state).toBe('dead');
      expect(logged('app process exited unexpectedly')).toEqual([]);
    });
  });

  describe('limits and scaling', () => {
    const limits = (overrides: Partial<PoolLimits>): { limits: PoolLimits } => ({ limits: { ...DEFAULT_LIMITS, ...overrides } });

    it('queues beyond a process\'s concurrency and serves the queue as sessions close', async () => {
      capacity.open = false; // no scale-out: this is about queueing
      const group = newGroup(limits({ concurrency: 1 }));
      capacity.open = true;
      await group.start();
      capacity.open = false;
      const first = checkoutNow(group);
      const waiting = group.checkout();
      expect(waiting).toBeInstanceOf(Promise);
      expect(group.waiting).toBe(1);
      first.close();
      expect((await waiting).worker).toBe(first.worker);
    });

    it('refuses a request with FERRY_ERR_POOL_QUEUE_FULL once the queue holds max-request-queue-size', async () => {
      const group = newGroup(limits({ concurrency: 1, maxRequestQueueSize: 2 }));
      await group.start();
      capacity.open = false;
      checkoutNow(group);
      const queued = [group.checkout(), group.checkout()];
      expect(() => group.checkout()).toThrow(expect.objectContaining({ code: 'FERRY_ERR_POOL_QUEUE_FULL', httpStatus: 503 }));
      expect(group.waiting).toBe(2);
      void Promise.allSettled(queued);
    });

    it('sheds a request that waited longer than max-request-queue-time', async () => {
      vi.useFakeTimers();
      const group = newGroup(limits({ concurrency: 1, maxRequestQueueTimeMs: 500 }));
      const started = group.start();
      await vi.advanceTimersByTimeAsync(1);
      await started;
      capacity.open = false;
      checkoutNow(group);
      const waiting = expect(group.checkout()).rejects.toMatchObject({ code: 'FERRY_ERR_POOL_QUEUE_TIMEOUT' });
      await vi.advanceTimersByTimeAsync(499);
      expect(group.waiting).toBe(1);
      await vi.advanceTimersByTimeAsync(1);
      await waiting;
      expect(group.waiting).toBe(0);
    });

    it('spawns another Node process when every process has busy-sessions requests, one at a time', async () => {
      const group = newGroup(limits({ busySessions: 3 }));
      await group.start();
      expect(spawner.spawnCalls).toBe(1);
      checkoutNow(group);
      checkoutNow(group);
      expect(spawner.spawnCalls).toBe(1);
      checkoutNow(group); // the third makes the only process busy
      expect(spawner.spawnCalls).toBe(2);
      checkoutNow(group); // still spawning: no second spawn at once
      expect(spawner.spawnCalls).toBe(2);
      await vi.waitFor(() => expect(group.workers).toHaveLength(2));
      // New requests go to the new, least busy process.
      expect(checkoutNow(group).worker).toBe(group.workers[1]);
    });

    it('stops processes idle for pool-idle-time, longest idle first, but never below the minimum', async () => {
      vi.useFakeTimers();
      const group = newGroup({ minInstances: 1, ...limits({ busySessions: 1, poolIdleTimeMs: 10_000 }) });
      const started = group.start();
      await vi.advanceTimersByTimeAsync(1);
      await started;
      // Load grows the group to three processes.
      const sessions = [checkoutNow(group)];
      await vi.advanceTimersByTimeAsync(1);
      sessions.push(checkoutNow(group));
      await vi.advanceTimersByTimeAsync(1);
      sessions.push(checkoutNow(group));
      await vi.advanceTimersByTimeAsync(1);
      const grown = group.workers.filter((w) => w.state === 'ready').length;
      expect(grown).toBeGreaterThanOrEqual(3);
      for (const session of sessions) session.close();

      await vi.advanceTimersByTimeAsync(9_000);
      expect(group.workers.filter((w) => w.state === 'ready')).toHaveLength(grown);
      await vi.advanceTimersByTimeAsync(2_000);
      const left = group.workers.filter((w) => w.state === 'ready');
      expect(left).toHaveLength(1);
      // The one kept is the one used last.
      expect(left[0]?.pid).toBe(sessions[2]?.worker.pid);
      expect(logged('stopping idle app process')).toHaveLength(grown - 1);
      spawner.exitAll();
    });

    it('replaces a process once it has handled max-requests requests', async () => {
      const group = newGroup(limits({ maxRequests: 2 }));
      await group.start();
      const original = group.workers[0]!;
      checkoutNow(group).close();
      expect(original.state).toBe('ready');
      checkoutNow(group).close();
      expect(original.state).not.toBe('ready');
      expect(logged('replacing app process after max-requests')).toHaveLength(1);
      await vi.waitFor(() => expect(group.workers.some((w) => w !== original && w.state === 'ready')).toBe(true));
      expect(spawner.spawnCalls).toBe(2);
    });

    it('gives each process its own max-requests, with --max-requests-jitter, and shows it', async () => {
      const random = vi.spyOn(Math, 'random').mockReturnValueOnce(0.99).mockReturnValueOnce(0);
      const group = newGroup(limits({ maxRequests: 1, maxRequestsJitter: 2, concurrency: 1, busySessions: 1 }));
      await group.start();
      const first = group.workers[0]!;
      // The first holds a session, so the next request makes a second process.
      const held = checkoutNow(group);
      const waiting = group.checkout();
      await vi.waitFor(() => expect(group.workers.filter((w) => w.state === 'ready')).toHaveLength(2));
      random.mockRestore();
      const second = group.workers.find((w) => w !== first)!;
      expect(group.inspect().processes.map((p) => [p.pid, p.maxRequests])).toEqual([
        [first.pid, 3],
        [second.pid, 1],
      ]);
      (await waiting).close();
      expect(second.state).not.toBe('ready');
      held.close();
      expect(first.state).toBe('ready');
      checkoutNow(group).close();
      checkoutNow(group).close();
      expect(first.state).not.toBe('ready');
      expect(logged('replacing app process after max-requests').map((r) => r.maxRequests)).toEqual([1, 3]);
    });
  });

  describe('restarts', () => {
    it('reads the env files again, so processes it starts get the changed variables, and says so once', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-group-env-'));
      try {
        const file = path.join(dir, '.env');
        fs.writeFileSync(file, 'A=old\n', { mode: 0o600 });
        const seen: Record<string, string>[] = [];
        const address = spawner.addressFor;
        spawner.addressFor = (app, pid) => {
          seen.push({ ...app.envvars });
          return address(app, pid);
        };
        let changes = 0;
        const log = new Logger({ level: 'debug', format: 'json', sink: { write: (line) => lines.push(line) } });
        const group = new AppGroup({ ...APP, envvars: { A: 'old' }, envLayers: { files: [file], environment: {}, app: {}, cli: {} } }, capacity, spawner, log.child({ component: 'pool' }), [], undefined, () => changes++);
        groups.push(group);
        await group.start();
        fs.writeFileSync(file, 'A=new\n');
        group.restart(false);
        await vi.waitFor(() => expect(group.workers.some((w) => w.state === 'ready' && w.generation === 1)).toBe(true));
        expect(seen).toEqual([{ A: 'old' }, { A: 'new' }]);
        expect(changes).toBe(1);
        expect(logged('env files read again; new processes get the changed variables')).toEqual([expect.objectContaining({ changed: ['A'] })]);

        // A file that cannot be read refuses the restart: no new generation, the process serves on.
        fs.writeFileSync(file, 'A=$broken\n');
        const before = group.inspect().restart;
        expect(() => group.restart(false)).toThrow(expect.objectContaining({ code: 'FERRY_ERR_CONFIG_INVALID' }));
        expect(group.inspect().restart).toEqual(before);
        expect(seen).toHaveLength(2);
        expect(changes).toBe(1);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('does not let a process that was still starting when a restart began serve, and the restart finishes', async () => {
      spawner.hang();
      const group = newGroup();
      const started = group.start();
      await vi.waitFor(() => expect(spawner.heldCount).toBe(1));
      group.restart(false);
      spawner.release();
      await started;
      // The stale process is stopped; one of the new generation serves and the restart is over.
      await vi.waitFor(() => expect(group.workers.some((w) => w.state === 'ready' && w.generation === 1)).toBe(true));
      expect(group.workers.filter((w) => w.generation === 0).every((w) => w.state !== 'ready')).toBe(true);
      for (const stale of group.workers.filter((w) => w.generation === 0)) spawner.exit(stale.pid);
      await vi.waitFor(() => expect(group.inspect().restart).toBeUndefined());
      expect(checkoutNow(group).worker.generation).toBe(1);
    });

    // Issue 19, item 7: a blocking restart whose new process failed stayed "restarting" forever,
    // with the reason only in lastSpawnError, and restart-app --wait waited for its timeout.
    it('marks a blocking restart failed when its new process cannot start, and finished once a retry starts one', async () => {
      vi.useFakeTimers();
      const group = newGroup();
      await group.start();
      const oldPid = (group.workers[0] as { pid: number }).pid;
      spawner.failNext(1, 'exited-before-ready');
      group.restart(false);
      spawner.exit(oldPid);
      await vi.advanceTimersByTimeAsync(10);
      const failed = group.inspect();
      expect(failed.restart?.failed).toBe("app 'hello' exited with code 1 before it listened: Error: fake boot failure");
      expect(failed.state).not.toBe('restarting');
      // The backoff's retry starts one: the app serves again, and the restart is over.
      await vi.advanceTimersByTimeAsync(spawnBackoffMs(1) + 10);
      expect(group.workers.filter((w) => w.state === 'ready')).toHaveLength(1);
      expect(group.inspect().restart).toBeUndefined();
    });

    it('tops a group with no processes up to its minimum on a rolling restart', async () => {
      vi.useFakeTimers();
      spawner.failNext(1, 'exited-before-ready');
      const group = newGroup();
      await expect(group.start()).rejects.toMatchObject({ code: 'FERRY_ERR_SPAWN_EXITED' });
      expect(group.workers).toHaveLength(0);
      group.restart(true);
      await vi.advanceTimersByTimeAsync(10);
      expect(group.workers.filter((w) => w.state === 'ready')).toHaveLength(1);
      expect(group.inspect().restart).toBeUndefined();
    });
  });
});

describe('AppGroup watch mode (--watch)', () => {
  let root: string;

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-watch-group-'));
    fs.mkdirSync(path.join(root, 'node_modules'));
    fs.writeFileSync(path.join(root, 'app.js'), '1');
  });

  afterEach(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  /** Exits every process of an older generation as soon as it is asked to stop (the fake ones do not by themselves). */
  function obeyStops(group: AppGroup): NodeJS.Timeout {
    return setInterval(() => {
      for (const w of group.workers) if (w.state === 'stopping') spawner.exit(w.pid);
    }, 10);
  }

  it('restarts the app, rolling, once per burst of changes, logging which files changed', async () => {
    const group = newGroup({ root, watch: true });
    await group.start();
    await vi.waitFor(() => expect(logged("watching the app's files for changes")).toHaveLength(1));
    const stops = obeyStops(group);
    try {
      fs.writeFileSync(path.join(root, 'app.js'), '2');
      fs.writeFileSync(path.join(root, 'lib.js'), '1');
      fs.writeFileSync(path.join(root, 'node_modules', 'dep.js'), '1');
      await vi.waitFor(() => expect(group.inspect().generation).toBe(1), { timeout: 3000 });
      const [reason] = logged('restarting app hello: files changed (app.js, +1 more)');
      expect(reason).toMatchObject({ rolling: true, files: ['app.js', 'lib.js'] });
      expect(logged('rolling restart')).toHaveLength(1);
      await vi.waitFor(() => expect(group.inspect().restart).toBeUndefined());
      expect(group.workers.map((w) => w.generation)).toEqual([1]);
      // Quiet from then on: no second restart.
      await new Promise((r) => setTimeout(r, 500));
      expect(group.inspect().generation).toBe(1);
    } finally {
      clearInterval(stops);
    }
  });

  it('makes one more restart, after the one under way, for changes during it', async () => {
    const group = newGroup({ root, watch: true });
    await group.start();
    await vi.waitFor(() => expect(logged("watching the app's files for changes")).toHaveLength(1));
    spawner.hang(); // the new process takes its time to start
    fs.writeFileSync(path.join(root, 'app.js'), '2');
    await vi.waitFor(() => expect(spawner.heldCount).toBe(1), { timeout: 3000 });
    for (const name of ['a.js', 'b.js', 'c.js']) {
      fs.writeFileSync(path.join(root, name), '1');
      await new Promise((r) => setTimeout(r, 400));
    }
    expect(group.inspect().generation).toBe(1);
    const stops = obeyStops(group);
    try {
      spawner.release();
      await vi.waitFor(() => expect(group.inspect().generation).toBe(2), { timeout: 3000 });
      expect(logged('restarting app hello: files changed (a.js, +2 more)')).toHaveLength(1);
      await vi.waitFor(() => expect(group.inspect().restart).toBeUndefined());
      await new Promise((r) => setTimeout(r, 500));
      expect(group.inspect().generation).toBe(2);
    } finally {
      clearInterval(stops);
    }
  });

  it('keeps the old process serving when the new version cannot start, and tries again on the next change', async () => {
    const group = newGroup({ root, watch: true });
    await group.start();
    await vi.waitFor(() => expect(logged("watching the app's files for changes")).toHaveLength(1));
    const [old] = group.workers;
    spawner.failNext(1, 'exited-before-ready');
    fs.writeFileSync(path.join(root, 'app.js'), 'syntax error(');
    await vi.waitFor(() => expect(group.inspect().restart?.failed).toBeDefined(), { timeout: 3000 });
    expect(group.workers.filter((w) => w.state === 'ready')).toEqual([old]);
    const stops = obeyStops(group);
    try {
      fs.writeFileSync(path.join(root, 'app.js'), 'fixed');
      await vi.waitFor(() => expect(group.inspect().generation).toBe(2), { timeout: 3000 });
      await vi.waitFor(() => expect(group.inspect().restart).toBeUndefined());
      expect(group.workers.map((w) => w.generation)).toEqual([2]);
    } finally {
      clearInterval(stops);
    }
  });

  it('watches nothing without --watch, and nothing once stopped', async () => {
    const unwatched = newGroup({ root });
    await unwatched.start();
    const watched = newGroup({ root, watch: true, name: 'watched' });
    await watched.start();
    await vi.waitFor(() => expect(logged("watching the app's files for changes")).toHaveLength(1));
    const stopped = watched.stop(0);
    spawner.exitAll();
    await stopped;
    fs.writeFileSync(path.join(root, 'app.js'), '2');
    await new Promise((r) => setTimeout(r, 600));
    expect(logged('rolling restart')).toEqual([]);
    expect(unwatched.inspect().generation).toBe(0);
  });
});
