// "Other local users reach nothing: no open inspector." Node's inspector has no authentication:
// whoever connects to its loopback port runs code as the app's user. crash-watch and the core
// open it (SIGUSR1) only for the moment of a JS stack; afterwards nothing accepts on its port,
// whether the process was busy in a loop or idle, CommonJS or an ES module, Ferry's or not.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { CrashWatchResult } from '../../src/cli/crash-watch.js';
import { isProcessRunning } from '../../src/lib/process-groups.js';
import { acceptsConnections, expectInspectorClosed, INSPECTOR_PORT } from '../helpers/inspector.js';
import { daemonLogLines, fixture, processesMentioning, runFerry, startDaemon, tempDir, waitFor, type TestInstance } from '../helpers/ferry.js';

let instance: TestInstance | undefined;
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }
  instance?.forceCleanup();
  instance = undefined;
});

/** Ports an app process's inspector opened on, from its stderr lines in the instance log. */
function inspectorPortsInLog(inst: TestInstance, pid: number): number[] {
  return daemonLogLines(inst)
    .filter((line) => line.pid === pid || line.appPid === pid)
    .map((line) => INSPECTOR_PORT.exec(line.msg)?.[1])
    .filter((port): port is string => port !== undefined)
    .map(Number);
}

/** A Node process outside Ferry, its inspector port free (no fixed 9229 shared with other tests). */
function startNode(args: string[]): { child: ChildProcess; port: () => number | undefined } {
  const child = spawn(process.execPath, ['--inspect-port=127.0.0.1:0', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += String(chunk)));
  return { child, port: () => Number(INSPECTOR_PORT.exec(stderr)?.[1]) || undefined };
}

const registry = tempDir('ferry-reg-');

describe('the Node inspector is closed again', () => {
  it('after crash-watch --dump of a Ferry app stuck in a busy loop, which keeps running', async () => {
    instance = await startDaemon(fixture('pid-app'));
    const pid = Number(await (await request(`${instance.url}/pid`)).body.text());
    void request(`${instance.url}/spin?ms=8000`).then((r) => r.body.text()).catch(() => undefined);
    await instance.requestUnderWay('/spin');

    const run = await runFerry(registry, ['crash-watch', '--dump', String(pid), '--json']);
    expect(run.exitCode, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as CrashWatchResult;
    expect(result.jsStack?.[0]).toMatchObject({ functionName: 'stuckInALoop' });
    const [port] = await waitFor(() => (inspectorPortsInLog(instance!, pid).length > 0 ? inspectorPortsInLog(instance!, pid) : undefined), "the app's inspector line in the log");
    await expectInspectorClosed(port!, pid);
    expect(result.inspector).toEqual({ port, closed: true });
    expect(isProcessRunning(pid)).toBe(true);

    instance.refresh();
    await waitFor(async () => (await instance!.stop()).exitCode === 0, 'the instance to stop', 20_000, 500);
    expect(instance.survivors()).toEqual([]);
  }, 40_000);

  it('after crash-watch --dump of an idle Ferry app; a stuck request past --max-request-time still gets its JS stack logged, and that closes it too', async () => {
    instance = await startDaemon(fixture('pid-app'), ['--max-request-time', '2']);
    const pid = Number(await (await request(`${instance.url}/pid`)).body.text());

    const run = await runFerry(registry, ['crash-watch', '--dump', String(pid), '--json']);
    expect(run.exitCode, run.stderr).toBe(0);
    const [first] = await waitFor(() => (inspectorPortsInLog(instance!, pid).length > 0 ? inspectorPortsInLog(instance!, pid) : undefined), "the app's inspector line in the log");
    await expectInspectorClosed(first!, pid);
    expect((JSON.parse(run.stdout) as CrashWatchResult).inspector).toEqual({ port: first, closed: true });

    // The core's stack of a stuck request opens the inspector again (the one it knew is closed).
    const res = await request(`${instance.url}/spin?ms=20000`);
    expect(res.statusCode).toBe(504);
    await res.body.text();
    const stuck = await waitFor(() => daemonLogLines(instance!).find((l) => l.msg.includes('exceeded max-request-time')), 'the stuck-process log line');
    expect(stuck.jsStack).toMatch(/at stuckInALoop \(.*pid-app\/app\.js:\d+:\d+\)/);
    const ports = inspectorPortsInLog(instance, pid);
    expect(ports.length).toBe(2);
    for (const port of ports) await expectInspectorClosed(port, pid);

    instance.refresh();
    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  }, 40_000);

  it('after crash-watch --dump of plain Node processes: a CommonJS one in a busy loop, an idle ES module', async () => {
    const busy = startNode(['-e', 'setTimeout(function spinning() { const end = Date.now() + 15000; while (Date.now() < end); }, 100); setInterval(() => {}, 1000);']);
    // No `require` in an ES module's scope: closing must not depend on it.
    const idle = startNode(['--input-type=module', '-e', 'setInterval(() => {}, 100000);']);
    await new Promise((r) => setTimeout(r, 500));

    for (const { child, port, busyLoop } of [
      { ...busy, busyLoop: true },
      { ...idle, busyLoop: false },
    ]) {
      const pid = child.pid as number;
      const run = await runFerry(registry, ['crash-watch', '--dump', String(pid), '--json']);
      expect(run.exitCode, run.stderr).toBe(0);
      const result = JSON.parse(run.stdout) as CrashWatchResult;
      if (busyLoop) expect(result.jsStack?.[0]).toMatchObject({ functionName: 'spinning' });
      else expect(result.jsStackNote).toContain('the process is idle');
      const opened = await waitFor(port, 'the inspector line on stderr');
      await expectInspectorClosed(opened, pid);
      expect(result.inspector).toEqual({ port: opened, closed: true });
      expect(isProcessRunning(pid)).toBe(true);
    }
  }, 60_000);

  it('by the core, 10 s after it opened, when crash-watch gave up: the app was blocked outside JavaScript and opened it only later', async () => {
    instance = await startDaemon(fixture('pid-app'));
    const pid = Number(await (await request(`${instance.url}/pid`)).body.text());
    const release = path.join(tempDir('ferry-block-'), 'release');
    const blocked = request(`${instance.url}/block?until=${encodeURIComponent(release)}`).then((r) => r.body.text());
    // Blocked while its shell child runs.
    await waitFor(() => processesMentioning(release).length > 0, 'the app to block');

    const run = await runFerry(registry, ['crash-watch', '--dump', String(pid), '--json']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect((JSON.parse(run.stdout) as CrashWatchResult).jsStackNote).toContain('did not open within 2 s of SIGUSR1: its main thread is blocked outside JavaScript');
    fs.writeFileSync(release, '');
    expect(await blocked).toBe('blocked');
    // Node opens it (SIGUSR1 was pending) once the main thread is back; crash-watch is gone by then.
    const [port] = await waitFor(() => (inspectorPortsInLog(instance!, pid).length > 0 ? inspectorPortsInLog(instance!, pid) : undefined), "the app's inspector line in the log");
    await waitFor(async () => !(await acceptsConnections(port!)), 'the inspector port to refuse', 20_000, 200);
    await expectInspectorClosed(port!, pid);
    // The core logs it once; its log is written asynchronously, so the line may land just after.
    const closedLines = (): number => daemonLogLines(instance!).filter((l) => l.msg.startsWith("closed the app process's inspector") && l.appPid === pid).length;
    await waitFor(() => closedLines() > 0, "the core's log line about closing the inspector", 5_000);
    expect(closedLines()).toBe(1);

    instance.refresh();
    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  }, 60_000);

  it('not when the app was started with it open (--inspect: the operator chose it)', async () => {
    instance = await startDaemon(fixture('pid-app'), ['--envvar', 'NODE_OPTIONS=--inspect=127.0.0.1:0']);
    const pid = Number(await (await request(`${instance.url}/pid`)).body.text());
    const [port] = await waitFor(() => (inspectorPortsInLog(instance!, pid).length > 0 ? inspectorPortsInLog(instance!, pid) : undefined), "the app's inspector line in the log");
    await new Promise((r) => setTimeout(r, 12_000));
    expect(await acceptsConnections(port!)).toBe(true);

    instance.refresh();
    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  }, 60_000);
});
