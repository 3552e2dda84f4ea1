// ferry memory-stats on a real instance, and with none running.

import { afterEach, describe, expect, it } from 'vitest';
import type { MemoryStatsResult } from '../../src/cli/memory-stats.js';
import { fixture, runFerry, startDaemon, tempDir, type TestInstance } from '../helpers/ferry.js';

let instance: TestInstance | undefined;
let other: TestInstance | undefined;

afterEach(() => {
  instance?.forceCleanup();
  instance = undefined;
  other?.forceCleanup();
  other = undefined;
});

describe('ferry memory-stats', () => {
  it("shows every process of a running instance with its private dirty memory", async () => {
    instance = await startDaemon(fixture('pid-app'), ['--min-instances', '2', '--max-pool-size', '2']);
    const info = instance.refresh();
    const run = await runFerry(instance.registryDir, ['memory-stats', '--json']);
    expect(run.exitCode, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as MemoryStatsResult;
    const ferry = result.sections.find((s) => s.title === 'Ferry processes')!;
    const mine = ferry.processes.filter((p) => p.name.endsWith(`(instance ${info.name})`));
    expect(mine.map((p) => p.name.split(' ')[0]).sort()).toEqual(['app', 'app', 'core', 'watchdog']);
    expect(mine.map((p) => p.pid)).toContain(info.properties.watchdog_pid);
    expect(mine.map((p) => p.pid)).toContain(info.properties.core_pid);
    for (const p of mine) expect(p.privateDirtyBytes).toBeGreaterThan(0);

    const text = await runFerry(instance.registryDir, ['memory-stats']);
    expect(text.stdout).toContain('------------- Ferry processes -------------');
    expect(text.stdout).toMatch(new RegExp(`^${info.properties.watchdog_pid}\\s+\\d+\\s+[\\d.]+ MB\\s+[\\d.]+ MB\\s+[\\d.]+ MB.*watchdog \\(instance ${info.name}\\)$`, 'm'));
    expect((await instance.stop()).exitCode).toBe(0);
  });

  it('lists one instance of several with --instance, and refuses a name that runs nowhere (exit 3)', async () => {
    instance = await startDaemon(fixture('pid-app'), ['--max-pool-size', '1']);
    other = await startDaemon(fixture('pid-app'), ['--max-pool-size', '1'], instance.registryDir);
    const names = async (args: string[]): Promise<string[]> => {
      const run = await runFerry(instance!.registryDir, ['memory-stats', '--json', ...args]);
      expect(run.exitCode, run.stderr).toBe(0);
      return (JSON.parse(run.stdout) as MemoryStatsResult).sections.find((s) => s.title === 'Ferry processes')!.processes.map((p) => p.name);
    };
    const all = await names([]);
    expect(all.filter((n) => n.endsWith(`(instance ${other!.info.name})`))).toHaveLength(3);
    const one = await names(['--instance', instance.info.name]);
    expect(one).toHaveLength(3);
    expect(one.every((n) => n.endsWith(`(instance ${instance!.info.name})`))).toBe(true);

    const unknown = await runFerry(instance.registryDir, ['memory-stats', '--instance', 'nosuchinstance']);
    expect(unknown.exitCode).toBe(3);
    expect(unknown.stderr).toContain("no running Ferry instance is named 'nosuchinstance'");
    expect((await other.stop()).exitCode).toBe(0);
    expect((await instance.stop()).exitCode).toBe(0);
  });

  it('still lists what it can, and says so, with no instance running', async () => {
    const registry = tempDir('ferry-reg-');
    const run = await runFerry(registry, ['memory-stats']);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain('------------- Nginx processes -------------');
    expect(run.stdout).toContain(`*** No Ferry instance is running (looked in ${registry}); showing what could be found.`);
  });
});
