// Apps that are not Node-with-our-loader: any program that listens on $PORT (--app-start-command).

import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { fixture, liveInstances, runFerry, startDaemon, tempDir, type TestInstance } from '../helpers/ferry.js';

let instance: TestInstance | undefined;

afterEach(() => {
  instance?.forceCleanup();
  instance = undefined;
});

describe('generic apps (--app-start-command)', () => {
  it('runs any program that listens on $PORT, several processes on their own ports, GET and POST', async () => {
    instance = await startDaemon(fixture('generic-app'), ['--app-start-command', 'exec node server.js', '--min-instances', '2']);
    const answers = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const res = await request(`${instance!.url}/x`, { method: 'POST', body: 'hello generic' });
        expect(res.statusCode).toBe(200);
        return JSON.parse(await res.body.text()) as { pid: number; port: string; method: string; body: string };
      }),
    );
    expect(answers.every((a) => a.method === 'POST' && a.body === 'hello generic')).toBe(true);
    expect(new Set(answers.map((a) => a.pid)).size).toBe(2);
    expect(new Set(answers.map((a) => a.port)).size).toBe(2);
    instance.refresh();
    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });

  it('reports a command that never listens on $PORT once the start timeout passes', async () => {
    const registry = tempDir('ferry-reg-');
    const run = await runFerry(registry, ['start', fixture('generic-app'), '--daemonize', '--app-start-command', 'sleep 30', '--start-timeout', '1', '--log-file', `${registry}/log`]);
    expect(run.exitCode).toBe(EXIT_CODES.appStartFailed);
    expect(run.stderr).toContain('did not listen within 1s');
    expect(liveInstances(registry)).toEqual([]);
  });

  it('refuses --app-type generic without a command', async () => {
    const run = await runFerry(tempDir('ferry-reg-'), ['start', fixture('generic-app'), '--app-type', 'generic']);
    expect(run.exitCode).toBe(EXIT_CODES.usage);
    expect(run.stderr).toContain('a generic app needs --app-start-command');
  });
});
