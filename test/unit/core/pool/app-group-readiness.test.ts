// AppGroup with a readiness check (--readiness-path): fake processes from the FakeSpawner, each
// "listening" on a real in-process HTTP server on its own unix socket, so the checks are real
// requests over Ferry's upstream client.

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppGroup, type CapacityGate } from '../../../../src/core/pool/app-group.js';
import { Session } from '../../../../src/core/pool/session.js';
import { Logger } from '../../../../src/core/log.js';
import { FakeSpawner } from '../../../../src/core/spawn/fake-spawner.js';
import { hasErrorCode } from '../../../../src/lib/error-codes.js';
import type { AppConfig } from '../../../../src/lib/config.js';
import { TEST_APP } from '../../../helpers/app-config.js';
import { waitFor } from '../../../helpers/ferry.js';

let dir: string;
let lines: string[];
let spawner: FakeSpawner;
let groups: AppGroup[];
let servers: http.Server[];
/** What each fake process answers its readiness checks (any path other than /), by pid (default: 503). */
let answers: Map<number, number>;
/** The readiness requests the servers got. */
let seen: { pid: number; path?: string; host?: string; userAgent?: string }[];

const capacity: CapacityGate = { hasCapacity: () => true };

function newGroup(overrides: Partial<AppConfig> = {}): AppGroup {
  const log = new Logger({ level: 'debug', format: 'json', sink: { write: (line) => lines.push(line) } });
  const group = new AppGroup({ ...TEST_APP, readiness: { path: '/ready', timeoutMs: 5_000 }, ...overrides }, capacity, spawner, log.child({ component: 'pool' }));
  groups.push(group);
  return group;
}

function logged(msg: string): Record<string, unknown>[] {
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.msg === msg);
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-readiness-'));
  lines = [];
  groups = [];
  servers = [];
  answers = new Map();
  seen = [];
  spawner = new FakeSpawner();
  // Each fake process listens on its own socket, answering /ready as `answers` says.
  spawner.addressFor = (_app, pid) => {
    const socketPath = path.join(dir, `${pid}.sock`);
    const server = http.createServer((req, res) => {
      const check = req.url !== '/';
      if (check) seen.push({ pid, path: req.url, host: req.headers.host, userAgent: req.headers['user-agent'] });
      res.statusCode = check ? (answers.get(pid) ?? 503) : 200;
      res.end(String(pid));
    });
    server.listen(socketPath);
    servers.push(server);
    return { socketPath };
  };
});

afterEach(async () => {
  for (const group of groups) {
    const stopped = group.stop(0);
    spawner.exitAll();
    await stopped;
  }
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('AppGroup with a readiness check', () => {
  it('keeps a new process out of rotation, shown as starting with its last answer, until its path answers 2xx', async () => {
    const group = newGroup({ hosts: ['shop.example'] });
    const started = group.start();
    const worker = await waitFor(() => group.workers.find((w) => w.notReady === '503'), 'a check answered 503');

    // Not routable: a request waits, and status says why.
    expect(worker.state).toBe('starting');
    const waiting = group.checkout();
    expect(waiting).toBeInstanceOf(Promise);
    const snapshot = group.inspect();
    expect(snapshot.processes.map((p) => [p.state, p.notReady])).toEqual([['starting', '503']]);
    expect(snapshot.spawning).toBe(0); // it listens: it is listed as a process, not as a spawn
    expect(group.processCount).toBe(1); // but it still holds its place in the pool

    answers.set(worker.pid, 200);
    await started;
    const session = await waiting;
    expect(session).toBeInstanceOf(Session);
    expect(session.worker).toBe(worker);
    session.close();
    expect(worker.state).toBe('ready');
    expect(group.inspect().processes[0]?.notReady).toBeUndefined();
    expect(seen.every((s) => s.path === '/ready' && s.host === 'shop.example' && s.userAgent === 'Ferry-readiness')).toBe(true);
    expect(seen.length).toBeGreaterThan(1);
    expect(logged('app process ready: its readiness check answered 2xx')[0]).toMatchObject({ appPid: worker.pid, path: '/ready' });
  });

  it('fails the spawn at the timeout as one that never listened: the path, the last status and the timeout in the error, a backoff, no crash', async () => {
    const group = newGroup({ readiness: { path: '/nonexistent', timeoutMs: 1_000 } });
    spawner.addressFor = ((make) => (app: AppConfig, pid: number) => {
      answers.set(pid, 404);
      return make(app, pid);
    })(spawner.addressFor);

    const err = await group.start().then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(hasErrorCode(err, 'FERRY_ERR_SPAWN_NOT_READY')).toBe(true);
    expect((err as Error).message).toBe("app 'hello' listened but GET /nonexistent did not answer 2xx within 1s (readiness timeout); last: 404");
    expect(group.lastSpawnError?.code).toBe('FERRY_ERR_SPAWN_NOT_READY');
    expect(group.state).toBe('backoff');
    expect(group.stats.spawnFailures).toBe(1);
    expect(group.stats.crashes).toBe(0);
    // Killed at once (a fake process ignores the signal; a real one is gone).
    expect(group.workers.map((w) => w.state)).toEqual(['stopping']);
    expect(logged('could not spawn app process')[0]).toMatchObject({ err: { code: 'FERRY_ERR_SPAWN_NOT_READY' }, failures: 1 });
  });

  it('fails the spawn of a process that exits while it is not ready yet, without counting a crash', async () => {
    const group = newGroup();
    const started = group.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    const worker = await waitFor(() => group.workers.find((w) => w.notReady === '503'), 'a check answered 503');

    spawner.exit(worker.pid, 3);
    const err = await started;

    expect(hasErrorCode(err, 'FERRY_ERR_SPAWN_EXITED')).toBe(true);
    expect((err as Error).message).toBe("app 'hello' exited with code 3 before it was ready (GET /ready last got 503)");
    expect(group.workers).toEqual([]);
    expect(group.stats.crashes).toBe(0);
    expect(logged('app process exited unexpectedly')).toEqual([]);
  });

  it('stops a rolling restart whose new process never gets ready, keeping the old one in rotation, and says why', async () => {
    const group = newGroup({ readiness: { path: '/ready', timeoutMs: 1_000 } });
    const first = group.start();
    const old = await waitFor(() => group.workers[0], 'the first process');
    answers.set(old.pid, 200);
    await first;

    group.restart(true);
    const failed = await waitFor(() => group.inspect().restart?.failed, 'the restart to fail', 5_000);

    expect(failed).toBe("app 'hello' listened but GET /ready did not answer 2xx within 1s (readiness timeout); last: 503");
    expect(group.workers.filter((w) => w.state === 'ready')).toEqual([old]);
    const session = group.checkout() as Session;
    expect(session.worker).toBe(old);
    session.close();
    expect(logged('rolling restart stopped: a new process failed to start; the old processes keep serving')[0]).toMatchObject({ reason: failed, keptPids: [old.pid] });
  });

  it('lets a stop end the wait: the starting process is stopped, and no spawn failure is reported', async () => {
    const group = newGroup();
    const started = group.start();
    const worker = await waitFor(() => group.workers.find((w) => w.notReady === '503'), 'a check answered 503');

    const stopped = group.stop(Date.now() + 1_000);
    expect(worker.state).toBe('stopping');
    spawner.exit(worker.pid, 0, 'SIGTERM');
    await stopped;
    await started;

    expect(group.lastSpawnError).toBeUndefined();
    expect(logged('could not spawn app process')).toEqual([]);
  });
});
