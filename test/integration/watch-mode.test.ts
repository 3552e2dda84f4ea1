// ferry start --watch: a change under the app's root restarts it, rolling, while a client keeps
// sending requests; a change in node_modules does not.

import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Pool } from 'undici';
import { isProcessRunning } from '../../src/lib/process-groups.js';
import { copyFixture, freePort, liveInstances, runFerry, stopCleanly, tempDir, TestInstance, waitFor, type LogLine } from '../helpers/ferry.js';

let instance: TestInstance | undefined;

afterEach(() => {
  instance?.forceCleanup();
  instance = undefined;
});

/** Client loops on kept-alive connections until stop(): the latest answer, and every failure. */
function clientLoop(url: string, connections: number): { latest: () => string; stop(): Promise<{ ok: number; failures: string[] }> } {
  const pool = new Pool(url, { connections });
  const failures: string[] = [];
  let latest = '';
  let ok = 0;
  let running = true;
  const loops = Array.from({ length: connections }, async () => {
    while (running) {
      try {
        const res = await pool.request({ path: '/', method: 'GET' });
        const body = await res.body.text();
        if (res.statusCode === 200) {
          ok++;
          latest = body;
        } else failures.push(`${res.statusCode} ${body.slice(0, 80)}`);
      } catch (err) {
        failures.push(String(err));
      }
    }
  });
  return {
    latest: () => latest,
    async stop() {
      running = false;
      await Promise.all(loops);
      await pool.close();
      return { ok, failures };
    },
  };
}

function logLines(file: string): LogLine[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
}

describe('ferry start --watch', () => {
  it('serves a changed file within seconds, failing no request, logs why, and ignores node_modules', async () => {
    const appDir = copyFixture('version-app');
    fs.mkdirSync(path.join(appDir, 'node_modules', 'dep'), { recursive: true });
    const registryDir = tempDir('ferry-reg-');
    const port = await freePort();
    // No --log-file and no log/: the daemon logs into the app's root, which must not restart it
    // on every line it writes.
    const started = await runFerry(registryDir, ['start', appDir, '--watch', '--daemonize', '--port', String(port)]);
    expect(started.exitCode, started.stderr).toBe(0);
    instance = new TestInstance(registryDir, port, liveInstances(registryDir)[0]!);
    const logFile = path.join(appDir, `ferry.${port}.log`);
    await waitFor(() => logLines(logFile).some((l) => l.msg === "watching the app's files for changes"), 'the watch to begin');

    const load = clientLoop(instance.url, 4);
    try {
      await waitFor(() => load.latest().startsWith('v1 '), 'the first version');
      const [, before] = load.latest().split(' ');
      fs.writeFileSync(path.join(appDir, 'version.txt'), 'v2\n');
      const changedAt = Date.now();
      await waitFor(() => load.latest().startsWith('v2 '), 'the new version', 10_000);
      expect(Date.now() - changedAt).toBeLessThan(5_000);
      await waitFor(() => !isProcessRunning(Number(before)), 'the old process to exit');
      instance.refresh();

      // A change under node_modules (npm install) restarts nothing.
      const serving = load.latest();
      fs.writeFileSync(path.join(appDir, 'node_modules', 'dep', 'index.js'), 'module.exports = 1;\n');
      fs.mkdirSync(path.join(appDir, 'node_modules', 'dep2'));
      await new Promise((r) => setTimeout(r, 1_500));
      expect(load.latest()).toBe(serving);
    } finally {
      const { ok, failures } = await load.stop();
      expect(failures).toEqual([]);
      expect(ok).toBeGreaterThan(100);
    }
    const restarts = logLines(logFile).filter((l) => l.msg.startsWith('restarting app '));
    expect(restarts.map((l) => l.msg)).toEqual(['restarting app version-app: files changed (version.txt)']);
    expect(restarts[0]).toMatchObject({ app: 'version-app', files: ['version.txt'], rolling: true });
    expect(logLines(logFile).filter((l) => l.msg === 'rolling restart')).toHaveLength(1);

    await stopCleanly(instance);
  });
});
