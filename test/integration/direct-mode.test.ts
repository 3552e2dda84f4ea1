// Direct mode (--direct): Node app processes accept from the public listening socket themselves,
// cluster-style, while the core only spawns and supervises them; so a stopped or crashed core
// costs no request at all.

import { afterEach, describe, expect, it } from 'vitest';
import { Pool } from 'undici';
import { readWorkerRecords } from '../../src/lib/instance-registry.js';
import { isProcessRunning } from '../../src/lib/process-groups.js';
import { fixture, freePort, liveInstances, processesMentioning, runFerry, startDaemon, tempDir, waitFor, type TestInstance } from '../helpers/ferry.js';

let instance: TestInstance | undefined;

afterEach(() => {
  instance?.forceCleanup();
  instance = undefined;
});

function appPids(inst: TestInstance): number[] {
  return readWorkerRecords(inst.info.dir)
    .map((r) => r.pid)
    .sort((a, b) => a - b);
}

describe('direct mode', () => {
  it('serves from every app process without the core: a stopped core, a killed core and ferry restart fail no request', async () => {
    instance = await startDaemon(fixture('pid-app'), ['--direct', '--min-instances', '2', '--max-pool-size', '2', '-e', 'production']);
    const pids = appPids(instance);
    expect(pids).toHaveLength(2);
    // 20 kept-alive connections, as a load balancer's pool holds: opened in one burst, which the
    // kernel may hand all to one process.
    const pool = new Pool(instance.url, { connections: 20 });
    const seen = new Set<number>();
    /** Each process's latest count of open client connections, as it reported it. */
    const held = new Map<number, number>();
    const failures: string[] = [];
    let stop = false;
    const load = Promise.all(
      Array.from({ length: 20 }, async () => {
        while (!stop) {
          try {
            const res = await pool.request({ path: '/pid-connections', method: 'GET' });
            const [pid, connections] = (await res.body.text()).split(' ').map(Number) as [number, number];
            seen.add(pid);
            held.set(pid, connections);
            if (res.statusCode !== 200) failures.push(String(res.statusCode));
          } catch (err) {
            failures.push((err as Error).message);
          }
        }
      }),
    );
    try {
      await waitFor(() => seen.size === 2, 'both processes to answer');
      // Balanced: each process holds close to its share (10) of the 20 connections.
      const balanced = (): boolean => held.size === 2 && [...held.values()].every((n) => n >= 7 && n <= 13);
      await waitFor(balanced, `the connections to spread over both processes (held: ${JSON.stringify([...held])})`, 10_000);
      await new Promise((r) => setTimeout(r, 500));
      expect(balanced(), `still balanced half a second later (held: ${JSON.stringify([...held])})`).toBe(true);
      // No core in the request path: requests go on while it cannot run at all.
      const core = instance.refresh().properties.core_pid as number;
      process.kill(core, 'SIGSTOP');
      seen.clear();
      await waitFor(() => seen.size === 2, 'answers with the core stopped', 5_000);
      process.kill(core, 'SIGCONT');
      // A crashed core: the next one adopts the processes; the clients notice nothing.
      process.kill(core, 'SIGKILL');
      await waitFor(() => isProcessRunning(instance!.refresh().properties.core_pid as number) && instance!.info.properties.core_pid !== core, 'a new core');
      const restart = await runFerry(instance.registryDir, ['restart', '--instance', instance.info.name]);
      expect(restart.exitCode, restart.stderr).toBe(0);
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      stop = true;
      await load;
      await pool.destroy();
    }
    expect(failures).toEqual([]);
    expect(appPids(instance)).toEqual(pids);

    // Restarting the app replaces the processes; the new ones serve.
    const restartApp = await runFerry(instance.registryDir, ['restart-app', '--wait', '--instance', instance.info.name]);
    expect(restartApp.exitCode, restartApp.stderr).toBe(0);
    const after = appPids(instance);
    expect(after.some((pid) => pids.includes(pid))).toBe(false);
    instance.remember(after);

    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });

  it('refuses --direct where the core must see the requests, starting nothing', async () => {
    const registryDir = tempDir('ferry-reg-');
    const port = String(await freePort());
    for (const [args, says] of [
      [['--app-type', 'generic', '--app-start-command', 'sleep 100'], /--direct works with Node apps only \(this app is generic\)/],
      [['--sticky-sessions'], /--direct and --sticky-sessions do not go together/],
      [['--max-request-time', '5'], /--direct and --max-request-time do not go together/],
      [['--watch'], /--direct and --watch do not go together/],
    ] as const) {
      const run = await runFerry(registryDir, ['start', fixture('pid-app'), '--direct', '--port', port, ...args]);
      expect(run.exitCode).toBe(2);
      expect(run.stderr).toMatch(says);
      expect(run.stderr).toContain('Drop --direct');
    }
    expect(liveInstances(registryDir)).toEqual([]);
    expect(processesMentioning(registryDir)).toEqual([]);
  });
});
