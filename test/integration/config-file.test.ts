// Several apps in one instance from ferry.json, routed by Host, each with its own pool.

import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { PoolResponse } from '../../src/lib/admin-api-contract.js';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { fixture, runFerry, startDaemon, tempDir, type TestInstance } from '../helpers/ferry.js';

let instance: TestInstance | undefined;

afterEach(() => {
  instance?.forceCleanup();
  instance = undefined;
});

describe('ferry.json', () => {
  it('serves two apps routed by Host, each with its own processes', async () => {
    const dir = tempDir('ferry-config-');
    fs.writeFileSync(
      path.join(dir, 'ferry.json'),
      JSON.stringify({
        // Full with the minimums, so nothing scales out and the counts below are exact.
        'max-pool-size': 3,
        apps: [
          { root: fixture('pid-app'), name: 'web', hosts: ['web.test'], 'min-instances': 2 },
          { root: fixture('wsgi-app'), name: 'api', hosts: ['api.test', 'API.example'] },
        ],
      }),
    );
    // DIR holds ferry.json, so it is read without --config.
    instance = await startDaemon(dir);

    const web = await Promise.all(Array.from({ length: 10 }, async () => (await request(`${instance!.url}/pid`, { headers: { host: 'web.test:80' } })).body.text()));
    expect(new Set(web).size).toBe(2);
    const api = await request(`${instance.url}/hello`, { headers: { host: 'api.example' } });
    expect(api.headers['x-app']).toBe('wsgi');
    expect(JSON.parse(await api.body.text())).toMatchObject({ path: '/hello' });
    const nowhere = await request(`${instance.url}/`, { headers: { host: 'other.test' } });
    expect(nowhere.statusCode).toBe(404);
    expect(await nowhere.body.text()).toContain("No application is served for the host 'other.test'");

    const status = await runFerry(instance.registryDir, ['status', '--json']);
    const pool = JSON.parse(status.stdout) as PoolResponse;
    expect(pool.maxPoolSize).toBe(3);
    expect(pool.groups.map((g) => [g.name, g.processes.length])).toEqual([
      ['web', 2],
      ['api', 1],
    ]);

    instance.refresh();
    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });

  it('lets a flag typed on the command line win over the file', async () => {
    const dir = tempDir('ferry-config-');
    const config = path.join(dir, 'custom.json');
    fs.writeFileSync(config, JSON.stringify({ 'min-instances': 1, apps: [{ root: fixture('pid-app') }] }));
    instance = await startDaemon(dir, ['--config', config, '--min-instances', '2']);
    const status = JSON.parse((await runFerry(instance.registryDir, ['status', '--json'])).stdout) as PoolResponse;
    expect(status.groups[0]!.processes).toHaveLength(2);
    instance.refresh();
    expect((await instance.stop()).exitCode).toBe(0);
  });

  it('refuses a bad file with the JSON path of the problem, starting nothing', async () => {
    const dir = tempDir('ferry-config-');
    fs.writeFileSync(path.join(dir, 'ferry.json'), JSON.stringify({ apps: [{ root: fixture('pid-app'), 'min-instances': -1 }] }));
    const registry = tempDir('ferry-reg-');
    const run = await runFerry(registry, ['start', dir]);
    expect(run.exitCode).toBe(EXIT_CODES.usage);
    expect(run.stderr.split('\n')[0]).toBe('Error: --min-instances must be at least 1 (got -1)');
    const typo = path.join(dir, 'typo.json');
    fs.writeFileSync(typo, JSON.stringify({ apps: [{ root: fixture('pid-app'), 'min-instance': 2 }] }));
    const run2 = await runFerry(registry, ['start', dir, '--config', typo]);
    expect(run2.exitCode).toBe(EXIT_CODES.usage);
    expect(run2.stderr.split('\n')[0]).toBe(`Error: ${typo}: apps[0].min-instance is not an option (did you mean "min-instances"?)`);
  });

  it("gives a busy app a process by stopping another app's idle spare when the pool is full", async () => {
    const dir = tempDir('ferry-config-');
    fs.writeFileSync(
      path.join(dir, 'ferry.json'),
      JSON.stringify({ 'max-pool-size': 3, 'busy-sessions': 1, apps: [{ root: fixture('pid-app'), name: 'a', hosts: ['a.test'] }, { root: fixture('pid-app'), name: 'b', hosts: ['b.test'] }] }),
    );
    instance = await startDaemon(dir);
    const counts = async (): Promise<Record<string, number>> => {
      const pool = JSON.parse((await runFerry(instance!.registryDir, ['status', '--json'])).stdout) as PoolResponse;
      return Object.fromEntries(pool.groups.map((g) => [g.name, g.processes.filter((p) => p.state === 'ready').length]));
    };
    // b gets busy and grows into the last free slot, then goes idle;
    await (await request(`${instance.url}/slow?ms=1200`, { headers: { host: 'b.test' } })).body.text();
    expect(await counts()).toEqual({ a: 1, b: 2 });
    // a gets busy: the pool is full, so b's idle spare makes room.
    await (await request(`${instance.url}/slow?ms=1200`, { headers: { host: 'a.test' } })).body.text();
    expect(await counts()).toEqual({ a: 2, b: 1 });
    instance.refresh();
    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });
});
