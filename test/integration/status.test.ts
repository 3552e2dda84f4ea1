// ferry status against a real instance: its numbers match the traffic the test sent.

import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { PoolResponse, RequestsResponse, ServerResponse } from '../../src/lib/admin-api-contract.js';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { fixture, runFerry, startDaemon, tempDir, waitFor, type TestInstance } from '../helpers/ferry.js';

let instance: TestInstance | undefined;

afterEach(() => {
  instance?.forceCleanup();
  instance = undefined;
});

async function statusJson<T>(inst: TestInstance, args: string[] = [], env: Record<string, string> = {}): Promise<T> {
  const run = await runFerry(inst.registryDir, ['status', '--json', ...args], { env });
  expect(run.exitCode, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as T;
}

describe('ferry status', () => {
  it('counts every request the app processes finished, and shows a slow one while it is in flight', async () => {
    // Given two processes and 120 requests sent 12 at a time,
    instance = await startDaemon(fixture('pid-app'), ['--min-instances', '2', '--max-pool-size', '2']);
    let next = 0;
    await Promise.all(
      Array.from({ length: 12 }, async () => {
        while (next < 120) {
          next++;
          const res = await request(`${instance!.url}/pid`);
          await res.body.text();
        }
      }),
    );

    // then the processed counts of the two processes add up to exactly 120,
    const pool = await statusJson<PoolResponse & { view: string; instance: string }>(instance);
    expect(pool.view).toBe('pool');
    expect(pool.instance).toBe(instance.info.name);
    expect(pool.processCount).toBe(2);
    const processes = pool.groups[0]!.processes;
    expect(processes.reduce((sum, p) => sum + p.processed, 0)).toBe(120);
    expect(processes.every((p) => p.sessions === 0)).toBe(true);
    expect(processes.every((p) => p.rssBytes !== null && p.rssBytes > 0)).toBe(true);

    // and while a slow request runs, its process has a session and --show=requests lists it.
    const slow = request(`${instance.url}/slow?ms=1500`).then((res) => res.body.text());
    const busy = await waitFor(async () => {
      const p = await statusJson<PoolResponse>(instance!);
      return p.groups[0]!.processes.find((proc) => proc.sessions > 0);
    }, 'a process with a session');
    const inFlight = await statusJson<RequestsResponse>(instance, ['--show=requests']);
    expect(inFlight.requests).toEqual([expect.objectContaining({ method: 'GET', path: '/slow?ms=1500', pid: busy.pid, state: 'forwarding', app: 'pid-app' })]);
    expect(await slow).toBe('slow');

    const server = await statusJson<ServerResponse>(instance, ['--show=server']);
    expect(server.requests.total).toBeGreaterThanOrEqual(121);
    expect(server.connections.accepted).toBeGreaterThan(0);

    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });

  it("prints passenger-status's layout, the same through the fast path and through oclif", async () => {
    instance = await startDaemon(fixture('pid-app'), ['--min-instances', '2', '--max-pool-size', '2']);
    const fast = await runFerry(instance.registryDir, ['status', '--no-header']);
    const oclif = await runFerry(instance.registryDir, ['status', '--no-header'], { env: { FERRY_NO_FAST_PATH: '1' } });
    expect(fast.exitCode).toBe(0);
    expect(oclif.exitCode).toBe(0);
    for (const out of [fast.stdout, oclif.stdout]) {
      expect(out).toMatch(/^----------- General information -----------\nMax pool size : 2\nApp groups {4}: 1\nProcesses {5}: 2\n/);
      expect(out).toContain(`pid-app:\n  App root: ${fixture('pid-app')}\n  Requests in queue: 0\n`);
      expect(out.match(/^ {2}\* PID: \d+\s+Sessions: 0\s+Processed: \d+\s+Uptime: \d+s$/gm)).toHaveLength(2);
      expect(out.match(/^ {4}CPU: \d+%\s+Memory {2}: \d+M\s+Last used: \d+s ago$/gm)).toHaveLength(2);
    }
    const header = await runFerry(instance.registryDir, ['status']);
    expect(header.stdout).toMatch(/^Version : \d+\.\d+\.\d+\nDate {4}: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\nInstance: \w+ \(Ferry\//);
    expect((await instance.stop()).exitCode).toBe(0);
  });

  it('says no instance is running, with exit code 3, on both paths', async () => {
    const registry = tempDir('ferry-reg-');
    for (const env of [{}, { FERRY_NO_FAST_PATH: '1' }] as Record<string, string>[]) {
      const run = await runFerry(registry, ['status'], { env });
      expect(run.exitCode).toBe(EXIT_CODES.notRunning);
      expect(run.stderr.split('\n')[0]).toBe(`Error: no Ferry instance is running (looked in ${registry})`);
    }
  });

  it('rejects an unknown view with a usage error', async () => {
    const run = await runFerry(tempDir('ferry-reg-'), ['status', '--show=everything']);
    expect(run.exitCode).toBe(EXIT_CODES.usage);
    expect(run.stderr).toContain('Expected --show=everything to be one of: pool, requests, server');
  });
});
