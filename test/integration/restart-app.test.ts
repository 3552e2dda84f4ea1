// ferry restart-app and ferry detach-process against a real instance under real load.

import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Pool } from 'undici';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { isProcessRunning } from '../../src/lib/process-groups.js';
import { copyFixture, fixture, runFerry, startDaemon, tempDir, waitFor, type TestInstance } from '../helpers/ferry.js';

let instance: TestInstance | undefined;

afterEach(() => {
  instance?.forceCleanup();
  instance = undefined;
});

/** Runs `concurrency` client loops until `stop()`; counts answers by pid and every failure. */
function steadyLoad(url: string, concurrency: number): { stop(): Promise<{ ok: number; failures: string[]; pids: Map<string, number> }> } {
  const pool = new Pool(url, { connections: concurrency });
  const failures: string[] = [];
  const pids = new Map<string, number>();
  let ok = 0;
  let running = true;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      try {
        const res = await pool.request({ path: '/pid', method: 'GET' });
        const body = await res.body.text();
        if (res.statusCode !== 200) failures.push(`${res.statusCode} ${body.slice(0, 80)}`);
        else {
          ok++;
          pids.set(body, (pids.get(body) ?? 0) + 1);
        }
      } catch (err) {
        failures.push(String(err));
      }
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      await pool.close();
      return { ok, failures, pids };
    },
  };
}

/**
 * The pids that answer `requests` concurrent requests: each takes 200 ms, so they are in flight
 * together and go to the least busy process, even on a loaded machine that sends them slowly
 * (one after another, each would go to the oldest process: idle ties go to it).
 */
async function pidsServing(url: string, requests = 40): Promise<Set<string>> {
  const answers = await Promise.all(Array.from({ length: requests }, async () => (await fetch(`${url}/pid?ms=200`)).text()));
  return new Set(answers);
}

describe('ferry restart-app', () => {
  it('replaces every process with a rolling restart under 20 concurrent clients without failing a request', async () => {
    // Given two processes (and no room to scale out) serving a steady load of 20 concurrent clients,
    instance = await startDaemon(fixture('pid-app'), ['--min-instances', '2', '--max-pool-size', '2']);
    const before = await pidsServing(instance.url);
    expect(before.size).toBe(2);
    const load = steadyLoad(instance.url, 20);
    await new Promise((r) => setTimeout(r, 3000));

    // when a rolling restart runs in the middle of it and the load goes on for 10 s in all,
    const restart = await runFerry(instance.registryDir, ['restart-app', '--rolling', '--wait', '--json']);
    await new Promise((r) => setTimeout(r, 7000));
    const { ok, failures, pids } = await load.stop();

    // then no request failed, and every old process was replaced and is gone.
    expect(restart.exitCode, restart.stderr).toBe(0);
    const result = JSON.parse(restart.stdout) as { outcome: string; replaced: number[]; newPids: number[] };
    expect(result.outcome).toBe('done');
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(1000);
    expect(new Set(result.replaced.map(String))).toEqual(before);
    const after = await pidsServing(instance.url);
    expect(after.size).toBe(2);
    for (const pid of before) expect(after.has(pid)).toBe(false);
    for (const pid of before) expect(isProcessRunning(Number(pid))).toBe(false);
    // Both generations answered during the load.
    expect([...pids.keys()].filter((p) => before.has(p)).length).toBe(2);
    expect([...pids.keys()].filter((p) => after.has(p)).length).toBe(2);

    instance.refresh();
    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  }, 60_000);

  it('replaces every process with a blocking restart and answers the next request', async () => {
    instance = await startDaemon(fixture('pid-app'), ['--min-instances', '2', '--max-pool-size', '2']);
    const before = await pidsServing(instance.url);

    const restart = await runFerry(instance.registryDir, ['restart-app', '--wait']);

    expect(restart.exitCode, restart.stderr).toBe(0);
    expect(restart.stdout).toMatch(/^Restarted 'pid-app' \(restart, \d+ ms\)/m);
    const after = await pidsServing(instance.url);
    expect(after.size).toBe(2);
    for (const pid of before) expect(after.has(pid)).toBe(false);
    instance.refresh();
    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });

  it('stops a rolling restart whose new process fails, and keeps the old processes serving', async () => {
    // Given an app copied to a scratch directory, serving with two processes,
    const appDir = copyFixture('fail-on-flag');
    instance = await startDaemon(appDir, ['--min-instances', '2', '--max-pool-size', '2']);
    const before = await pidsServing(instance.url);
    expect(before.size).toBe(2);

    // when its next release is broken and a rolling restart is asked for,
    fs.writeFileSync(path.join(appDir, 'FAIL'), '');
    const restart = await runFerry(instance.registryDir, ['restart-app', '--rolling', '--wait']);

    // then the restart fails with the app's own error, and the old processes still serve.
    expect(restart.exitCode).toBe(EXIT_CODES.failed);
    expect(restart.stderr).toContain('new release is broken: FAIL flag present');
    expect(restart.stderr).toContain('The old processes keep serving');
    expect(await pidsServing(instance.url)).toEqual(before);

    instance.refresh();
    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });

  // Issue 19, item 7: a blocking restart whose new process failed showed "(restarting...)" for
  // ever, with the reason only in --json's lastSpawnError, and --wait waited out its timeout.
  it('fails a blocking restart whose new process fails: --wait exits with the reason, status says it and that nothing serves', async () => {
    const appDir = copyFixture('fail-on-flag');
    instance = await startDaemon(appDir, []);
    await pidsServing(instance.url, 1);

    fs.writeFileSync(path.join(appDir, 'FAIL'), '');
    const restart = await runFerry(instance.registryDir, ['restart-app', '--wait', '--wait-timeout', '30']);

    expect(restart.exitCode).toBe(EXIT_CODES.failed);
    expect(restart.stderr).toMatch(/^Error: restart of 'fail-on-flag' failed: app 'fail-on-flag' exited with code 1 before it listened: Error: new release is broken: FAIL flag present$/m);
    const status = await runFerry(instance.registryDir, ['status', '--no-header']);
    expect(status.stdout).toContain("  (restart failed: app 'fail-on-flag' exited with code 1 before it listened: Error: new release is broken: FAIL flag present)");
    expect(status.stdout).toContain('  (no process serves: requests get 503 while Ferry retries)');
    expect(status.stdout).not.toContain('restarting...');

    instance.refresh();
    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });

  it('names the known apps when asked to restart one the instance does not serve', async () => {
    instance = await startDaemon(fixture('pid-app'));
    const run = await runFerry(instance.registryDir, ['restart-app', 'nosuchapp']);
    expect(run.exitCode).toBe(EXIT_CODES.usage);
    expect(run.stderr).toContain("Error: no app named 'nosuchapp' in this instance");
    expect(run.stderr).toContain(`Known: pid-app (${fixture('pid-app')})`);
    expect((await instance.stop()).exitCode).toBe(0);
  });

  it('says no instance is running when there is none', async () => {
    const run = await runFerry(tempDir('ferry-reg-'), ['restart-app']);
    expect(run.exitCode).toBe(EXIT_CODES.notRunning);
    expect(run.stderr).toContain('no Ferry instance is running');
  });
});

describe('ferry detach-process', () => {
  it('takes a process out of rotation, replaces it, and lets it exit', async () => {
    instance = await startDaemon(fixture('pid-app'), ['--min-instances', '2', '--max-pool-size', '2']);
    const before = await pidsServing(instance.url);
    const victim = [...before][0] as string;

    const run = await runFerry(instance.registryDir, ['detach-process', victim, '--wait']);

    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toContain(`Process ${victim} has exited.`);
    expect(isProcessRunning(Number(victim))).toBe(false);
    const after = await waitFor(async () => {
      const seen = await pidsServing(instance!.url);
      return seen.size === 2 ? seen : undefined;
    }, 'two processes serving again');
    expect(after.has(victim)).toBe(false);
    instance.refresh();
    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });

  it('refuses a pid that is not a process of the instance, listing the ones that are', async () => {
    instance = await startDaemon(fixture('pid-app'));
    const pid = (await pidsServing(instance.url, 3)).values().next().value as string;
    const run = await runFerry(instance.registryDir, ['detach-process', '999999']);
    expect(run.exitCode).toBe(EXIT_CODES.usage);
    expect(run.stderr).toContain('Error: pid 999999 is not a serving process of this instance');
    expect(run.stderr).toContain(`Known: ${pid}`);
    expect((await instance.stop()).exitCode).toBe(0);
  });
});

describe('error pages when the app cannot start', () => {
  async function brokenAfterStart(environment: string): Promise<{ status: number; type: string; body: string; retryAfter: string }> {
    const appDir = copyFixture('fail-on-flag');
    instance = await startDaemon(appDir, ['--environment', environment, '--envvar', 'SECRET_TOKEN=do-not-leak-me']);
    fs.writeFileSync(path.join(appDir, 'FAIL'), '');
    const restart = await runFerry(instance.registryDir, ['restart-app']);
    expect(restart.exitCode, restart.stderr).toBe(0);
    const res = await waitFor(async () => {
      const r = await fetch(`${instance!.url}/`);
      return r.status === 503 ? r : undefined;
    }, 'a 503 while the app cannot start');
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text(), retryAfter: res.headers.get('retry-after') ?? '' };
  }

  it('shows the spawn error on an HTML page in development, and never the environment', async () => {
    const page = await brokenAfterStart('development');
    expect(page.type).toBe('text/html; charset=utf-8');
    expect(Number(page.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(page.body).toContain('The application could not be started');
    expect(page.body).toContain('new release is broken: FAIL flag present');
    expect(page.body).toContain('exited-before-ready');
    expect(page.body).toMatch(/Request id<\/th><td>\S+<\/td>/);
    expect(page.body).not.toContain('do-not-leak-me');
    expect(page.body).not.toContain('SECRET_TOKEN');
    expect(page.body).not.toContain(process.env.PATH ?? '<no PATH>');
    expect((await instance!.stop()).exitCode).toBe(0);
  });

  it('shows a plain page with only a request id in production', async () => {
    const page = await brokenAfterStart('production');
    expect(page.type).toBe('text/plain; charset=utf-8');
    expect(page.body).toMatch(/^503 Service Unavailable\n\nThe application could not be started\. The operator can find the cause in the server log\.\nRequest id: \S+\n$/);
    expect((await instance!.stop()).exitCode).toBe(0);
  });
});
