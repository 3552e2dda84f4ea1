// --stop-timeout: how long a leaving app process may take to finish its requests, for the
// instance (ferry stop) and per app in ferry.json (detach, restart), validated like every option.

import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { isProcessRunning } from '../../src/lib/process-groups.js';
import { fixture, runFerry, startDaemon, tempDir, waitFor, type TestInstance } from '../helpers/ferry.js';

let instance: TestInstance | undefined;

afterEach(() => {
  instance?.forceCleanup();
  instance = undefined;
});

/** A request the app answers only after 60 s, started and left running; its outcome is ignored. */
function hangingRequest(url: string): void {
  request(`${url}/slow?ms=60000`).then(
    (res) => res.body.text().catch(() => undefined),
    () => undefined,
  );
}

describe('--stop-timeout', () => {
  it('stops the instance after S seconds although a request is still in flight', async () => {
    instance = await startDaemon(fixture('pid-app'), ['--stop-timeout', '3']);
    hangingRequest(instance.url);
    await instance.requestUnderWay('/slow');
    const startedMs = Date.now();
    const run = await instance.stop();
    const tookMs = Date.now() - startedMs;
    expect(run.exitCode).toBe(0);
    // The default (30 s) would have waited for the request; 3 s ends the stop well before 60.
    expect(tookMs).toBeLessThan(10_000);
    expect(instance.survivors()).toEqual([]);
  });

  it("gives a detached process its app's stop-timeout from ferry.json to finish, then stops it", async () => {
    const dir = tempDir('ferry-stop-');
    const config = path.join(dir, 'ferry.json');
    fs.writeFileSync(config, JSON.stringify({ apps: [{ root: fixture('pid-app'), 'stop-timeout': 2 }] }));
    instance = await startDaemon(dir, ['--config', config]);
    const pid = Number(await (await request(`${instance.url}/pid`)).body.text());
    hangingRequest(instance.url);
    await instance.requestUnderWay('/slow');
    const detached = await runFerry(instance.registryDir, ['detach-process', String(pid), '--instance', instance.info.name]);
    expect(detached.exitCode).toBe(0);
    const startedMs = Date.now();
    await waitFor(() => !isProcessRunning(pid), 'the detached process to exit', 15_000, 50);
    const tookMs = Date.now() - startedMs;
    // It drained for its 2 s (not the default 30 s, nor the request's 60 s), then left at SIGTERM.
    expect(tookMs).toBeGreaterThan(1_500);
    expect(tookMs).toBeLessThan(8_000);
    instance.refresh();
    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });

  it('refuses a bad value, on the command line or in ferry.json, with exit 2 and what to write instead', async () => {
    const registry = tempDir('ferry-reg-');
    for (const value of ['0', '-5', '100000']) {
      const run = await runFerry(registry, ['start', fixture('pid-app'), '--stop-timeout', value]);
      expect(run.exitCode).toBe(2);
      expect(run.stderr).toContain(`--stop-timeout must be a whole number of seconds from 1 to 86400 (got ${value})`);
    }
    const dir = tempDir('ferry-stop-');
    const config = path.join(dir, 'ferry.json');
    fs.writeFileSync(config, JSON.stringify({ apps: [{ root: fixture('pid-app'), 'stop-timeout': 'soon' }] }));
    const run = await runFerry(registry, ['start', dir, '--config', config]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('apps[0].stop-timeout must be a whole number (got "soon")');
    // Nothing was started.
    expect(fs.readdirSync(registry).filter((n) => !n.startsWith('.'))).toEqual([]);
  });
});
