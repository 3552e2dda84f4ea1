// Files root opens in a directory the app's user controls (the default log `APP/log/ferry.PORT.log`,
// a pid file beside the app): a symlink, a hard link, a FIFO or a linked directory planted there
// must not make root write somewhere else; and a start that fails leaves no empty log behind.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { copyFixture, freePort, liveInstances, processesMentioning, removeScratch, runFerry, tempDir, trackOnlyInstance, type TestInstance, waitFor } from '../helpers/ferry.js';

const AS_ROOT = process.getuid?.() === 0;
const ORIGINAL = 'root-only content, must stay as it is\n';

const roots: string[] = [];
const instances: TestInstance[] = [];

afterEach(() => {
  for (const instance of instances.splice(0)) instance.forceCleanup();
  // Kills whatever a start that should have been refused left running, then removes the scratch.
  for (const root of roots.splice(0)) removeScratch(root);
});

/** pid-app with a log/ and a tmp/ directory, a registry, and a root-only 0600 file outside the app. */
function scratch(): { root: string; app: string; registry: string; target: string; outside: string } {
  const root = tempDir('ferry-root-paths-');
  roots.push(root);
  const app = copyFixture('pid-app', root);
  fs.mkdirSync(path.join(app, 'log'));
  fs.mkdirSync(path.join(app, 'tmp'));
  const registry = path.join(root, 'registry');
  fs.mkdirSync(registry);
  const outside = path.join(root, 'outside');
  fs.mkdirSync(outside, { mode: 0o700 });
  const target = path.join(outside, 'root-only');
  fs.writeFileSync(target, ORIGINAL, { mode: 0o600 });
  return { root, app, registry, target, outside };
}

interface StartResult {
  exitCode: number | undefined;
  error?: { code: string; message: string; suggestions?: string[] };
}

async function startJson(registry: string, app: string, port: number, args: string[] = []): Promise<StartResult> {
  const run = await runFerry(registry, ['start', app, '--daemonize', '--port', String(port), '--json', ...args], { timeoutMs: 20_000 });
  let error: StartResult['error'];
  try {
    error = (JSON.parse(run.stdout) as { error?: StartResult['error'] }).error;
  } catch {
    error = undefined;
  }
  return { exitCode: run.exitCode, error };
}

/** The refusal every case expects: the stable code, nothing left running, nothing registered. */
function expectRefused(result: StartResult, root: string, registry: string, what: RegExp): void {
  expect(result.error?.code).toBe('FERRY_ERR_FILE_UNSAFE');
  expect(result.error?.message).toMatch(what);
  expect(result.error?.suggestions?.length).toBeGreaterThan(0);
  expect(result.exitCode).toBe(EXIT_CODES.environment);
  expect(liveInstances(registry)).toEqual([]);
  expect(processesMentioning(root)).toEqual([]);
}

describe('the default log file in the app directory', () => {
  it('refuses a log file that is a symlink (to a root-only file), leaving the target unchanged', async () => {
    const { root, app, registry, target } = scratch();
    const port = await freePort();
    const logFile = path.join(app, 'log', `ferry.${port}.log`);
    fs.symlinkSync(target, logFile);
    const result = await startJson(registry, app, port);
    expectRefused(result, root, registry, /symbolic link/);
    expect(result.error?.message).toContain(logFile);
    expect(fs.readFileSync(target, 'utf8')).toBe(ORIGINAL);
    expect(fs.lstatSync(logFile).isSymbolicLink()).toBe(true);
  });

  it('refuses a log file with a second hard link (to a root-only file), leaving it unchanged', async () => {
    const { root, app, registry, target } = scratch();
    const port = await freePort();
    // Root may link any file; an app user may too where fs.protected_hardlinks is 0.
    fs.linkSync(target, path.join(app, 'log', `ferry.${port}.log`));
    const result = await startJson(registry, app, port);
    expectRefused(result, root, registry, /hard link/);
    expect(fs.readFileSync(target, 'utf8')).toBe(ORIGINAL);
  });

  it('refuses a FIFO as the log file at once instead of waiting for a reader', async () => {
    const { root, app, registry } = scratch();
    const port = await freePort();
    execFileSync('mkfifo', [path.join(app, 'log', `ferry.${port}.log`)]);
    const result = await startJson(registry, app, port);
    expectRefused(result, root, registry, /not a regular file/);
  });

  it.skipIf(!AS_ROOT)("refuses a log/ directory that is another user's symlink to a directory of root's, creating nothing there", async () => {
    const { root, app, registry, outside, target } = scratch();
    const port = await freePort();
    fs.rmdirSync(path.join(app, 'log'));
    fs.symlinkSync(outside, path.join(app, 'log'));
    fs.lchownSync(path.join(app, 'log'), 65534, 65534); // planted by nobody
    const result = await startJson(registry, app, port);
    expectRefused(result, root, registry, /symbolic link owned by/);
    expect(fs.readdirSync(outside)).toEqual([path.basename(target)]);
  });

  it('refuses a --pid-file that is a symlink (to a root-only file), leaving the target unchanged', async () => {
    const { root, app, registry, target } = scratch();
    const port = await freePort();
    const pidFile = path.join(app, 'tmp', 'ferry.pid');
    fs.symlinkSync(target, pidFile);
    const result = await startJson(registry, app, port, ['--pid-file', pidFile]);
    expectRefused(result, root, registry, /symbolic link/);
    expect(fs.readFileSync(target, 'utf8')).toBe(ORIGINAL);
  });

  it('refuses, at ferry reopen-logs, a symlink planted where the rotated log was, and keeps writing the old file', async () => {
    const { app, registry, target } = scratch();
    const port = await freePort();
    const started = await runFerry(registry, ['start', app, '--daemonize', '--port', String(port)]);
    expect(started.exitCode).toBe(0);
    const instance = trackOnlyInstance(registry, port, instances);
    const logFile = path.join(app, 'log', `ferry.${port}.log`);
    expect(fs.lstatSync(logFile).isFile()).toBe(true);
    fs.renameSync(logFile, `${logFile}.1`); // as logrotate does
    fs.symlinkSync(target, logFile); // and the app's user is quicker than the reopen
    const reopen = await runFerry(registry, ['reopen-logs', '--json']);
    expect(reopen.exitCode).toBe(EXIT_CODES.failed);
    const error = (JSON.parse(reopen.stdout) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('FERRY_ERR_LOG_REOPEN_FAILED');
    expect(error.message).toMatch(/symbolic link/);
    // A SIGUSR1 to the watchdog (logrotate's postrotate) must not follow it either.
    process.kill(instance.info.properties.watchdog_pid, 'SIGUSR1');
    expect((await fetch(`${instance.url}/log?line=after-rotation`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    expect(fs.readFileSync(target, 'utf8')).toBe(ORIGINAL);
    expect(fs.readFileSync(`${logFile}.1`, 'utf8')).toContain('after-rotation');
    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });
});

describe('a failed start', () => {
  it('leaves no log file it created in the app directory, and keeps one that was there before', async () => {
    const { app, registry } = scratch();
    const blocker = net.createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const logFile = path.join(app, 'log', `ferry.${port}.log`);
      const first = await startJson(registry, app, port);
      expect(first.error?.code).toBe('FERRY_ERR_LISTEN_IN_USE');
      expect(fs.readdirSync(path.join(app, 'log'))).toEqual([]);

      fs.writeFileSync(logFile, 'an earlier run\n', { mode: 0o640 });
      const second = await startJson(registry, app, port);
      expect(second.error?.code).toBe('FERRY_ERR_LISTEN_IN_USE');
      expect(fs.readFileSync(logFile, 'utf8')).toBe('an earlier run\n');
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
    expect(liveInstances(registry)).toEqual([]);
  });
});

describe('a --socket in a directory of the app', () => {
  it('is created 0660 by the umask (no chmod that a swapped-in symlink would redirect), and removed at stop', async () => {
    const { app, registry } = scratch();
    const socket = path.join(app, 'tmp', 'ferry.sock');
    const started = await runFerry(registry, ['start', app, '--daemonize', '--socket', socket, '--log-file', path.join(registry, 'ferry.log')]);
    expect(started.exitCode).toBe(0);
    const live = liveInstances(registry);
    expect(live).toHaveLength(1);
    const st = fs.lstatSync(socket);
    expect([st.isSocket(), st.mode & 0o777]).toEqual([true, 0o660]);
    expect((await runFerry(registry, ['stop'])).exitCode).toBe(0);
    expect(fs.existsSync(socket)).toBe(false);
    expect(processesMentioning(registry)).toEqual([]);
  });
});

describe('tmp/restart.txt', () => {
  it('is not followed when it is a symlink: a file of root\'s appearing behind it restarts nothing, touching the link itself (touch -h) restarts', async () => {
    const { app, registry, outside } = scratch();
    const probe = path.join(outside, 'probe'); // a path only root can see
    fs.symlinkSync(probe, path.join(app, 'tmp', 'restart.txt'));
    const port = await freePort();
    expect((await runFerry(registry, ['start', app, '--daemonize', '--port', String(port), '--log-file', path.join(registry, 'ferry.log')])).exitCode).toBe(0);
    const instance = trackOnlyInstance(registry, port, instances);
    const pidNow = async (): Promise<string> => (await fetch(`${instance.url}/pid`)).text();
    const before = await pidNow();
    // No wait: the core took its first look (the link) before it served.
    fs.writeFileSync(probe, ''); // followed, this would be a change: a restart would tell the app's user that it exists
    await new Promise((r) => setTimeout(r, 4500)); // two more looks
    expect(await pidNow()).toBe(before);

    const later = new Date(Date.now() + 60_000);
    fs.lutimesSync(path.join(app, 'tmp', 'restart.txt'), later, later);
    await waitFor(async () => (await pidNow()) !== before, 'a new process after touch -h of the link', 10_000, 100);
    instance.refresh();
    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });
});
