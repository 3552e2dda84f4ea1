// Two real instances in one registry: `ferry status` sums them up as `pm2 ls` does, --instance
// gives the detail, and what ferry start says (the stop command, a port taken) names the right one.

import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import type { StatusResult } from '../../src/cli/status.js';
import { copyFixture, errorLineOf, freePort, liveInstances, processesMentioning, runFerry, startDaemon, stopCleanly, suggestionsOf, tempDir, TestInstance } from '../helpers/ferry.js';

const instances: TestInstance[] = [];

afterEach(() => {
  for (const instance of instances.splice(0)) instance.forceCleanup();
});

/** Stops every instance of one registry, then proves nothing of any of them is left (stopCleanly, for a shared registry). */
async function stopAll(...all: TestInstance[]): Promise<void> {
  for (const inst of all) expect((await inst.stop()).exitCode).toBe(0);
  for (const inst of all) expect(inst.survivors()).toEqual([]);
  expect(processesMentioning(all[0]!.registryDir)).toEqual([]);
}

async function two(): Promise<{ registry: string; first: TestInstance; second: TestInstance }> {
  const registry = tempDir('ferry-reg-');
  const first = await startDaemon(copyFixture('pid-app'), ['--min-instances', '2', '--max-pool-size', '2'], registry);
  instances.push(first);
  const second = await startDaemon(copyFixture('count-app'), [], registry);
  instances.push(second);
  return { registry, first, second };
}

describe('ferry status with several instances', () => {
  it('shows one line per instance (name, address, app, processes, uptime, requests), the same on both paths and in JSON', async () => {
    const { registry, first, second } = await two();
    for (let i = 0; i < 5; i++) await (await request(`${first.url}/pid`)).body.text();

    for (const env of [{}, { FERRY_NO_FAST_PATH: '1' }] as Record<string, string>[]) {
      const run = await runFerry(registry, ['status'], { env });
      expect(run.exitCode, run.stderr).toBe(0);
      const lines = run.stdout.split('\n');
      expect(lines[0]).toBe('----------- 2 Ferry instances -----------');
      expect(lines[1]).toMatch(/^NAME\s+ADDRESS\s+APPS\s+STATE\s+PROCS\s+UPTIME\s+REQUESTS\s+REQ\/S$/);
      const row = (inst: TestInstance): string | undefined => lines.find((l) => l.startsWith(`${inst.info.name} `));
      expect(row(first)).toMatch(new RegExp(`^${first.info.name}\\s+http://127\\.0\\.0\\.1:${first.port}/\\s+pid-app\\s+serving\\s+2\\s+\\d+s\\s+5\\s+`));
      expect(row(second)).toMatch(new RegExp(`^${second.info.name}\\s+http://127\\.0\\.0\\.1:${second.port}/\\s+count-app\\s+serving\\s+1\\s+\\d+s\\s+0\\s+`));
      expect(run.stdout).toMatch(/Details of one: ferry status --instance \w+/);
    }

    const json = JSON.parse((await runFerry(registry, ['status', '--json'])).stdout) as Extract<StatusResult, { view: 'instances' }>;
    expect(json.view).toBe('instances');
    expect(json.instances.map((i) => [i.name, i.apps, i.processes, i.requests]).toSorted()).toEqual(
      [
        [first.info.name, ['pid-app'], 2, 5],
        [second.info.name, ['count-app'], 1, 0],
      ].toSorted(),
    );

    // --instance keeps the detail of one.
    const detail = await runFerry(registry, ['status', '--instance', second.info.name, '--no-header']);
    expect(detail.exitCode).toBe(0);
    expect(detail.stdout).toContain('count-app:\n  App root:');
    // Views of one instance's insides still need it named.
    const requests = await runFerry(registry, ['status', '--show=requests']);
    expect(requests.exitCode).toBe(EXIT_CODES.usage);
    expect(errorLineOf(requests)).toBe('2 Ferry instances are running; say which one with --instance NAME');

    await stopAll(first, second);
  });

  it('shows an instance whose core does not answer as such, and the others as usual', async () => {
    const { registry, first, second } = await two();
    const corePid = second.info.properties.core_pid as number;
    process.kill(corePid, 'SIGSTOP');
    try {
      const run = await runFerry(registry, ['status', '--timeout', '1']);
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.stdout).toMatch(new RegExp(`^${second.info.name}\\s+\\S+\\s+count-app\\s+not responding\\s+-\\s+\\d+s\\s+-\\s+-$`, 'm'));
      expect(run.stdout).toMatch(new RegExp(`^${first.info.name}\\s+\\S+\\s+pid-app\\s+serving\\s+2\\s`, 'm'));
    } finally {
      process.kill(corePid, 'SIGCONT');
    }
    await stopAll(first, second);
  });
});

describe('ferry start beside another instance', () => {
  it('says "ferry stop" for the only instance and "ferry stop --instance NAME" once there are two', async () => {
    const registry = tempDir('ferry-reg-');
    const runStart = async (port: number): Promise<{ stdout: string; instance: TestInstance }> => {
      const run = await runFerry(registry, ['start', copyFixture('pid-app'), '--daemonize', '--port', String(port), '--log-file', path.join(registry, `ferry.${port}.log`)]);
      expect(run.exitCode, run.stderr).toBe(0);
      const info = liveInstances(registry).find((i) => i.properties.addresses.some((a) => a.includes(`:${port}/`)));
      const instance = new TestInstance(registry, port, info!);
      instances.push(instance);
      return { stdout: run.stdout, instance };
    };
    const first = await runStart(await freePort());
    expect(first.stdout).toMatch(/Stop it with: ferry stop$/);
    const second = await runStart(await freePort());
    expect(second.stdout).toMatch(new RegExp(`Stop it with: ferry stop --instance ${second.instance.info.name}$`));
    await stopAll(first.instance, second.instance);
  });

  it('names the Ferry instance that holds the port, and how to stop it', async () => {
    const registry = tempDir('ferry-reg-');
    const holder = await startDaemon(copyFixture('pid-app'), [], registry);
    instances.push(holder);

    const run = await runFerry(registry, ['start', copyFixture('count-app'), '--port', String(holder.port)]);

    expect(run.exitCode).toBe(EXIT_CODES.environment);
    expect(errorLineOf(run)).toMatch(new RegExp(`^127\\.0\\.0\\.1:${holder.port} is already in use by Ferry instance ${holder.info.name} \\(watchdog pid ${holder.info.properties.watchdog_pid}, serving .*pid-app\\)$`));
    expect(suggestionsOf(run)).toContain('Stop that instance with: ferry stop');
    expect(suggestionsOf(run)).toContain('--port');
    expect(liveInstances(registry)).toHaveLength(1);
    await stopCleanly(holder);
  });
});
