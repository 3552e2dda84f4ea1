// --readiness-path against real instances: a new process enters rotation only once the path
// answers 2xx (ferry start waits for it, a restart's new process gets no request before), a
// rolling restart whose new process never gets ready keeps the old one and says why, and a path
// that 404s fails the spawn with a message that names it.

import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import type { PoolResponse } from '../../src/lib/admin-api-contract.js';
import { isProcessRunning } from '../../src/lib/process-groups.js';
import { copyFixture, daemonLogLines, errorLineOf, fixture, freePort, processesMentioning, runFerry, startDaemon, stopCleanly, tempDir, waitFor, type TestInstance } from '../helpers/ferry.js';

let instance: TestInstance | undefined;

afterEach(() => {
  instance?.forceCleanup();
  instance = undefined;
});

async function pool(inst: TestInstance): Promise<PoolResponse> {
  const run = await runFerry(inst.registryDir, ['status', '--json']);
  expect(run.exitCode, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as PoolResponse;
}

async function pidAnswering(url: string): Promise<string> {
  const res = await fetch(`${url}/`);
  expect(res.status).toBe(200);
  return res.text();
}

describe('--readiness-path', () => {
  it('waits at start until the path answers 2xx, and keeps a restarted process out of rotation until then', async () => {
    // Given an app whose /ready answers 503 for its first 1.5 s, started with a readiness check,
    const started = Date.now();
    instance = await startDaemon(fixture('ready-app'), ['--readiness-path', '/ready', '--envvar', 'READY_AFTER_MS=1500']);

    // then ferry start returned only once the process was ready, checked with Ferry's User-Agent,
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    const first = (await pool(instance)).groups[0]!.processes;
    expect(first.map((p) => p.state)).toEqual(['ready']);
    const oldPid = await pidAnswering(instance.url);
    expect(oldPid).toBe(String(first[0]!.pid));
    const checks = (await (await fetch(`${instance.url}/checks`)).json()) as { count: number; userAgent: string; host: string };
    expect(checks).toMatchObject({ userAgent: 'Ferry-readiness', host: 'localhost' });
    expect(checks.count).toBeGreaterThan(1);

    // when a rolling restart spawns its replacement,
    const restart = await runFerry(instance.registryDir, ['restart-app', '--rolling']);
    expect(restart.exitCode, restart.stderr).toBe(0);

    // then status shows the new process starting and why it is not ready, and meanwhile every
    // request is answered by the old process;
    const starting = await waitFor(async () => (await pool(instance!)).groups[0]!.processes.find((p) => p.state === 'starting' && p.notReady === '503'), 'a starting process that got 503');
    const text = await runFerry(instance.registryDir, ['status']);
    expect(text.stdout).toContain(`PID: ${starting.pid}`);
    expect(text.stdout).toContain('Starting (not ready: 503)...');
    const answers: string[] = [];
    while ((await pool(instance)).groups[0]!.processes.some((p) => p.pid === starting.pid && p.state === 'starting')) answers.push(await pidAnswering(instance.url));
    expect(answers.length).toBeGreaterThan(0);
    expect(new Set(answers)).toEqual(new Set([oldPid]));

    // once it is ready, it serves and the old one is gone.
    await waitFor(async () => (await pidAnswering(instance!.url)) === String(starting.pid), 'the new process serving');
    await waitFor(async () => (await pool(instance!)).groups[0]!.processes.every((p) => p.pid === starting.pid), 'the old process gone');
    await stopCleanly(instance);
  }, 60_000);

  it('stops a rolling restart whose new process never gets ready, keeps the old process serving and says why', async () => {
    // Given an app serving with a readiness check,
    const appDir = copyFixture('ready-app');
    instance = await startDaemon(appDir, ['--readiness-path', '/ready', '--readiness-timeout', '2', '--envvar', 'READY_AFTER_MS=0']);
    const oldPid = await pidAnswering(instance.url);

    // when its next release never answers /ready with 2xx and a rolling restart waits for it,
    fs.writeFileSync(path.join(appDir, 'NEVER_READY'), '');
    const restart = await runFerry(instance.registryDir, ['restart-app', '--rolling', '--wait']);

    // then the restart fails with the readiness failure's reason, the old process keeps serving,
    expect(restart.exitCode, restart.stderr).toBe(EXIT_CODES.failed);
    expect(errorLineOf(restart)).toBe("restart of 'ready-app' failed: app 'ready-app' listened but GET /ready did not answer 2xx within 2s (readiness timeout); last: 503");
    expect(restart.stderr).toContain('The old processes keep serving.');
    expect(await pidAnswering(instance.url)).toBe(oldPid);
    const group = (await pool(instance)).groups[0]!;
    expect(group.processes.map((p) => [p.pid, p.state])).toEqual([[Number(oldPid), 'ready']]);
    expect(group.restart?.failed).toContain('GET /ready did not answer 2xx within 2s');

    // and the log says so too.
    const stopped = daemonLogLines(instance).find((l) => l.msg.startsWith('rolling restart stopped'));
    expect(stopped?.reason).toContain('last: 503');
    expect(stopped?.keptPids).toEqual([Number(oldPid)]);
    await stopCleanly(instance);
  }, 60_000);

  it('does not let a new core adopt a process that was not ready when the old core died', async () => {
    // Given a serving app whose restart's new process waits for a readiness check that never passes,
    const appDir = copyFixture('ready-app');
    instance = await startDaemon(appDir, ['--readiness-path', '/ready', '--readiness-timeout', '60', '--envvar', 'READY_AFTER_MS=0']);
    const oldPid = await pidAnswering(instance.url);
    fs.writeFileSync(path.join(appDir, 'NEVER_READY'), '');
    expect((await runFerry(instance.registryDir, ['restart-app', '--rolling'])).exitCode).toBe(0);
    const starting = await waitFor(async () => (await pool(instance!)).groups[0]!.processes.find((p) => p.state === 'starting'), 'a starting process');
    instance.remember([starting.pid]);

    // when the core is killed meanwhile and the watchdog starts a new one,
    const oldCore = instance.info.properties.core_pid as number;
    process.kill(oldCore, 'SIGKILL');
    await waitFor(() => {
      const core = instance!.refresh().properties.core_pid;
      return core !== undefined && core !== oldCore;
    }, 'a new core');

    // then the new core adopts the old process only, stops the unready one, and serves on.
    await waitFor(() => !isProcessRunning(starting.pid), 'the unready process gone');
    const group = await waitFor(async () => (await pool(instance!)).groups[0], 'the new core answering');
    expect(group.processes.map((p) => [p.pid, p.state])).toEqual([[Number(oldPid), 'ready']]);
    expect(await pidAnswering(instance.url)).toBe(oldPid);
    const discarded = daemonLogLines(instance).find((l) => l.msg.startsWith('not adopting an app process') && l.appPid === starting.pid);
    expect(discarded?.reason).toBe("its readiness check had not answered 2xx yet");
    await stopCleanly(instance);
  }, 60_000);

  it('fails ferry start when the path answers 404 until the timeout, naming the path, and leaves nothing running', async () => {
    const registryDir = tempDir('ferry-reg-');
    const port = await freePort();

    const run = await runFerry(registryDir, ['start', fixture('ready-app'), '--daemonize', '--port', String(port), '--log-file', path.join(registryDir, 'ferry.log'), '--readiness-path', '/nonexistent', '--readiness-timeout', '1']);

    expect(run.exitCode, run.stderr).toBe(EXIT_CODES.appStartFailed);
    expect(errorLineOf(run)).toBe("app 'ready-app' listened but GET /nonexistent did not answer 2xx within 1s (readiness timeout); last: 404");
    expect(run.stderr).toContain('--readiness-timeout');
    expect(processesMentioning(registryDir)).toEqual([]);
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
  }, 60_000);

  it('refuses --readiness-path with --direct, before anything starts', async () => {
    const registryDir = tempDir('ferry-reg-');
    const run = await runFerry(registryDir, ['start', fixture('ready-app'), '--port', String(await freePort()), '--direct', '--readiness-path', '/ready']);

    expect(run.exitCode).toBe(EXIT_CODES.usage);
    expect(errorLineOf(run)).toMatch(/^--direct and --readiness-path do not go together/);
    expect(processesMentioning(registryDir)).toEqual([]);
  });
});
