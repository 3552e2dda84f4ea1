// Pool limits and scaling on real app processes: Node apps scale out under load and back in
// when idle; a bounded queue sheds overflow with 503 + Retry-After and fails nothing else.

import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Pool, request } from 'undici';
import type { PoolResponse } from '../../src/lib/admin-api-contract.js';
import { AdminClient } from '../../src/cli/admin-client.js';
import { isProcessRunning } from '../../src/lib/process-groups.js';
import { copyFixture, fixture, startDaemon, waitFor, type TestInstance } from '../helpers/ferry.js';
import { rawExchange } from '../helpers/raw-http.js';

let instance: TestInstance | undefined;

afterEach(() => {
  instance?.forceCleanup();
  instance = undefined;
});

function readyCount(pool: PoolResponse): number {
  return pool.groups[0]!.processes.filter((p) => p.state === 'ready').length;
}

describe('pool limits', () => {
  it('grows a Node app from 1 to max-pool-size under 40 concurrent slow requests, then shrinks back when idle', async () => {
    instance = await startDaemon(fixture('pid-app'), ['--max-pool-size', '4', '--busy-sessions', '4', '--pool-idle-time', '2']);
    const admin = new AdminClient(instance.info, 5000);
    expect(readyCount(await admin.call<PoolResponse>('pool'))).toBe(1);

    // 40 clients, each sending 300 ms requests back to back, until the pool is full.
    const client = new Pool(instance.url, { connections: 40 });
    const failures: string[] = [];
    let loading = true;
    const loops = Array.from({ length: 40 }, async () => {
      while (loading) {
        try {
          const res = await client.request({ path: '/slow?ms=300', method: 'GET' });
          await res.body.text();
          if (res.statusCode !== 200) failures.push(String(res.statusCode));
        } catch (err) {
          failures.push(String(err));
        }
      }
    });
    await waitFor(async () => readyCount(await admin.call<PoolResponse>('pool')) === 4, 'four processes under load', 20_000, 100);
    await new Promise((r) => setTimeout(r, 1000));
    loading = false;
    await Promise.all(loops);
    await client.close();
    expect(failures).toEqual([]);
    // Requests go to the least busy process, so the new processes really carried load.
    const loaded = (await admin.call<PoolResponse>('pool')).groups[0]!.processes;
    expect(loaded).toHaveLength(4);
    expect(loaded.every((p) => p.processed > 0)).toBe(true);

    // Idle for pool-idle-time (2 s): back to the minimum of one.
    const shrunk = await waitFor(async () => {
      const pool = await admin.call<PoolResponse>('pool');
      return pool.processCount === 1 && readyCount(pool) === 1 ? pool : undefined;
    }, 'back to one process', 10_000, 100);
    expect(shrunk.groups[0]!.processes).toHaveLength(1);

    instance.refresh();
    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  }, 60_000);

  it('sheds queue overflow with 503 and Retry-After, and fails nothing else', async () => {
    // One process that takes one request at a time, and room for two waiting.
    instance = await startDaemon(fixture('pid-app'), ['--max-pool-size', '1', '--concurrency', '1', '--max-request-queue-size', '2']);

    const results = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const res = await request(`${instance!.url}/slow?ms=700`);
        return { status: res.statusCode, retryAfter: res.headers['retry-after'], body: await res.body.text() };
      }),
    );

    const ok = results.filter((r) => r.status === 200);
    const shed = results.filter((r) => r.status === 503);
    expect(ok).toHaveLength(3);
    expect(ok.every((r) => r.body === 'slow')).toBe(true);
    expect(shed).toHaveLength(3);
    for (const r of shed) {
      expect(r.retryAfter).toBe('1');
      expect(r.body).toContain('request queue full');
      expect(r.body).toMatch(/Request id: \S+/);
    }

    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });

  it('replaces a process after --max-requests requests without failing one', async () => {
    instance = await startDaemon(fixture('pid-app'), ['--max-requests', '3']);
    const answers: string[] = [];
    for (let i = 0; i < 9; i++) {
      const res = await request(`${instance.url}/pid`);
      expect(res.statusCode).toBe(200);
      answers.push(await res.body.text());
    }
    // Three processes in turn, three requests each.
    expect(new Set(answers).size).toBe(3);
    expect(answers.slice(0, 3).every((pid) => pid === answers[0])).toBe(true);
    expect(answers.slice(3, 6).every((pid) => pid === answers[3])).toBe(true);
    instance.refresh();
    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });

  it('sends a request that an app process refused to another process, and replaces the broken one', async () => {
    instance = await startDaemon(fixture('pid-app'), ['--min-instances', '2', '--max-pool-size', '2']);
    // The oldest process (idle ties go to it) stops accepting connections but stays alive.
    const broken = await (await request(`${instance.url}/stop-listening`)).body.text();

    const answers: string[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await request(`${instance.url}/pid`);
      expect(res.statusCode).toBe(200);
      answers.push(await res.body.text());
    }
    expect(answers).not.toContain(broken);
    const log = fs.readFileSync(path.join(instance.registryDir, `ferry.${instance.port}.log`), 'utf8');
    expect(log).toContain('retrying the request on another process');
    // It was taken out and a replacement keeps the minimum.
    await waitFor(() => !isProcessRunning(Number(broken)), 'the broken process to exit');
    const admin = new AdminClient(instance.info, 5000);
    await waitFor(async () => readyCount(await admin.call<PoolResponse>('pool')) === 2, 'two processes again');

    instance.refresh();
    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });

  it("answers 504 past --max-request-time, logs the stuck process's JS stack, and replaces it", async () => {
    instance = await startDaemon(fixture('pid-app'), ['--max-request-time', '1']);
    const stuck = await (await request(`${instance.url}/pid`)).body.text();

    const started = Date.now();
    const res = await request(`${instance.url}/spin?ms=20000`);
    const body = await res.body.text();
    expect(res.statusCode).toBe(504);
    expect(body).toContain('took too long');
    expect(Date.now() - started).toBeLessThan(5000);

    const logFile = path.join(instance.registryDir, `ferry.${instance.port}.log`);
    const line = await waitFor(() => fs.readFileSync(logFile, 'utf8').split('\n').find((l) => l.includes('exceeded max-request-time')), 'the stuck-process log line');
    const record = JSON.parse(line) as { appPid: number; reqId: string; jsStack: string };
    expect(record.appPid).toBe(Number(stuck));
    expect(record.jsStack).toMatch(/at stuckInALoop \(.*pid-app\/app\.js:\d+:\d+\)/);
    expect(body).toContain(`Request id: ${record.reqId}`);
    await waitFor(() => !isProcessRunning(Number(stuck)), 'the stuck process to be killed');
    const next = await request(`${instance.url}/pid`);
    expect(next.statusCode).toBe(200);
    expect(await next.body.text()).not.toBe(stuck);

    instance.refresh();
    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });

  it('drains and replaces a process that grows past --memory-limit', async () => {
    instance = await startDaemon(fixture('pid-app'), ['--memory-limit', '60']);
    const leaky = await (await request(`${instance.url}/leak?mb=80`)).body.text();
    // Checked every 2 s, replaced after 3 checks over the limit (and its heap snapshot): the leaking process goes, and a new one serves.
    await waitFor(() => !isProcessRunning(Number(leaky)), 'the leaking process to be replaced', 30_000);
    const next = await request(`${instance.url}/pid`);
    expect(next.statusCode).toBe(200);
    expect(await next.body.text()).not.toBe(leaky);
    const log = fs.readFileSync(path.join(instance.registryDir, `ferry.${instance.port}.log`), 'utf8');
    expect(log).toContain('over memory-limit');
    instance.refresh();
    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });

  it('gives each process its own max-requests with --max-requests-jitter, shown in ferry status --json', async () => {
    instance = await startDaemon(fixture('pid-app'), ['--min-instances', '4', '--max-pool-size', '4', '--max-requests', '1000', '--max-requests-jitter', '1000']);
    const admin = new AdminClient(instance.info, 5000);
    const limits = (await admin.call<PoolResponse>('pool')).groups[0]!.processes.map((p) => p.maxRequests!);
    expect(limits).toHaveLength(4);
    for (const limit of limits) expect(limit >= 1000 && limit <= 2000, String(limit)).toBe(true);
    // Four draws from 1001 values: all alike would be a one-in-a-billion chance.
    expect(new Set(limits).size).toBeGreaterThan(1);
    instance.refresh();
    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });

  it('restarts the app when tmp/restart.txt is touched', async () => {
    const appDir = copyFixture('pid-app');
    instance = await startDaemon(appDir, ['--rolling-restarts']);
    const before = await (await request(`${instance.url}/pid`)).body.text();
    // No wait: the core took its first look (no file) before it served.

    fs.mkdirSync(path.join(appDir, 'tmp'), { recursive: true });
    fs.writeFileSync(path.join(appDir, 'tmp', 'restart.txt'), '');

    const after = await waitFor(async () => {
      const pid = await (await request(`${instance!.url}/pid`)).body.text();
      return pid !== before ? pid : undefined;
    }, 'a new process after touching restart.txt', 10_000, 100);
    expect(after).not.toBe(before);
    await waitFor(() => !isProcessRunning(Number(before)), 'the old process to exit');
    instance.refresh();
    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });

  it('sends a client with the sticky cookie back to the same process', async () => {
    instance = await startDaemon(fixture('pid-app'), ['--min-instances', '2', '--max-pool-size', '2', '--sticky-sessions']);
    const first = await request(`${instance.url}/pid`);
    const pid = await first.body.text();
    const setCookie = String(first.headers['set-cookie']);
    const match = /^_ferry_route=([0-9a-f]+); Path=\/; HttpOnly; SameSite=Lax$/.exec(setCookie);
    expect(match).not.toBeNull();

    // Concurrent requests would spread over both processes; with the cookie they all stay.
    const withCookie = await Promise.all(
      Array.from({ length: 20 }, async () => (await request(`${instance!.url}/pid`, { headers: { cookie: `a=1; _ferry_route=${match![1]}` } })).body.text()),
    );
    expect(new Set(withCookie)).toEqual(new Set([pid]));
    const without = await Promise.all(Array.from({ length: 20 }, async () => (await request(`${instance!.url}/pid`)).body.text()));
    expect(new Set(without).size).toBe(2);

    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });

  it('takes a process out for the out-of-band work its app asked for, then puts it back', async () => {
    instance = await startDaemon(fixture('pid-app'), ['--min-instances', '2', '--max-pool-size', '2']);
    const res = await request(`${instance.url}/needs-oob`);
    const pid = await res.body.text();
    expect(res.headers['x-ferry-request-oob-work']).toBeUndefined();

    // Meanwhile requests are served by the other process, and none fails.
    const during = await Promise.all(Array.from({ length: 10 }, async () => (await request(`${instance!.url}/pid`)).body.text()));
    expect(during).not.toContain(pid);

    const logFile = path.join(instance.registryDir, `ferry.${instance.port}.log`);
    const done = await waitFor(() => fs.readFileSync(logFile, 'utf8').split('\n').find((l) => l.includes('out-of-band work done')), 'the out-of-band work to finish');
    expect(JSON.parse(done)).toMatchObject({ appPid: Number(pid), status: 200 });
    // Back in rotation: concurrent requests reach it again.
    await waitFor(async () => {
      const pids = await Promise.all(Array.from({ length: 20 }, async () => (await request(`${instance!.url}/pid`)).body.text()));
      return pids.includes(pid);
    }, 'the process to take requests again');
    instance.refresh();
    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });

  it('sends a WebSocket upgrade with the sticky cookie to the process the cookie names', async () => {
    // socket.io polls over plain requests, then upgrades: both must reach the same process.
    instance = await startDaemon(fixture('pid-app'), ['--min-instances', '2', '--max-pool-size', '2', '--sticky-sessions']);
    const first = await request(`${instance.url}/pid`);
    const pid = await first.body.text();
    const cookie = /^_ferry_route=([0-9a-f]+);/.exec(String(first.headers['set-cookie']))![1];
    const upgradePid = async (): Promise<string | undefined> => {
      const exchange = await rawExchange(instance!.port, (socket) => {
        socket.on('data', () => socket.destroy()); // the 101 head is all this test needs
        socket.write(`GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\nCookie: a=1; _ferry_route=${cookie}\r\n\r\n`);
      });
      // Read by hand: parseRawResponse skips 1xx heads, and 101 is the answer here.
      expect(exchange.received).toMatch(/^HTTP\/1\.1 101 /);
      return /\r\nx-pid: *(\d+)\r\n/i.exec(exchange.received)?.[1];
    };
    // Concurrent upgrades would spread over both processes (least busy first) without the cookie.
    const pids = await Promise.all(Array.from({ length: 6 }, upgradePid));
    expect(pids).toEqual(Array(6).fill(pid));
    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });

  it('counts a process doing out-of-band work against --max-pool-size: no third process is spawned', async () => {
    instance = await startDaemon(fixture('pid-app'), ['--min-instances', '2', '--max-pool-size', '2']);
    const admin = new AdminClient(instance.info, 5000);
    const before = (await admin.call<PoolResponse>('pool')).groups[0]!.processes.map((p) => p.pid).sort();
    expect(before).toHaveLength(2);
    const res = await request(`${instance.url}/needs-oob`);
    await res.body.text();

    // While the out-of-band work runs (300 ms) and a while after, the pool never holds more than two.
    const logFile = path.join(instance.registryDir, `ferry.${instance.port}.log`);
    let most = 0;
    const until = Date.now() + 2_000;
    while (Date.now() < until) {
      const group = (await admin.call<PoolResponse>('pool')).groups[0]!;
      most = Math.max(most, group.processes.length + group.spawning);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(fs.readFileSync(logFile, 'utf8')).toContain('out-of-band work done');
    expect(most).toBe(2);
    const after = (await admin.call<PoolResponse>('pool')).groups[0]!.processes;
    expect(after.map((p) => p.pid).sort()).toEqual(before);
    expect(after.every((p) => p.state === 'ready')).toBe(true);
    instance.refresh();
    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });

  it('gives every request a fresh process while tmp/always_restart.txt exists', async () => {
    const appDir = copyFixture('pid-app');
    fs.mkdirSync(path.join(appDir, 'tmp'));
    fs.writeFileSync(path.join(appDir, 'tmp', 'always_restart.txt'), '');
    instance = await startDaemon(appDir);
    const pids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await request(`${instance.url}/pid`);
      expect(res.statusCode).toBe(200);
      pids.push(await res.body.text());
    }
    expect(new Set(pids).size).toBe(3);
    instance.refresh();
    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });

  it('sheds a request that waited longer than --max-request-queue-time with 503', async () => {
    instance = await startDaemon(fixture('pid-app'), ['--max-pool-size', '1', '--concurrency', '1', '--max-request-queue-time', '1']);
    let slowDone = false;
    const slow = request(`${instance.url}/slow?ms=5000`).then(async (res) => {
      const answer = { status: res.statusCode, body: await res.body.text() };
      slowDone = true;
      return answer;
    });
    await instance.requestUnderWay('/slow');
    const started = Date.now();
    const waited = await request(`${instance.url}/pid`);
    const body = await waited.body.text();
    expect(waited.statusCode).toBe(503);
    expect(waited.headers['retry-after']).toBe('1');
    expect(body).toContain('waited too long for a free process');
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    // Shed by its own deadline, not freed by the process: the slow request still holds it.
    expect(slowDone).toBe(false);
    expect(await slow).toEqual({ status: 200, body: 'slow' });
    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });
});
