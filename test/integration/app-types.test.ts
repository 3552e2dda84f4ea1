// Apps that are not Node-with-our-loader: any program that listens on $PORT (--app-start-command).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { INSTANCE_FILES } from '../../src/lib/instance-registry.js';
import { fixture, liveInstances, runFerry, startDaemon, tempDir, type TestInstance } from '../helpers/ferry.js';

let instance: TestInstance | undefined;

afterEach(() => {
  instance?.forceCleanup();
  instance = undefined;
});

describe('generic apps (--app-start-command)', () => {
  it('runs any program that listens on $PORT, several processes on their own ports, GET and POST', async () => {
    instance = await startDaemon(fixture('generic-app'), ['--app-start-command', 'exec node server.js', '--min-instances', '2', '--max-pool-size', '2']);
    const answers = await Promise.all(
      Array.from({ length: 20 }, async () => {
        // 200 ms each: in flight together, so they spread over both processes however slowly they are sent.
        const res = await request(`${instance!.url}/x?ms=200`, { method: 'POST', body: 'hello generic' });
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

const hasRack = spawnSync('ruby', ['-e', 'require "rack"'], { stdio: 'ignore' }).status === 0;

describe.each([
  { type: 'WSGI', dir: 'wsgi-app', header: 'wsgi', skip: false },
  // CI installs ruby and ruby-rack, so there a missing Rack fails instead of skipping.
  { type: 'Rack', dir: 'rack-app', header: 'rack', skip: !hasRack && !process.env.CI },
])('$type apps', ({ dir, header, skip }) => {
  it.skipIf(skip)('serve GET and POST with a body (1 MB too), one request per process at a time, from several processes', async () => {
    instance = await startDaemon(fixture(dir), ['--min-instances', '2', '--max-pool-size', '2']);
    const get = await request(`${instance.url}/hello?x=1`);
    expect(get.statusCode).toBe(200);
    expect(get.headers['x-app']).toBe(header);
    expect(JSON.parse(await get.body.text())).toMatchObject({ method: 'GET', path: '/hello', query: 'x=1', length: 0, forwardedFor: '127.0.0.1' });

    const post = await request(`${instance.url}/submit`, { method: 'POST', body: 'name=ferry&x=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(JSON.parse(await post.body.text())).toMatchObject({ method: 'POST', path: '/submit', body: 'name=ferry&x=1', length: 14 });
    const big = await request(`${instance.url}/upload`, { method: 'PUT', body: Buffer.alloc(1024 * 1024, 97) });
    expect(JSON.parse(await big.body.text())).toMatchObject({ method: 'PUT', length: 1024 * 1024 });
    // A chunked body is read whole first (concurrency 1: upload buffering) and reaches the app with
    // its Content-Length; the file it was kept in is gone once answered.
    const chunked = await request(`${instance.url}/upload`, { method: 'PUT', body: Readable.from([Buffer.alloc(600 * 1024, 97), Buffer.alloc(424 * 1024, 98)]) });
    expect(JSON.parse(await chunked.body.text())).toMatchObject({ method: 'PUT', length: 1024 * 1024 });
    expect(fs.readdirSync(path.join(instance.info.dir, INSTANCE_FILES.buffersDir))).toEqual([]);

    // Concurrency 1 per process: while one process holds a slow request, the others go to the
    // other process (asked of the core, so a loaded machine cannot serve them one after another
    // on the same process); 20 at once are queued and served, none fails.
    const answer = async (target: string): Promise<number> => {
      const res = await request(`${instance!.url}${target}`);
      expect(res.statusCode).toBe(200);
      return (JSON.parse(await res.body.text()) as { pid: number }).pid;
    };
    const held = answer('/n?sleep=3000');
    await instance.requestUnderWay('/n');
    const answers = await Promise.all(Array.from({ length: 20 }, () => answer('/n')));
    const holder = await held;
    expect(new Set([holder, ...answers]).size).toBe(2);

    instance.refresh();
    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });
});

describe('a WSGI app that fails to load', () => {
  it("stops ferry start with exit 6 and the app's own error line", async () => {
    const registry = tempDir('ferry-reg-');
    const run = await runFerry(registry, ['start', fixture('wsgi-broken'), '--daemonize', '--log-file', `${registry}/log`]);
    expect(run.exitCode).toBe(EXIT_CODES.appStartFailed);
    expect(run.stderr.split('\n')[0]).toBe("Error: app 'wsgi-broken' exited with code 1 before it listened: ValueError: DATABASE_URL is not set (at passenger_wsgi.py:2 in <module>)");
    // The interpreter and startup file Ferry used, without its loader (issue 19, item 6).
    expect(run.stderr).toContain(`Run the app by hand to see the whole error: cd ${fixture('wsgi-broken')} && python3 passenger_wsgi.py`);
    expect(liveInstances(registry)).toEqual([]);
  });
});

describe('a Rack app that fails to load', () => {
  it.skipIf(!hasRack && !process.env.CI)("stops ferry start with exit 6, Ruby's (LoadError) line, and the command that loads config.ru by hand", async () => {
    const registry = tempDir('ferry-reg-');
    const run = await runFerry(registry, ['start', fixture('rack-broken'), '--daemonize', '--log-file', `${registry}/log`]);
    expect(run.exitCode).toBe(EXIT_CODES.appStartFailed);
    expect(run.stderr.split('\n')[0]).toMatch(/^Error: app 'rack-broken' exited with code 1 before it listened: \S*config\.ru:2:in `require_relative': cannot load such file -- \S*\/missing \(LoadError\)$/);
    expect(run.stderr).toContain(`Run the app by hand to see the whole error: cd ${fixture('rack-broken')} && ruby -rrack -e 'Rack::Builder.parse_file("config.ru")'`);
    expect(liveInstances(registry)).toEqual([]);
  });
});
