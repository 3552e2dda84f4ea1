// ferry start under systemd: sd_notify to a fake NOTIFY_SOCKET (a python3 receiver, since Node
// cannot bind an AF_UNIX datagram socket), and socket activation with a listening socket passed
// as fd 3 (LISTEN_FDS=1, LISTEN_PID of the exec'd ferry start).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { fakeNotifySocket } from '../helpers/notify-socket.js';
import { BIN, fixture, freePort, liveInstances, processesMentioning, removeScratch, runFerry, spawnFerry, tempDir, TestInstance, waitFor, trackOnlyInstance } from '../helpers/ferry.js';

const AS_ROOT = process.getuid?.() === 0;
const roots: string[] = [];
const children: ChildProcess[] = [];
const instances: TestInstance[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }
  for (const instance of instances.splice(0)) instance.forceCleanup();
  for (const root of roots.splice(0)) removeScratch(root);
});

function scratch(): { root: string; registry: string } {
  const root = tempDir('ferry-systemd-');
  roots.push(root);
  const registry = path.join(root, 'registry');
  fs.mkdirSync(registry);
  return { root, registry };
}


function environOf(pid: number): string {
  return fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
}

function expectNothingLeft(instance: TestInstance, root: string): void {
  expect(liveInstances(instance.registryDir)).toEqual([]);
  expect(instance.survivors()).toEqual([]);
  // The receiver is ours and still runs; nothing else may mention the scratch dir.
  expect(processesMentioning(root).filter((pid) => !children.some((c) => c.pid === pid))).toEqual([]);
}

describe('sd_notify', () => {
  it('sends READY=1, WATCHDOG=1 pings, RELOADING=1/READY=1 around ferry restart and STOPPING=1, all from ferry start itself', async () => {
    // Given a fake NOTIFY_SOCKET and a 1 s systemd watchdog (pings every 500 ms, each after a ping of the core),
    const { root, registry } = scratch();
    const notify = await fakeNotifySocket(root, children);
    const port = await freePort();
    const child = spawnFerry(registry, ['start', fixture('pid-app'), '--port', String(port)], { NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: '1000000' });
    children.push(child);
    const messages = (): string[] => notify.received.map((d) => d.message);

    // when the instance serves, systemd hears READY=1 with a status line,
    await waitFor(() => messages().some((m) => m.startsWith('READY=1')), 'READY=1', 30_000);
    const ready = notify.received.find((d) => d.message.startsWith('READY=1'))!;
    expect(ready.message).toContain(`STATUS=Serving at http://127.0.0.1:${port}/`);
    // from the main pid (so NotifyAccess=main works, and no MAINPID= is needed),
    expect(ready.pid).toBe(child.pid);
    expect(ready.message).not.toContain('MAINPID=');
    const instance = trackOnlyInstance(registry, port, instances);
    // then regular watchdog pings while the core answers;
    await waitFor(() => messages().filter((m) => m === 'WATCHDOG=1').length >= 3, 'three WATCHDOG=1 pings', 30_000);
    expect(notify.received.filter((d) => d.message === 'WATCHDOG=1').every((d) => d.pid === child.pid)).toBe(true);

    // A core that does not answer (stopped) gets no pings, so systemd would act; they resume after.
    const corePid = instance.info.properties.core_pid as number;
    process.kill(corePid, 'SIGSTOP');
    try {
      await new Promise((resolve) => setTimeout(resolve, 1_000)); // a ping already under way may still land
      const frozenAt = notify.received.length;
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(notify.received.slice(frozenAt).map((d) => d.message)).not.toContain('WATCHDOG=1');
    } finally {
      process.kill(corePid, 'SIGCONT');
    }
    const resumedFrom = notify.received.length;
    await waitFor(() => notify.received.slice(resumedFrom).some((d) => d.message === 'WATCHDOG=1'), 'pings to resume', 15_000);

    // nobody below ferry start inherits NOTIFY_SOCKET or WATCHDOG_USEC (they must not talk to systemd as us).
    const appPid = Number(await (await fetch(`http://127.0.0.1:${port}/pid`)).text());
    instance.remember([appPid]);
    for (const pid of [instance.info.properties.watchdog_pid, instance.info.properties.core_pid as number, appPid]) {
      expect(environOf(pid)).not.toContain('NOTIFY_SOCKET=');
      expect(environOf(pid)).not.toContain('WATCHDOG_USEC=');
    }

    // A core restart is announced as a reload and ends with READY=1 again.
    const before = notify.received.length;
    const restart = await runFerry(registry, ['restart']);
    expect(restart.exitCode, restart.stderr).toBe(0);
    await waitFor(() => notify.received.slice(before).some((d) => d.message.startsWith('READY=1')), 'READY=1 after the reload');
    const reload = notify.received.slice(before).map((d) => d.message.split('\n')[0]).filter((m) => m !== 'WATCHDOG=1');
    expect(reload).toEqual(['RELOADING=1', 'READY=1']);
    expect(notify.received.slice(before).find((d) => d.message.startsWith('RELOADING=1'))?.message).toMatch(/MONOTONIC_USEC=\d+/);

    // SIGTERM (systemctl stop): STOPPING=1 first, then a clean exit, nothing left.
    instance.refresh();
    child.kill('SIGTERM');
    const result = await child;
    expect(result.exitCode, String(result.all)).toBe(0);
    const stopping = notify.received.filter((d) => d.message.startsWith('STOPPING=1'));
    expect(stopping).toHaveLength(1);
    // No ping after STOPPING=1: systemd must not mistake a stopping service for a live one.
    expect(messages().slice(messages().indexOf(stopping[0]!.message) + 1)).not.toContain('WATCHDOG=1');
    expectNothingLeft(instance, root);
  });

  it('with --daemonize, names the watchdog as MAINPID in READY=1 before ferry start exits', async () => {
    const { root, registry } = scratch();
    const notify = await fakeNotifySocket(root, children);
    const port = await freePort();
    const run = await runFerry(registry, ['start', fixture('pid-app'), '--port', String(port), '--daemonize', '--log-file', path.join(root, 'log')], {
      env: { NOTIFY_SOCKET: notify.path },
    });
    expect(run.exitCode, run.stderr).toBe(0);
    const instance = trackOnlyInstance(registry, port, instances);
    await waitFor(() => notify.received.length > 0, 'READY=1');
    expect(notify.received[0]!.message).toContain(`MAINPID=${instance.info.properties.watchdog_pid}`);
    expect((await instance.stop()).exitCode).toBe(0);
    expectNothingLeft(instance, root);
  });
});

/**
 * Starts ferry start through sh, so that LISTEN_PID is the pid that execs node (as systemd
 * does), with `fd` as its fd 3. The caller's copy of the fd is closed in the same tick.
 */
function spawnActivated(registry: string, fd: number, args: string[], env: Record<string, string> = {}): ChildProcess & { output: () => string } {
  const child = spawn('sh', ['-c', `LISTEN_PID=$$ exec "${process.execPath}" "${BIN}" start ${args.join(' ')}`], {
    env: { ...process.env, FERRY_INSTANCE_REGISTRY_DIR: registry, NO_COLOR: '1', LISTEN_FDS: '1', LISTEN_FDNAMES: 'http', ...(AS_ROOT ? { FERRY_USER: 'root' } : {}), ...env },
    stdio: ['ignore', 'pipe', 'pipe', fd],
  });
  children.push(child);
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  return Object.assign(child, { output: () => output });
}

/** A listening socket whose fd a child can inherit; `release` closes ours (call right after the spawn). */
async function listeningSocket(options: net.ListenOptions): Promise<{ fd: number; release: () => void }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(options, resolve));
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
  return { fd, release: () => server.close() };
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('socket activation (LISTEN_FDS)', () => {
  it('serves the TCP socket passed as fd 3 instead of binding one, and clears LISTEN_* for its children', async () => {
    const { root, registry } = scratch();
    const port = await freePort();
    const socket = await listeningSocket({ host: '127.0.0.1', port });
    // A --port that is not the socket's: the passed socket wins.
    const child = spawnActivated(registry, socket.fd, [fixture('pid-app'), '--port', '1']);
    socket.release();

    await waitFor(() => child.output().includes('Ferry is serving'), 'ferry start to serve', 30_000);
    expect(child.output()).toContain(`Ferry is serving at http://127.0.0.1:${port}/`);
    const answer = await fetch(`http://127.0.0.1:${port}/pid`);
    expect(answer.status).toBe(200);
    const instance = trackOnlyInstance(registry, port, instances);
    const appPid = Number(await answer.text());
    instance.remember([appPid]);
    // The core gets the socket under the internal LISTEN_FDS convention, but never systemd's LISTEN_PID.
    for (const pid of [instance.info.properties.watchdog_pid, appPid]) expect(environOf(pid)).not.toMatch(/(^|\0)LISTEN_(PID|FDS)=/);

    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
    expectNothingLeft(instance, root);
  });

  it('serves a unix socket passed as fd 3 and leaves its file to systemd at stop', async () => {
    const { root, registry } = scratch();
    const socketPath = path.join(root, 'front.sock');
    const socket = await listeningSocket({ path: socketPath });
    const child = spawnActivated(registry, socket.fd, [fixture('pid-app')]);
    // Closing a unix server unlinks its path; systemd would keep it, so keep a link to check against.
    fs.linkSync(socketPath, `${socketPath}.keep`);
    socket.release();
    fs.renameSync(`${socketPath}.keep`, socketPath);

    await waitFor(() => child.output().includes('Ferry is serving'), 'ferry start to serve', 30_000);
    const body = await new Promise<string>((resolve, reject) => {
      const client = net.connect(socketPath, () => client.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      let text = '';
      client.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      client.on('end', () => resolve(text));
      client.on('error', reject);
    });
    expect(body).toMatch(/^HTTP\/1\.1 200/);
    expect(body).toContain('hello');
    const instance = trackOnlyInstance(registry, 0, instances);
    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
    expect(fs.existsSync(socketPath)).toBe(true);
    expectNothingLeft(instance, root);
  });

  it('refuses LISTEN_FDS=2 and an fd 3 that is not a listening socket, with FERRY_ERR_LISTEN_FDS_INVALID and nothing left', async () => {
    const { root, registry } = scratch();
    const socket = await listeningSocket({ host: '127.0.0.1', port: 0 });
    const two = spawnActivated(registry, socket.fd, [fixture('pid-app'), '--json'], { LISTEN_FDS: '2', LISTEN_FDNAMES: 'http:https' });
    socket.release();
    expect(await exitOf(two)).toBe(EXIT_CODES.usage);
    expect(two.output()).toContain('FERRY_ERR_LISTEN_FDS_INVALID');
    expect(two.output()).toContain('systemd passed 2 sockets');

    const file = fs.openSync(path.join(root, 'not-a-socket'), 'w');
    const notSocket = spawnActivated(registry, file, [fixture('pid-app'), '--json']);
    fs.closeSync(file);
    expect(await exitOf(notSocket)).toBe(EXIT_CODES.usage);
    expect(notSocket.output()).toContain('is not a listening stream socket');
    expect(liveInstances(registry)).toEqual([]);
    expect(processesMentioning(root).filter((pid) => !children.some((c) => c.pid === pid))).toEqual([]);
  });
});

/** The words of an Exec*= line as systemd splits them (enough for lines without quotes). */
function execWords(unit: string, key: string): string[] {
  const line = unit.split('\n').find((l) => l.startsWith(`${key}=`)) ?? '';
  expect(line).not.toMatch(/["\\]/);
  return line.slice(key.length + 1).split(' ');
}

describe('ferry systemd-unit', () => {
  it('writes a service and a socket unit whose ExecStart, run as systemd would run it, serves the passed socket and notifies READY=1', async () => {
    const { root, registry } = scratch();
    const port = await freePort();
    const run = await runFerry(registry, ['systemd-unit', fixture('pid-app'), '--port', String(port), '--min-instances', '2', '--socket-activation', '--output-dir', root]);
    expect(run.exitCode, run.stderr).toBe(0);
    const service = fs.readFileSync(path.join(root, 'ferry.service'), 'utf8');
    const socketUnit = fs.readFileSync(path.join(root, 'ferry.socket'), 'utf8');
    expect(socketUnit).toContain(`ListenStream=127.0.0.1:${port}`);
    const words = execWords(service, 'ExecStart');
    // `--`: Node would take a --env-file after it as its own.
    expect(words.slice(0, 6)).toEqual([process.execPath, '--', BIN, 'start', fixture('pid-app'), '--port']);
    expect(words).toEqual(expect.arrayContaining(['--min-instances', '2']));
    if (AS_ROOT) expect(service).toContain('User=root'); // the helper's FERRY_USER=root
    // systemd's own parser has nothing to say about them, where it is installed.
    if (fs.existsSync('/usr/bin/systemd-analyze')) {
      const verify = spawnSync('systemd-analyze', ['verify', path.join(root, 'ferry.service'), path.join(root, 'ferry.socket')], { encoding: 'utf8', timeout: 30_000 });
      expect(verify.stderr.split('\n').filter((l) => l && !l.includes('Special user'))).toEqual([]);
    }

    // Run ExecStart as systemd would with the socket unit: fd 3 listening, LISTEN_PID, NOTIFY_SOCKET.
    const notify = await fakeNotifySocket(root, children);
    const socket = await listeningSocket({ host: '127.0.0.1', port });
    const child = spawnActivated(registry, socket.fd, words.slice(4), { NOTIFY_SOCKET: notify.path });
    socket.release();
    await waitFor(() => notify.received.some((d) => d.message.startsWith('READY=1')), 'READY=1', 30_000);
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('hello');
    const instance = trackOnlyInstance(registry, port, instances);
    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
    expectNothingLeft(instance, root);
  });

  it('puts the --envvar values in a 0600 EnvironmentFile, not in the unit or a command line, and the app gets them', async () => {
    const { root, registry } = scratch();
    const port = await freePort();
    const secret = 'unit-s3cret-"$x`\\';
    const run = await runFerry(registry, ['systemd-unit', fixture('env-app'), '--port', String(port), '--envvar', `SECRET=${secret}`, '--envvar', 'PLAIN=1', '--socket-activation', '--output-dir', root]);
    expect(run.exitCode, run.stderr).toBe(0);
    const service = fs.readFileSync(path.join(root, 'ferry.service'), 'utf8');
    expect(service).not.toContain('unit-s3cret');
    expect(service).toContain(`EnvironmentFile=${path.join(root, 'ferry.env')}`);
    const words = execWords(service, 'ExecStart');
    expect(words.filter((_, i) => words[i - 1] === '--envvar')).toEqual(['SECRET', 'PLAIN']);
    const envFile = path.join(root, 'ferry.env');
    expect(fs.statSync(envFile).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(envFile, 'utf8')).toBe('SECRET="unit-s3cret-\\"\\$x\\`\\\\"\nPLAIN="1"\n');
    if (fs.existsSync('/usr/bin/systemd-analyze')) {
      const verify = spawnSync('systemd-analyze', ['verify', path.join(root, 'ferry.service'), path.join(root, 'ferry.socket')], { encoding: 'utf8', timeout: 30_000 });
      expect(verify.stderr.split('\n').filter((l) => l && !l.includes('Special user'))).toEqual([]);
    }

    // As systemd runs it: the file's variables in ferry start's environment, ExecStart as written.
    const socket = await listeningSocket({ host: '127.0.0.1', port });
    const child = spawnActivated(registry, socket.fd, words.slice(4), { SECRET: secret, PLAIN: '1' });
    socket.release();
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/env`).catch(() => undefined))?.ok, 'the app', 30_000);
    const env = (await (await fetch(`http://127.0.0.1:${port}/env`)).json()) as Record<string, string>;
    expect(env).toMatchObject({ SECRET: secret, PLAIN: '1' });
    const instance = trackOnlyInstance(registry, port, instances);
    for (const pid of fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
      let cmdline = '';
      try {
        cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        continue; // gone
      }
      expect(cmdline, `pid ${pid}`).not.toContain('unit-s3cret');
    }
    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
    expectNothingLeft(instance, root);
  });

  it('checks the flags as ferry start does, and has no --daemonize', async () => {
    const { registry } = scratch();
    const bad = await runFerry(registry, ['systemd-unit', fixture('pid-app'), '--min-instances', '0', '--json']);
    expect(bad.exitCode).toBe(EXIT_CODES.usage);
    expect((JSON.parse(bad.stdout) as { error: { code: string } }).error.code).toBe('FERRY_ERR_CONFIG_INVALID');
    const daemon = await runFerry(registry, ['systemd-unit', fixture('pid-app'), '--daemonize']);
    expect(daemon.exitCode).toBe(EXIT_CODES.usage);
    expect(daemon.stderr).toContain('--daemonize');
  });
});
