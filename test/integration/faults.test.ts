// Fault injection end to end: a bad FERRY_FAULTS stops `ferry start` with a clear message and
// nothing left running; each point, set to always fail, does what the README says, is logged
// with `fault: <point>`, and never takes the core down.

import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { isProcessRunning } from '../../src/lib/process-groups.js';
import { daemonLogLines, fixture, freePort, liveInstances, type LogLine, processesMentioning, removeScratch, runFerry, startDaemon, stopCleanly, tempDir, type TestInstance, waitFor } from '../helpers/ferry.js';
import { parseRawResponse, rawExchange } from '../helpers/raw-http.js';

let instance: TestInstance | undefined;
const roots: string[] = [];

afterEach(() => {
  instance?.forceCleanup();
  instance = undefined;
  for (const root of roots.splice(0)) {
    removeScratch(root);
  }
});

/** A private registry for one test, so every process the test starts can be found by its path. */
function registry(): string {
  const root = tempDir('ferry-faults-');
  roots.push(root);
  return root;
}


function faultsLogged(inst: TestInstance, point: string): LogLine[] {
  return daemonLogLines(inst).filter((l) => l.fault === point);
}

async function get(inst: TestInstance, urlPath: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const res = await request(`${inst.url}${urlPath}`, { headersTimeout: 20_000, bodyTimeout: 20_000 });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

/** Ferry's own error answer: this status, and a request id in the header that the body repeats. */
function expectErrorAnswer(res: { status: number; headers: Record<string, string | string[] | undefined>; body: string }, status: number): void {
  expect(res.status).toBe(status);
  const id = res.headers['x-request-id'];
  expect(typeof id).toBe('string');
  expect(res.body).toContain(`Request id: ${id as string}`);
}

/** Stops the instance; nothing it started (core, apps, anything they spawned) may survive. */
describe('FERRY_FAULTS at start', () => {
  it.each([
    ['an unknown point', 'spwan=0.2', {}, 'FERRY_FAULTS: unknown fault point "spwan" in "spwan=0.2" (known points: spawn, upstream-connect, accept, fs-write)'],
    ['a probability above 1', 'spawn=0.2,accept=1.5', {}, 'FERRY_FAULTS: "accept=1.5" has a bad probability "1.5" (give a number from 0 to 1, like accept=0.05)'],
    ['a seed that is not a number', 'spawn=0.2', { FERRY_FAULTS_SEED: 'abc' }, 'FERRY_FAULTS_SEED: "abc" is not a whole number'],
  ])('refuses %s with a clear message, exit code 2 and nothing left running', async (_what, faults, extraEnv, message) => {
    const reg = registry();
    const run = await runFerry(reg, ['start', fixture('pid-app'), '--port', String(await freePort())], { env: { FERRY_FAULTS: faults, ...extraEnv } });

    expect(run.exitCode).toBe(EXIT_CODES.usage);
    expect(run.stderr.split('\n')[0]).toBe(`Error: ${message}`);
    expect(run.stderr).toContain('point=probability');
    // Before liveInstances: scanning the registry removes stale directories and would hide them.
    expect(fs.readdirSync(reg).filter((e) => e.startsWith('ferry.') && fs.statSync(path.join(reg, e)).isDirectory())).toEqual([]);
    expect(liveInstances(reg)).toEqual([]);
    expect(processesMentioning(reg)).toEqual([]);
  });
});

describe('FERRY_FAULTS on its way', () => {
  it('reaches the core from the environment of ferry start, and never the app processes', async () => {
    instance = await startDaemon(fixture('env-app'), [], registry(), { env: { FERRY_FAULTS: 'spawn=0.5', FERRY_FAULTS_SEED: '3' } });

    const env = JSON.parse((await get(instance, '/')).body) as Record<string, string | undefined>;

    expect(env.IN_FERRY).toBe('1');
    expect(env.FERRY_FAULTS).toBeUndefined();
    expect(env.FERRY_FAULTS_SEED).toBeUndefined();
    const announced = await waitFor(() => daemonLogLines(instance!).find((l) => l.msg.startsWith('fault injection is on')), 'the core to announce its faults');
    expect(announced).toMatchObject({ component: 'core', faults: { spawn: 0.5 }, faultsSeed: 3, seedChosen: false });
    await stopCleanly(instance);
  });
});

describe('each fault point, always failing', () => {
  it('accept: the first request of every connection gets 503 with Retry-After and a request id, and the connection closes', async () => {
    instance = await startDaemon(fixture('pid-app'), [], registry(), { env: { FERRY_FAULTS: 'accept=1', FERRY_FAULTS_SEED: '1' } });
    const corePid = instance.info.properties.core_pid as number;

    const exchanges = await Promise.all(
      [
        'GET /pid HTTP/1.1\r\nHost: x\r\n\r\nGET /pid HTTP/1.1\r\nHost: x\r\n\r\n', // two pipelined: only one answer
        'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n', // an Upgrade request too
        'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello',
      ].map((text) => rawExchange(instance!.port, (s) => s.write(text))),
    );
    for (const exchange of exchanges) {
      expect(exchange.timedOut).toBe(false); // closed by the server, never left hanging
      const response = parseRawResponse(exchange.received);
      expect(response?.status).toBe(503);
      expect(response?.headers['retry-after']).toBe('1');
      expect(response?.headers.connection).toBe('close');
      expect(response?.body).toContain(`Request id: ${response?.headers['x-request-id']}`);
      expect(exchange.received.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    }

    const viaClient = await get(instance, '/pid');
    expectErrorAnswer(viaClient, 503);
    expect(viaClient.body).toContain('injected fault: accept');
    await waitFor(() => faultsLogged(instance!, 'accept').length >= 4, 'the faults in the log');
    expect(faultsLogged(instance, 'accept')).toHaveLength(4);
    expect(faultsLogged(instance, 'accept').every((l) => l.level === 40)).toBe(true);
    // The pipelined request behind the refused one is not left in flight for ever.
    await waitFor(async () => {
      const status = await runFerry(instance!.registryDir, ['status', '--show=requests', '--json', '--instance', instance!.info.name]);
      return (JSON.parse(status.stdout) as { requests: unknown[] }).requests.length === 0;
    }, 'no request left in flight', 5_000);
    expect(isProcessRunning(corePid)).toBe(true);
    await stopCleanly(instance);
  });

  it('upstream-connect: a request is tried on 3 processes, each refusing, then gets 502 with a request id', async () => {
    instance = await startDaemon(fixture('pid-app'), [], registry(), { env: { FERRY_FAULTS: 'upstream-connect=1' } });
    const corePid = instance.info.properties.core_pid as number;

    expectErrorAnswer(await get(instance, '/pid'), 502);

    await waitFor(() => daemonLogLines(instance!).some((l) => l.msg === 'app process failed during a request'), 'the 502 in the log');
    expect(faultsLogged(instance, 'upstream-connect')).toHaveLength(3);
    // Refused connections go through the usual path: each process is taken out and replaced.
    expect(daemonLogLines(instance).filter((l) => l.msg === 'detaching app process')).toHaveLength(2);
    expect(isProcessRunning(corePid)).toBe(true);
    // The seed was chosen, and logged when the core started.
    const announced = daemonLogLines(instance).find((l) => l.msg.startsWith('fault injection is on'));
    expect(announced).toMatchObject({ level: 40, faults: { 'upstream-connect': 1 }, seedChosen: true, faultsSeed: expect.any(Number) });
    await stopCleanly(instance);
  });

  it('spawn: a replacement that cannot start goes through the usual spawn error and backoff, and requests get 503', async () => {
    instance = await startDaemon(fixture('pid-app'), ['--environment', 'production'], registry(), { env: { FERRY_FAULTS: 'spawn=1', FERRY_FAULTS_SEED: '5' } });
    const corePid = instance.info.properties.core_pid as number;
    // Start-up is never failed on purpose: the instance came up with its process.
    const first = await get(instance, '/pid');
    expect(first.status).toBe(200);
    instance.remember([Number(first.body)]);

    await get(instance, '/exit'); // the process exits; its replacement "exits before ready"
    const refused = await waitFor(async () => {
      const res = await get(instance!, '/pid');
      return res.status === 503 ? res : undefined;
    }, 'a 503 while the app cannot be started');

    expectErrorAnswer(refused, 503);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // The core writes its log asynchronously: the line may land just after the answer.
    const spawnErrors = await waitFor(() => {
      const found = daemonLogLines(instance!).filter((l) => l.msg === 'could not spawn app process');
      return found.length > 0 ? found : undefined;
    }, 'the spawn error in the log');
    expect(spawnErrors[0]).toMatchObject({ category: 'exited-before-ready', retryInMs: expect.any(Number) });
    expect(String((spawnErrors[0]?.err as { message: string }).message)).toContain('injected fault (FERRY_FAULTS spawn)');
    expect(spawnErrors.every((l) => String((l.err as { message: string }).message).includes('injected fault'))).toBe(true);
    expect(faultsLogged(instance, 'spawn').length).toBeGreaterThanOrEqual(spawnErrors.length);
    expect(isProcessRunning(corePid)).toBe(true);
    await stopCleanly(instance);
  });

  it('fs-write: failed record writes stop the spawn (the process is not left running) and never crash the core', async () => {
    instance = await startDaemon(fixture('pid-app'), ['--environment', 'production'], registry(), { env: { FERRY_FAULTS: 'fs-write=1' } });
    const corePid = instance.info.properties.core_pid as number;
    const firstPid = Number((await get(instance, '/pid')).body);
    instance.remember([firstPid]);

    await get(instance, '/exit');
    await waitFor(async () => (await get(instance!, '/pid')).status === 503, 'a 503 while no process can be recorded');

    // The core writes its log asynchronously, and the two lines come in either order (the exited
    // process is forgotten 50 ms after its exit, its replacement may fail to spawn before that).
    const lines = await waitFor(() => {
      const all = daemonLogLines(instance!);
      const both = all.some((l) => l.msg === 'could not spawn app process') && all.some((l) => l.msg.startsWith('could not remove the record of an exited app process'));
      return both ? all : undefined;
    }, 'the spawn error and the failed record removal in the log');
    // The exited process's record could not be removed: logged, kept for a retry.
    expect(lines.find((l) => l.msg.startsWith('could not remove the record of an exited app process'))).toMatchObject({ appPid: firstPid, level: 40 });
    // Its replacement could not be recorded: killed, and reported as a spawn error.
    const spawnError = lines.find((l) => l.msg === 'could not spawn app process');
    expect(spawnError).toMatchObject({ category: 'internal' });
    expect(String((spawnError?.err as { message: string }).message)).toContain('could not record the process in the instance directory: EIO');
    expect(faultsLogged(instance, 'fs-write').length).toBeGreaterThanOrEqual(2);
    expect(isProcessRunning(corePid)).toBe(true);
    await stopCleanly(instance);
  });
});
