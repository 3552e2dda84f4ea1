// Flying mode: Ferry on a unix socket behind a real nginx (proxy_pass to the socket). Restarting
// nginx, as an operator does on every config change, must leave the core and the app processes
// (same pids, no spawn) serving.

import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { readWorkerRecords } from '../../src/lib/instance-registry.js';
import { fixture, freePort, liveInstances, runFerry, tempDir, TestInstance } from '../helpers/ferry.js';
import { Nginx, NGINX_BIN as NGINX } from '../helpers/nginx.js';

let instance: TestInstance | undefined;
let nginx: Nginx | undefined;

afterEach(async () => {
  await nginx?.stop();
  nginx = undefined;
  instance?.forceCleanup();
  instance = undefined;
});

/**
 * A client's kept-alive connections end with the nginx that held them; a browser or a load
 * balancer opens new ones to the restarted nginx. So each nginx gets its own client, closed
 * before that nginx stops, instead of one that may reuse a connection the restart closed.
 */
async function get(agent: Agent, url: string): Promise<{ status: number; body: string }> {
  const res = await request(url, { dispatcher: agent });
  return { status: res.statusCode, body: await res.body.text() };
}

describe('flying mode behind nginx', () => {
  it.skipIf(!NGINX && !process.env.CI)('keeps the core and every app process when nginx restarts', async () => {
    const dir = tempDir('ferry-flying-');
    const registryDir = tempDir('ferry-reg-');
    const socketPath = path.join(dir, 'ferry.sock');
    const logFile = path.join(registryDir, 'ferry.log');
    const start = await runFerry(registryDir, ['start', fixture('pid-app'), '--daemonize', '--socket', socketPath, '--log-file', logFile, '--min-instances', '2', '--max-pool-size', '2']);
    expect(start.exitCode, start.stderr).toBe(0);
    const info = liveInstances(registryDir)[0];
    if (!info) throw new Error('no instance registered');
    instance = new TestInstance(registryDir, 0, info);
    nginx = new Nginx(dir, await freePort(), { servers: [`unix:${socketPath}`] });
    await nginx.start();
    const url = `http://127.0.0.1:${nginx.port}`;

    const pidsBefore = readWorkerRecords(info.dir).map((r) => r.pid).sort((a, b) => a - b);
    const coreBefore = instance.refresh().properties.core_pid;
    const served = new Set<string>();
    const before = new Agent();
    for (let i = 0; i < 20; i++) {
      const res = await get(before, `${url}/pid`);
      expect(res.status).toBe(200);
      served.add(res.body);
    }
    // X-Forwarded-For from nginx is kept on a unix socket (a trusted front server).
    const headers = JSON.parse((await get(before, `${url}/headers`)).body) as { headers: Record<string, string> };
    expect(headers.headers['x-forwarded-for']).toBe('127.0.0.1');
    await before.close();

    // The operator restarts nginx (stop, start): Ferry must not notice beyond idle connections closing.
    const oldMaster = nginx.masterPid;
    await nginx.stop();
    await nginx.start();
    expect(nginx.masterPid).not.toBe(oldMaster);
    // Every request the new nginx sends (over its own new upstream connections) is answered.
    const after = new Agent();
    for (let i = 0; i < 20; i++) {
      const res = await get(after, `${url}/pid`);
      expect(res.status).toBe(200);
      served.add(res.body);
    }
    await after.close();
    expect(nginx.errorLog()).not.toMatch(/\[(error|crit|alert)\]/);

    expect(instance.refresh().properties.core_pid).toBe(coreBefore);
    expect(readWorkerRecords(info.dir).map((r) => r.pid).sort((a, b) => a - b)).toEqual(pidsBefore);
    expect([...served].map(Number).every((pid) => pidsBefore.includes(pid))).toBe(true);
    expect(fs.readFileSync(logFile, 'utf8').match(/app process ready/g)).toHaveLength(2);

    await nginx.stop();
    expect(nginx.survivors()).toEqual([]);
    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });
});
