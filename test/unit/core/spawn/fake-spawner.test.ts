import { describe, expect, it } from 'vitest';
import { FAKE_PID_BASE, FakeSpawner } from '../../../../src/core/spawn/fake-spawner.js';
import { SpawnError } from '../../../../src/core/spawn/spawn-error.js';
import { TEST_APP } from '../../../helpers/app-config.js';
import { signalQuietly } from '../../../../src/lib/units.js';

const APP = TEST_APP;

describe('FakeSpawner', () => {
  it('hands out processes with distinct pids that no real process can have', async () => {
    const spawner = new FakeSpawner();
    const [a, b] = await Promise.all([spawner.spawn(APP), spawner.spawn(APP)]);
    expect(a.pid).toBe(FAKE_PID_BASE);
    expect(b.pid).toBe(FAKE_PID_BASE + 1);
    expect(a.child.pid).toBe(a.pid);
    expect(signalQuietly(a.pid, 'SIGTERM')).toBe(false);
    expect(signalQuietly(-a.pid, 'SIGKILL')).toBe(false);
    expect(spawner).toMatchObject({ spawnCalls: 2, spawnedCount: 2, inFlight: 0, maxConcurrentSpawns: 2 });
  });

  it('fails the next spawns with the chosen category, then succeeds', async () => {
    const spawner = new FakeSpawner();
    spawner.failNext(1, 'exited-before-ready');
    spawner.failNext(1, 'timeout');
    const first = spawner.spawn(APP);
    await expect(first).rejects.toBeInstanceOf(SpawnError);
    await expect(first).rejects.toMatchObject({ code: 'FERRY_ERR_SPAWN_EXITED', failure: { category: 'exited-before-ready', app: 'hello' } });
    await expect(spawner.spawn(APP)).rejects.toMatchObject({ code: 'FERRY_ERR_SPAWN_TIMEOUT' });
    await expect(spawner.spawn(APP)).resolves.toMatchObject({ pid: expect.any(Number) });
    expect(spawner).toMatchObject({ spawnCalls: 3, failedCount: 2, spawnedCount: 1 });
  });

  it('holds spawns while hanging and finishes them on release', async () => {
    const spawner = new FakeSpawner();
    spawner.hang();
    let done = false;
    const spawning = spawner.spawn(APP).then((p) => {
      done = true;
      return p;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(done).toBe(false);
    expect(spawner).toMatchObject({ heldCount: 1, inFlight: 1 });
    spawner.release();
    await spawning;
    expect(spawner).toMatchObject({ heldCount: 0, inFlight: 0, spawnedCount: 1 });
  });

  it('makes a process exit like a child: codes set, one exit event', async () => {
    const spawner = new FakeSpawner();
    const { pid, child } = await spawner.spawn(APP);
    const exits: unknown[] = [];
    // on, not once: the fake must emit 'exit' once even when told twice.
    (child as unknown as NodeJS.EventEmitter).on('exit', (code: number | null, signal: NodeJS.Signals | null) => exits.push([code, signal, child.exitCode, child.signalCode]));
    spawner.exit(pid, null, 'SIGTERM');
    spawner.exit(pid, 1);
    expect(exits).toEqual([[null, 'SIGTERM', null, 'SIGTERM']]);
    expect(spawner.livePids).toEqual([]);
    expect(() => spawner.exit(12345)).toThrow('no fake process with pid 12345');
  });
});
