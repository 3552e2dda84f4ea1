// The ways an instance runs and ends: in the foreground until Ctrl-C, as a daemon with a pid file
// and a log file, on a unix socket, and with the environment the operator asked for.

import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import type { ResultPromise } from 'execa';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { isProcessRunning } from '../../src/lib/process-groups.js';
import { fixture, freePort, liveInstances, processesMentioning, removeScratch, runFerry, spawnFerry, startDaemon, tempDir, TestInstance, waitFor, trackOnlyInstance } from '../helpers/ferry.js';

const instances: TestInstance[] = [];
const children: ResultPromise[] = [];
const roots: string[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await child;
    }
  }
  for (const instance of instances.splice(0)) instance.forceCleanup();
  for (const root of roots.splice(0)) {
    removeScratch(root);
  }
});

/** A private root for one test, with the instance registry inside it. */
function scratch(): { root: string; registry: string } {
  const root = tempDir('ferry-lifecycle-');
  roots.push(root);
  const registry = path.join(root, 'registry');
  fs.mkdirSync(registry);
  return { root, registry };
}

/** No live instance, no instance directory, no process of the instance, none mentioning `root`. */
function expectNothingLeft(instance: TestInstance, root: string): void {
  // Before liveInstances: scanning the registry removes stale directories and would hide them.
  const dirs = fs.readdirSync(instance.registryDir).filter((e) => e.startsWith('ferry.') && fs.statSync(path.join(instance.registryDir, e)).isDirectory());
  expect(dirs).toEqual([]);
  expect(liveInstances(instance.registryDir)).toEqual([]);
  expect(instance.survivors()).toEqual([]);
  expect(processesMentioning(root)).toEqual([]);
}

async function getText(url: string, dispatcher?: Agent): Promise<{ status: number; body: string }> {
  const res = await request(url, dispatcher ? { dispatcher } : {});
  return { status: res.statusCode, body: await res.body.text() };
}

describe('ferry instance lifecycle', () => {
  it('runs in the foreground until SIGINT, then stops gracefully and exits 0 leaving nothing', async () => {
    const { root, registry } = scratch();
    const port = await freePort();
    const child = spawnFerry(registry, ['start', fixture('pid-app'), '--port', String(port)]);
    children.push(child);
    const url = `http://127.0.0.1:${port}`;

    await waitFor(async () => (await getText(`${url}/`)).body === 'hello', 'the foreground instance to answer');
    const instance = trackOnlyInstance(registry, port, instances);
    instance.remember([Number((await getText(`${url}/pid`)).body)]);
    // The leftover scan sees this instance while it runs (so its empty result later means something).
    expect(processesMentioning(root)).toEqual(expect.arrayContaining([child.pid, instance.info.properties.watchdog_pid, instance.info.properties.core_pid]));

    child.kill('SIGINT');
    const result = await child;
    const output = String(result.all);

    expect(result.exitCode, output).toBe(0);
    expect(output).toContain(`Ferry is serving at http://127.0.0.1:${port}/ (instance ${instance.info.name})`);
    expect(output).toContain('Stopping gracefully');
    expectNothingLeft(instance, root);
  });

  it('daemonizes with a pid file and a log file, and ferry stop --pid-file removes both the instance and the pid file', async () => {
    const { root, registry } = scratch();
    const port = await freePort();
    const pidFile = path.join(root, 'run', 'ferry.pid');
    const logFile = path.join(root, 'ferry.log');
    fs.mkdirSync(path.dirname(pidFile));

    const start = await runFerry(registry, ['start', fixture('pid-app'), '--daemonize', '--port', String(port), '--pid-file', pidFile, '--log-file', logFile]);
    expect(start.exitCode, start.stderr).toBe(0);
    const instance = trackOnlyInstance(registry, port, instances);

    const watchdogPid = instance.info.properties.watchdog_pid;
    expect(fs.readFileSync(pidFile, 'utf8').trim()).toBe(String(watchdogPid));
    expect(isProcessRunning(watchdogPid)).toBe(true);
    expect(start.stdout).toContain(`watchdog pid ${watchdogPid}`);
    expect(await getText(`${instance.url}/`)).toEqual({ status: 200, body: 'hello' });

    const lines = fs.readFileSync(logFile, 'utf8').trim().split('\n');
    const records = lines.map((line) => JSON.parse(line) as { msg?: string; instance?: string });
    expect(records).toContainEqual(expect.objectContaining({ msg: 'instance ready', instance: instance.info.name }));

    const stop = await runFerry(registry, ['stop', '--pid-file', pidFile]);

    expect(stop.exitCode, stop.stderr).toBe(0);
    expect(stop.stdout).toContain(`Stopped instance ${instance.info.name}`);
    expect(fs.existsSync(pidFile)).toBe(false);
    expectNothingLeft(instance, root);
  });

  it('serves on a unix socket, refuses a second instance on the same socket, and is gone after stop', async () => {
    const { root, registry } = scratch();
    const socketPath = path.join(root, 'sockets', 'app.sock');
    fs.mkdirSync(path.dirname(socketPath));
    const logFile = path.join(root, 'ferry.log');
    const dispatcher = new Agent({ connect: { socketPath } });

    try {
      const start = await runFerry(registry, ['start', fixture('pid-app'), '--daemonize', '--socket', socketPath, '--log-file', logFile]);
      expect(start.exitCode, start.stderr).toBe(0);
      expect(start.stdout).toContain(`Ferry is serving at unix:${socketPath}`);
      const instance = trackOnlyInstance(registry, 0, instances);

      expect(await getText('http://localhost/', dispatcher)).toEqual({ status: 200, body: 'hello' });
      instance.remember([Number((await getText('http://localhost/pid', dispatcher)).body)]);

      // A second instance on the same path is refused before it starts anything;
      const second = await runFerry(registry, ['start', fixture('pid-app'), '--daemonize', '--socket', socketPath, '--log-file', path.join(root, 'second.log')]);
      expect(second.exitCode).toBe(EXIT_CODES.environment);
      expect(second.stderr).toMatch(/^Error: /);
      // (by Ferry: it names the instance and how to stop it)
      expect(second.stderr.split('\n')[0]).toMatch(new RegExp(`^Error: ${socketPath.replace(/[.]/g, '\\.')} is already in use by Ferry instance ${instance.info.name} \\(watchdog pid \\d+, serving `));
      expect(second.stderr).toContain('Stop that instance with: ferry stop');
      expect(second.stderr).toContain('--socket');
      expect(liveInstances(registry).map((i) => i.name)).toEqual([instance.info.name]);
      // and the first one still serves on it.
      expect(await getText('http://localhost/', dispatcher)).toEqual({ status: 200, body: 'hello' });

      const stop = await runFerry(registry, ['stop']);
      expect(stop.exitCode, stop.stderr).toBe(0);
      expectNothingLeft(instance, root);
      // The socket file ferry start bound is removed with the instance.
      expect(fs.existsSync(socketPath)).toBe(false);
      await expect(getText('http://localhost/', dispatcher)).rejects.toThrow();
    } finally {
      await dispatcher.close();
    }
  });

  it('gives the app the --envvar variables and --environment as NODE_ENV, and hides Ferry-internal variables', async () => {
    const { root, registry } = scratch();
    const instance = await startDaemon(fixture('env-app'), ['--envvar', 'GREETING=hi', '--environment', 'production'], registry);
    instances.push(instance);

    const res = await getText(`${instance.url}/`);

    expect(res.status).toBe(200);
    const env = JSON.parse(res.body) as Record<string, string | undefined>;
    expect(env.NODE_ENV).toBe('production');
    expect(env.GREETING).toBe('hi');
    expect(env.IN_FERRY).toBe('1');
    expect(env.FERRY_APP_SOCKET).toBeUndefined();
    expect(env.LISTEN_FDS).toBeUndefined();

    expect((await instance.stop()).exitCode).toBe(0);
    expectNothingLeft(instance, root);
  });
});
