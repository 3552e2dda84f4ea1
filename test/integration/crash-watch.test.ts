// ferry crash-watch on real processes: a C program compiled here, and a stuck Node app.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { CrashWatchResult } from '../../src/cli/crash-watch.js';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { isProcessRunning } from '../../src/lib/process-groups.js';
import { ROOT, fixture, runFerry, startDaemon, tempDir, waitFor, type TestInstance } from '../helpers/ferry.js';

const build = tempDir('ferry-native-');
const binary = (name: string): string => path.join(build, name);
const children: ChildProcess[] = [];
let instance: TestInstance | undefined;

beforeAll(() => {
  for (const name of ['sleeper', 'crasher']) {
    execFileSync('cc', ['-g', '-O0', '-o', binary(name), path.join(ROOT, 'test/fixtures/native', `${name}.c`)]);
  }
});

afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  instance?.forceCleanup();
  instance = undefined;
});

function start(name: string): ChildProcess {
  const child = spawn(binary(name), [], { stdio: 'ignore' });
  children.push(child);
  return child;
}

const registry = tempDir('ferry-reg-');

describe('ferry crash-watch', () => {
  it('dumps the backtraces of a running process, which keeps running', async () => {
    const child = start('sleeper');
    await new Promise((r) => setTimeout(r, 200));
    const run = await runFerry(registry, ['crash-watch', '--dump', String(child.pid), '--json']);
    expect(run.exitCode, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as CrashWatchResult;
    expect(result.outcome).toBe('dumped');
    expect(result.threads[0]?.frames.map((f) => f.function)).toContain('ferry_sleeping_function');
    expect(isProcessRunning(child.pid as number)).toBe(true);
    const text = await runFerry(registry, ['crash-watch', '--dump', String(child.pid)]);
    expect(text.stdout).toMatch(/#\d+\s+ferry_sleeping_function at .*sleeper\.c:\d+/);
  });

  it('waits for a crash and reports it with a backtrace and exit code 128 + SIGSEGV', async () => {
    const child = start('crasher');
    const run = await runFerry(registry, ['crash-watch', String(child.pid)]);
    expect(run.exitCode).toBe(139);
    expect(run.stdout).toContain(`*** process ${child.pid} crashed with SIGSEGV`);
    expect(run.stdout).toMatch(/#0\s+ferry_crashing_function at .*crasher\.c:\d+/);
  });

  it('runs a command under gdb: a crash is dumped, a normal exit said so', async () => {
    const crash = await runFerry(registry, ['crash-watch', '--', binary('crasher')]);
    expect(crash.exitCode).toBe(139);
    expect(crash.stdout).toContain('ferry_crashing_function');
    const fine = await runFerry(registry, ['crash-watch', '--', '/bin/true']);
    expect(fine.exitCode).toBe(0);
    expect(fine.stdout).toContain('exited normally');
  });

  it('names the function a Ferry-spawned Node app is stuck in', async () => {
    instance = await startDaemon(fixture('pid-app'));
    const pid = await (await request(`${instance.url}/pid`)).body.text();
    void request(`${instance.url}/spin?ms=10000`).then((r) => r.body.text()).catch(() => undefined);
    await instance.requestUnderWay('/spin');
    const run = await runFerry(registry, ['crash-watch', '--dump', pid, '--json']);
    expect(run.exitCode, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as CrashWatchResult;
    expect(result.jsStack?.[0]).toMatchObject({ functionName: 'stuckInALoop' });
    expect(result.jsStack?.[0]?.url).toContain('pid-app/app.js');
    expect(isProcessRunning(Number(pid))).toBe(true);
    instance.refresh();
    await waitFor(async () => (await instance!.stop()).exitCode === 0, 'the instance to stop', 20_000, 500);
  }, 40_000);

  it('says the process is gone (exit 10) and that gdb is missing (exit 8)', async () => {
    const gone = await runFerry(registry, ['crash-watch', '--dump', '4300000']);
    expect(gone.exitCode).toBe(EXIT_CODES.processGone);
    expect(gone.stderr).toContain('Error: no process with pid 4300000');
    const child = start('sleeper');
    const noGdb = await runFerry(registry, ['crash-watch', '--dump', String(child.pid)], { env: { PATH: tempDir('ferry-empty-path-') } });
    expect(noGdb.exitCode).toBe(EXIT_CODES.gdbMissing);
    expect(noGdb.stderr).toContain('gdb is not installed');
    expect(noGdb.stderr).toContain('apt-get install gdb');
  });
});
