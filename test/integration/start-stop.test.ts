// ferry start / stop end to end: real CLI, watchdog, core, app processes, sockets and clients.

import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { fixture, ROOT, startDaemon, waitFor, type TestInstance } from '../helpers/ferry.js';

let instance: TestInstance | undefined;

afterEach(() => {
  instance?.forceCleanup();
  instance = undefined;
});

async function getText(url: string): Promise<{ status: number; body: string }> {
  const res = await request(url);
  return { status: res.statusCode, body: await res.body.text() };
}

describe('ferry start and stop', () => {
  it('serves 200 concurrent requests from two app processes, then stops without leaving any process behind', async () => {
    // Given an instance with two app processes, one of which has spawned a grandchild,
    instance = await startDaemon(fixture('pid-app'), ['--min-instances', '2', '--max-pool-size', '2']);
    const grandchild = Number((await getText(`${instance.url}/spawn-grandchild`)).body);
    expect(grandchild).toBeGreaterThan(0);
    instance.remember([grandchild]);

    // when 200 requests arrive 20 at a time,
    const pids: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (next < 200) {
          next++;
          const { status, body } = await getText(`${instance!.url}/pid`);
          expect(status).toBe(200);
          pids.push(body);
        }
      }),
    );

    // then all are answered, by both processes;
    expect(pids).toHaveLength(200);
    const distinct = new Set(pids);
    expect(distinct.size).toBe(2);
    const workerPids = instance.refresh().properties;
    expect(workerPids.core_pid).toBeGreaterThan(0);

    // and ferry stop leaves nothing: watchdog, core, apps, grandchild, directory.
    const stop = await instance.stop();
    expect(stop.exitCode).toBe(0);
    expect(stop.stdout).toMatch(/Stopped instance \w+ in .*; all \d+ processes are gone/);
    expect(instance.survivors()).toEqual([]);
    expect(fs.existsSync(instance.info.dir)).toBe(false);
  });

  it('restarts a core killed with SIGKILL and answers the next request', async () => {
    instance = await startDaemon(fixture('pid-app'));
    const before = instance.info.properties.core_pid as number;
    expect((await getText(`${instance.url}/`)).body).toBe('hello');

    process.kill(before, 'SIGKILL');

    // The watchdog holds the socket, so this request waits in the backlog instead of being refused.
    const after = await getText(`${instance.url}/`);
    expect(after).toEqual({ status: 200, body: 'hello' });
    const newCore = await waitFor(() => {
      const pid = instance!.refresh().properties.core_pid;
      return pid !== before ? pid : undefined;
    }, 'a new core pid in properties.json');
    expect(newCore).not.toBe(before);

    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });

  it('runs the watchdog and the core from the bundles of the build, the core without the flock addon only the watchdog needs', async () => {
    instance = await startDaemon(fixture('pid-app'));
    const { watchdog_pid: watchdog, core_pid: core } = instance.info.properties;
    const cmdline = (pid: number): string[] => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const mapsAddon = (pid: number): boolean => fs.readFileSync(`/proc/${pid}/maps`, 'utf8').includes('fs-native-extensions');
    expect(cmdline(watchdog)).toContain(path.join(ROOT, 'dist/bundle/ferry-watchdog.mjs'));
    expect(cmdline(core as number)).toContain(path.join(ROOT, 'dist/bundle/ferry-core.mjs'));
    // Loaded by the lock on the instance directory: proof that the check below can see the addon.
    expect(mapsAddon(watchdog)).toBe(true);
    expect(mapsAddon(core as number)).toBe(false);
    expect((await instance.stop()).exitCode).toBe(0);
  });

  it.runIf(process.getuid?.() === 0)('shields the watchdog from the OOM killer while the core and apps keep the original score', async () => {
    instance = await startDaemon(fixture('pid-app'));
    const read = (pid: number): string => fs.readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8').trim();
    const original = read(process.pid);
    const appPid = Number((await getText(`${instance.url}/pid`)).body);
    const scores = {
      watchdog: read(instance.info.properties.watchdog_pid),
      core: read(instance.info.properties.core_pid as number),
      app: read(appPid),
    };
    // In containers that forbid lowering the score the watchdog keeps the original one.
    expect(['-1000', original]).toContain(scores.watchdog);
    expect(scores.core).toBe(original);
    expect(scores.app).toBe(original);
    expect((await instance.stop()).exitCode).toBe(0);
  });
});
