// Which user app processes run as when Ferry runs as root: the owner of the startup file, or
// --user, and never root unless asked. Uses a system user created for this file.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { copyFixture, fixture, freePort, liveInstances, processesMentioning, removeScratch, runFerry, startDaemon, tempDir, TestInstance } from '../helpers/ferry.js';

const AS_ROOT = process.getuid?.() === 0;
// Creating users and switching to them takes root; as anyone else, only the non-root rule is tested.
const describeAsRoot = describe.skipIf(!AS_ROOT);
const describeAsUser = describe.skipIf(AS_ROOT);

/** No FERRY_USER: the test helper's default --user root must not apply here. */
const NO_USER = { FERRY_USER: '' };

const roots: string[] = [];
const instances: TestInstance[] = [];
let user = '';

beforeAll(() => {
  if (!AS_ROOT) return;
  user = `ferrytest${Math.floor(Math.random() * 100_000)}`;
  execFileSync('useradd', ['--system', '--no-create-home', '--home-dir', '/nonexistent', user]);
});

afterAll(() => {
  if (user) execFileSync('userdel', [user]);
});

afterEach(() => {
  for (const instance of instances.splice(0)) instance.forceCleanup();
  for (const root of roots.splice(0)) removeScratch(root);
});

/** A scratch root the app user can pass through (mkdtemp makes it 0700), with a registry inside. */
function scratch(): { root: string; registry: string } {
  const root = tempDir('ferry-users-');
  roots.push(root);
  fs.chmodSync(root, 0o711);
  const registry = path.join(root, 'registry');
  fs.mkdirSync(registry, { mode: 0o711 });
  fs.chmodSync(registry, 0o711);
  return { root, registry };
}

function statusField(pid: number, field: string): string {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  return (line ?? '').slice(field.length + 1).trim();
}

function uidOfUser(name: string): number {
  return Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
}

async function appPid(instance: TestInstance): Promise<number> {
  const res = await fetch(`${instance.url}/pid`);
  expect(res.status).toBe(200);
  const pid = Number(await res.text());
  instance.remember([pid]);
  return pid;
}

function expectNothingLeft(instance: TestInstance, root: string): void {
  expect(liveInstances(instance.registryDir)).toEqual([]);
  // The instance directory and the app users' directories are gone (startDaemon's log file stays).
  expect(fs.readdirSync(instance.registryDir).filter((e) => !e.endsWith('.log'))).toEqual([]);
  expect(instance.survivors()).toEqual([]);
  expect(processesMentioning(root)).toEqual([]);
}

describeAsRoot('app users, as root', () => {
  it("runs the app as the owner of its startup file, with that user's HOME, USER and LOGNAME", async () => {
    const { root, registry } = scratch();
    const parent = path.join(root, 'apps');
    fs.mkdirSync(parent, { mode: 0o755 });
    const dir = copyFixture('pid-app', parent);
    execFileSync('chown', ['-R', `${user}:`, dir]);
    const instance = await startDaemon(dir, [], registry, { env: NO_USER });
    instances.push(instance);

    const pid = await appPid(instance);
    const uid = uidOfUser(user);
    // Real, effective, saved and filesystem uid: all the app user's.
    expect(statusField(pid, 'Uid').split(/\s+/)).toEqual([uid, uid, uid, uid].map(String));
    expect(statusField(pid, 'Gid').split(/\s+/)[0]).not.toBe('0');
    // No supplementary group of root's is left.
    expect(statusField(pid, 'Groups')).not.toMatch(/\b0\b/);
    const environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    expect(environ).toEqual(expect.arrayContaining([`USER=${user}`, `LOGNAME=${user}`, 'HOME=/nonexistent']));

    // The app binds in a directory of its user's; the instance directory stays root's alone.
    const userDirs = fs.readdirSync(registry).filter((e) => e.startsWith('ferry-apps.'));
    expect(userDirs).toHaveLength(1);
    const userDir = fs.statSync(path.join(registry, userDirs[0]!));
    expect([userDir.uid, userDir.mode & 0o777]).toEqual([uid, 0o700]);
    const instanceDir = fs.statSync(instance.info.dir);
    expect([instanceDir.uid, instanceDir.mode & 0o777]).toEqual([0, 0o700]);
    // Once it listened, its socket was moved into the instance directory, where the user cannot
    // swap it for a symlink to some other socket that the core (root) would then forward to.
    expect(fs.readdirSync(path.join(registry, userDirs[0]!))).toEqual([]);
    const appsDir = path.join(instance.info.dir, 'apps.s');
    const sockets = fs.readdirSync(appsDir).map((e) => fs.lstatSync(path.join(appsDir, e))).filter((st) => st.isSocket());
    expect(sockets.map((st) => st.uid)).toEqual([uid]);

    // A new core (ferry restart) adopts the app process in its user's directory.
    expect((await runFerry(registry, ['restart'])).exitCode).toBe(0);
    instance.refresh();
    expect(await appPid(instance)).toBe(pid);

    expect((await instance.stop()).exitCode).toBe(0);
    expectNothingLeft(instance, root);
  });

  it('runs a generic app (--app-start-command) as the owner of its directory', async () => {
    const { root, registry } = scratch();
    const parent = path.join(root, 'apps');
    fs.mkdirSync(parent, { mode: 0o755 });
    const dir = copyFixture('generic-app', parent);
    execFileSync('chown', ['-R', `${user}:`, dir]);
    const instance = await startDaemon(dir, ['--app-start-command', `exec ${process.execPath} server.js`], registry, { env: NO_USER });
    instances.push(instance);
    const answer = (await (await fetch(`${instance.url}/`)).json()) as { pid: number };
    instance.remember([answer.pid]);
    expect(statusField(answer.pid, 'Uid').split(/\s+/)[0]).toBe(String(uidOfUser(user)));
    expect((await instance.stop()).exitCode).toBe(0);
    expectNothingLeft(instance, root);
  });

  it('runs a root-owned app as --user NAME, and serves it', async () => {
    const { root, registry } = scratch();
    const instance = await startDaemon(fixture('pid-app'), ['--user', user], registry, { env: NO_USER });
    instances.push(instance);
    const pid = await appPid(instance);
    expect(statusField(pid, 'Uid').split(/\s+/)[0]).toBe(String(uidOfUser(user)));
    expect(await (await fetch(`${instance.url}/`)).text()).toBe('hello');
    expect((await instance.stop()).exitCode).toBe(0);
    expectNothingLeft(instance, root);
  });

  it('refuses a root-owned app without --user, saying how to fix it, and leaves nothing running', async () => {
    const { root, registry } = scratch();
    const port = await freePort();
    const run = await runFerry(registry, ['start', fixture('pid-app'), '--port', String(port), '--daemonize', '--log-file', path.join(root, 'log')], { env: NO_USER });
    expect(run.exitCode).toBe(EXIT_CODES.usage);
    expect(run.stderr).toContain('is owned by root');
    // The exact command, with --user added.
    expect(run.stderr).toContain(`ferry start ${fixture('pid-app')} --port ${port} --daemonize --log-file ${path.join(root, 'log')} --user nobody`);
    expect(run.stderr).toContain('--user root');
    expect(run.stderr).toContain('chown -R USER');

    const json = await runFerry(registry, ['start', fixture('pid-app'), '--port', String(port), '--json'], { env: NO_USER });
    expect(json.exitCode).toBe(EXIT_CODES.usage);
    expect((JSON.parse(json.stdout) as { error: { code: string } }).error.code).toBe('FERRY_ERR_APP_USER_ROOT');
    expect(fs.readdirSync(registry)).toEqual([]);
    expect(processesMentioning(root)).toEqual([]);
  });

  it('refuses at start an app user who cannot reach the instance registry, naming the directory', async () => {
    const { root, registry } = scratch();
    fs.chmodSync(registry, 0o700);
    const run = await runFerry(registry, ['start', fixture('pid-app'), '--user', user, '--json'], { env: NO_USER });
    expect(run.exitCode).toBe(EXIT_CODES.environment);
    const error = (JSON.parse(run.stdout) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('FERRY_ERR_APP_USER_NO_ACCESS');
    expect(error.message).toContain(`cannot enter ${registry} `);
    expect(fs.readdirSync(registry)).toEqual([]);
    expect(processesMentioning(root)).toEqual([]);
  });

  it('refuses --user naming an unknown user', async () => {
    const { root, registry } = scratch();
    const run = await runFerry(registry, ['start', fixture('pid-app'), '--user', `${user}-nobody-has-this`, '--json'], { env: NO_USER });
    expect(run.exitCode).toBe(EXIT_CODES.usage);
    const error = (JSON.parse(run.stdout) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('FERRY_ERR_APP_USER_UNKNOWN');
    expect(error.message).toContain('no such user');
    expect(processesMentioning(root)).toEqual([]);
  });
});

describeAsUser('app users, as a user other than root', () => {
  it('refuses --user naming anyone else', async () => {
    const { registry } = scratch();
    const run = await runFerry(registry, ['start', fixture('pid-app'), '--user', 'root', '--json'], { env: NO_USER });
    expect(run.exitCode).toBe(EXIT_CODES.usage);
    expect((JSON.parse(run.stdout) as { error: { code: string } }).error.code).toBe('FERRY_ERR_APP_USER_NOT_ALLOWED');
  });
});
