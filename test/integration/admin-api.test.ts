// The admin API of a real instance: file modes of the socket and tokens, token checks, no admin
// routes on the public port, other users kept out, the CLI client's transport errors, and the
// request tracker's view of real traffic.

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/cli/admin-client.js';
import type { CliError } from '../../src/cli/errors.js';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { ADMIN_FILES, type ErrorBody, type PingResponse, type PoolResponse, type RequestsResponse, type ServerResponse } from '../../src/lib/admin-api-contract.js';
import type { InstanceInfo } from '../../src/lib/instance-registry.js';
import { fixture, liveInstances, startDaemon, tempDir, waitFor, type TestInstance } from '../helpers/ferry.js';

const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;

let instance: TestInstance | undefined;
const cleanups: (() => void)[] = [];

afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  if (instance) {
    instance.refresh(); // remembers app processes spawned since the start, to kill them too
    instance.forceCleanup();
    fs.rmSync(instance.registryDir, { recursive: true, force: true });
  }
  instance = undefined;
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** One request with a fresh connection: over the admin socket when `socketPath` is set, else to `url`. */
function httpCall(target: { socketPath: string } | { url: string }, method: string, urlPath: string, token?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = token === undefined ? {} : { authorization: `Bearer ${token}` };
    const where = 'socketPath' in target ? { socketPath: target.socketPath } : { host: new URL(target.url).hostname, port: Number(new URL(target.url).port) };
    const req = http.request({ ...where, method, path: urlPath, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function adminSocket(info: InstanceInfo): { socketPath: string } {
  return { socketPath: path.join(info.dir, ADMIN_FILES.socket) };
}

function readToken(info: InstanceInfo, which: 'readOnlyToken' | 'fullToken'): string {
  return fs.readFileSync(path.join(info.dir, ADMIN_FILES[which]), 'utf8').trim();
}

/** GET on the admin socket with the read-only token; fails the test on anything but 200. */
async function adminGet<T>(info: InstanceInfo, urlPath: string): Promise<T> {
  const answer = await httpCall(adminSocket(info), 'GET', urlPath, readToken(info, 'readOnlyToken'));
  expect(answer.status, answer.text).toBe(200);
  return JSON.parse(answer.text) as T;
}

function modeOf(file: string): number {
  return fs.statSync(file).mode & 0o777;
}

/** Runs `node -e script` as uid/gid 65534 and returns what it printed. */
function runAsNobody(script: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script, ...args], { uid: NOBODY, gid: NOBODY, cwd: '/', timeout: 10_000, env: { PATH: process.env.PATH ?? '' } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}`));
      else resolve(stdout.trim());
    });
  });
}

/** Tries to connect to a unix socket; prints 'connected' or the error code. */
const CONNECT_SCRIPT = `
const net = require('node:net');
const socket = net.connect(process.argv[1]);
socket.on('connect', () => { console.log('connected'); socket.destroy(); });
socket.on('error', (err) => console.log(err.code));
`;

/** Tries to read each file; prints one line per file: 'read' or the error code. */
const READ_SCRIPT = `
const fs = require('node:fs');
for (const file of process.argv.slice(1)) {
  try { fs.readFileSync(file); console.log('read'); } catch (err) { console.log(err.code); }
}
`;

async function expectCliError(promise: Promise<unknown>): Promise<CliError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e as CliError,
  );
  expect(err, 'the call should have failed').toBeDefined();
  return err as CliError;
}

describe('admin API of a real instance', () => {
  it('keeps the instance directory 0700 and the admin socket and both tokens 0600', async () => {
    instance = await startDaemon(fixture('pid-app'));
    const { dir } = instance.info;
    expect(modeOf(dir).toString(8)).toBe('700');
    expect(fs.statSync(path.join(dir, ADMIN_FILES.socket)).isSocket()).toBe(true);
    expect(modeOf(path.join(dir, ADMIN_FILES.socket)).toString(8)).toBe('600');
    expect(modeOf(path.join(dir, ADMIN_FILES.readOnlyToken)).toString(8)).toBe('600');
    expect(modeOf(path.join(dir, ADMIN_FILES.fullToken)).toString(8)).toBe('600');
  });

  it('answers on its socket with the token from the file and refuses a wrong one', async () => {
    instance = await startDaemon(fixture('pid-app'));
    const info = instance.info;
    const ping = await adminGet<PingResponse>(info, '/v1/ping');
    expect(ping).toMatchObject({ status: 'ok', instance: info.name, corePid: info.properties.core_pid });

    const full = await httpCall(adminSocket(info), 'GET', '/v1/pool', readToken(info, 'fullToken'));
    expect(full.status).toBe(200);
    expect((JSON.parse(full.text) as PoolResponse).groups[0]?.processes).toHaveLength(1);

    const wrong = await httpCall(adminSocket(info), 'GET', '/v1/pool', 'x'.repeat(32));
    expect(wrong.status).toBe(401);
    expect((JSON.parse(wrong.text) as ErrorBody).error.code).toBe('FERRY_ERR_ADMIN_UNAUTHORIZED');
    expect((await httpCall(adminSocket(info), 'GET', '/v1/pool')).status).toBe(401);

    // The read-only token cannot change anything, even on a real instance.
    const restart = await httpCall(adminSocket(info), 'POST', '/v1/apps/pid-app/restart', readToken(info, 'readOnlyToken'));
    expect(restart.status).toBe(403);
  });

  it('does not expose the admin API on the public port: the request goes to the app', async () => {
    instance = await startDaemon(fixture('pid-app'));
    const answer = await httpCall({ url: instance.url }, 'GET', '/v1/pool', readToken(instance.info, 'fullToken'));
    expect(answer.status).toBe(200);
    expect(answer.text).toBe('hello');
    expect(answer.headers['content-type'] ?? '').not.toMatch(/json/);
  });

  it.runIf(isRoot)('keeps another user out: the 0700 directory refuses the socket and the token files', async () => {
    // Given an instance whose registry directory anyone may enter, so only the instance directory guards it,
    instance = await startDaemon(fixture('pid-app'));
    fs.chmodSync(instance.registryDir, 0o755);
    const { dir } = instance.info;
    const socketPath = path.join(dir, ADMIN_FILES.socket);
    const tokens = [path.join(dir, ADMIN_FILES.readOnlyToken), path.join(dir, ADMIN_FILES.fullToken)];

    // uid 65534 cannot connect to the socket (it never gets as far as needing a token)
    expect(await runAsNobody(CONNECT_SCRIPT, [socketPath])).toBe('EACCES');
    // nor read either token;
    expect((await runAsNobody(READ_SCRIPT, tokens)).split('\n')).toEqual(['EACCES', 'EACCES']);

    // and even with the directory opened up, the 0600 socket and tokens still refuse it.
    fs.chmodSync(dir, 0o711);
    cleanups.push(() => fs.existsSync(dir) && fs.chmodSync(dir, 0o700));
    expect(await runAsNobody(CONNECT_SCRIPT, [socketPath])).toBe('EACCES');
    expect((await runAsNobody(READ_SCRIPT, tokens)).split('\n')).toEqual(['EACCES', 'EACCES']);
  });

  it('makes the CLI client report a missing admin socket as not running (exit 3)', async () => {
    // Given an instance directory that has its tokens but no admin socket,
    instance = await startDaemon(fixture('pid-app'));
    const info = liveInstances(instance.registryDir)[0] as InstanceInfo;
    const copy = tempDir('ferry-admin-nosock-');
    cleanups.push(() => fs.rmSync(copy, { recursive: true, force: true }));
    for (const file of [ADMIN_FILES.readOnlyToken, ADMIN_FILES.fullToken]) fs.copyFileSync(path.join(info.dir, file), path.join(copy, file));

    const err = await expectCliError(new AdminClient({ ...info, dir: copy }, 1000).call('ping'));
    expect(err.code).toBe('FERRY_ERR_INSTANCE_NOT_RUNNING');
    expect(err.exitCode).toBe(EXIT_CODES.notRunning);
    expect(err.exitCode).toBe(3);
    expect(err.message).toMatch(/not running \(ENOENT\)/);
  });

  it('makes the CLI client report a stopped instance as not running (exit 3)', async () => {
    instance = await startDaemon(fixture('pid-app'));
    const info = liveInstances(instance.registryDir)[0] as InstanceInfo;
    expect((await instance.stop()).exitCode).toBe(0);

    const err = await expectCliError(new AdminClient(info, 1000).call('ping'));
    expect(err.code).toBe('FERRY_ERR_INSTANCE_NOT_RUNNING');
    expect(err.exitCode).toBe(3);
  });

  it('makes the CLI client report a core that does not answer as not responding (exit 4)', async () => {
    // Given a live instance whose core is frozen with SIGSTOP,
    instance = await startDaemon(fixture('pid-app'));
    const info = liveInstances(instance.registryDir)[0] as InstanceInfo;
    const client = new AdminClient(info, 1000);
    expect(await client.call<PingResponse>('ping')).toMatchObject({ status: 'ok' });
    const corePid = info.properties.core_pid as number;
    process.kill(corePid, 'SIGSTOP');
    let err: CliError;
    const startedAt = Date.now();
    try {
      // a call with a 1 s timeout fails with FERRY_ERR_CORE_NOT_RESPONDING,
      err = await expectCliError(client.call('ping'));
    } finally {
      process.kill(corePid, 'SIGCONT');
    }
    expect(err.code).toBe('FERRY_ERR_CORE_NOT_RESPONDING');
    expect(err.exitCode).toBe(EXIT_CODES.notResponding);
    expect(err.exitCode).toBe(4);
    expect(Date.now() - startedAt).toBeLessThan(5000);

    // and once the core runs again, it answers.
    expect(await client.call<PingResponse>('ping')).toMatchObject({ status: 'ok', corePid });
  });

  it('lists a slow request while the app works on it, and forgets it once answered', async () => {
    // Given an instance with one app process,
    instance = await startDaemon(fixture('pid-app'));
    const info = instance.info;
    const pool = await adminGet<PoolResponse>(info, '/v1/pool');
    const workerPid = pool.groups[0]?.processes[0]?.pid;
    expect(workerPid).toBeGreaterThan(0);

    // when a request takes 3 s in the app,
    const slow = httpCall({ url: instance.url }, 'GET', '/slow?ms=3000');
    const listed = await waitFor(async () => (await adminGet<RequestsResponse>(info, '/v1/requests')).requests.find((r) => r.path.startsWith('/slow')), 'the slow request in /v1/requests');

    // then /v1/requests shows it as forwarded to that process,
    expect(listed).toMatchObject({ method: 'GET', path: '/slow?ms=3000', app: pool.groups[0]?.name, pid: workerPid, state: 'forwarding' });
    expect(listed.id).toMatch(/\S/);
    expect(listed.ageMs).toBeGreaterThanOrEqual(0);
    expect(listed.ageMs).toBeLessThan(3000);

    // and once answered it is gone.
    expect((await slow).text).toBe('slow');
    await waitFor(async () => (await adminGet<RequestsResponse>(info, '/v1/requests')).requests.length === 0, 'an empty /v1/requests');
  });

  it('counts requests and accepted connections in /v1/server', async () => {
    instance = await startDaemon(fixture('pid-app'));
    const info = instance.info;
    const before = await adminGet<ServerResponse>(info, '/v1/server');
    expect(before).toMatchObject({ instance: info.name, corePid: info.properties.core_pid, addresses: [`${instance.url}/`] });

    // Five requests, each on its own connection.
    const N = 5;
    for (let i = 0; i < N; i++) expect((await httpCall({ url: instance.url }, 'GET', '/pid')).status).toBe(200);

    const after = await waitFor(async () => {
      const server = await adminGet<ServerResponse>(info, '/v1/server');
      return server.requests.inFlight === 0 && server.connections.active === 0 ? server : undefined;
    }, 'no request or connection left in flight');
    expect(after.requests.total - before.requests.total).toBe(N);
    expect(after.connections.accepted - before.connections.accepted).toBe(N);
    expect(after.requests.failed).toEqual(before.requests.failed);
  });

  it('counts a 502 when the app dies before answering', async () => {
    instance = await startDaemon(fixture('pid-app'));
    const info = instance.info;
    const before = await adminGet<ServerResponse>(info, '/v1/server');
    expect(before.requests.failed).toEqual({ '502': 0, '503': 0, '504': 0 });

    const answer = await httpCall({ url: instance.url }, 'GET', '/die-before-answer');
    expect(answer.status).toBe(502);

    const after = await waitFor(async () => {
      const server = await adminGet<ServerResponse>(info, '/v1/server');
      return server.requests.failed['502'] === 1 ? server : undefined;
    }, "failed['502'] to reach 1");
    expect(after.requests.failed).toEqual({ '502': 1, '503': 0, '504': 0 });
    // The pool replaces the process that died; the next request is served.
    expect((await httpCall({ url: instance.url }, 'GET', '/')).text).toBe('hello');
  });
});
