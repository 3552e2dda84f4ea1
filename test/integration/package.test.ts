// The single executable (npm run package): built once, copied to a scratch directory and run with
// a PATH that holds no node, it starts, reports and stops an instance whose every process is itself.

import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AS_ROOT_ENV, copyFixture, freePort, waitFor, liveInstances, instanceProcesses, removeScratch, ROOT, survivors, tempDir, type FerryRun } from '../helpers/ferry.js';
import type { CrashWatchResult } from '../../src/cli/crash-watch.js';
import { acceptsConnections, expectInspectorClosed, INSPECTOR_PORT } from '../helpers/inspector.js';
import { fakeNotifySocket } from '../helpers/notify-socket.js';

const BUILD_TIMEOUT_MS = 300_000;
/** Names that would let something find a Node outside the executable. */
const NODE_NAMES = new Set(['node', 'nodejs', 'npm', 'npx', 'corepack']);

let scratch: string;
let exe: string;
let env: Record<string, string>;
const seenPids = new Set<number>();
const children: ChildProcess[] = [];

/** A directory of links to everything in /usr/bin and /bin except Node (which is in /usr/bin here). */
function pathWithoutNode(dir: string): string {
  fs.mkdirSync(dir);
  for (const from of ['/usr/bin', '/bin']) {
    for (const name of fs.readdirSync(from)) {
      if (NODE_NAMES.has(name) || fs.existsSync(path.join(dir, name))) continue;
      fs.symlinkSync(path.join(from, name), path.join(dir, name));
    }
  }
  return dir;
}

async function runExe(args: string[], extraEnv: Record<string, string> = {}): Promise<FerryRun> {
  const result = await execa(exe, args, { reject: false, timeout: 60_000, env: { ...env, ...extraEnv }, extendEnv: false, stdin: 'ignore' });
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/** Starts a daemon with the executable and returns its instance (and remembers its pids for cleanup). */
async function startWithExe(appDir: string, extraArgs: string[] = [], extraEnv: Record<string, string> = {}): Promise<{ port: number; name: string; dir: string; pids: number[] }> {
  const port = await freePort();
  const logFile = path.join(scratch, `ferry.${port}.log`);
  const start = await runExe(['start', appDir, '--daemonize', '--port', String(port), '--log-file', logFile, ...extraArgs], extraEnv);
  if (start.exitCode !== 0) throw new Error(`ferry start failed (${start.exitCode}): ${start.stderr}\n${fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : ''}`);
  const info = liveInstances(env.FERRY_INSTANCE_REGISTRY_DIR!).find((i) => i.properties.addresses.some((a) => URL.canParse(a) && new URL(a).port === String(port)));
  if (!info) throw new Error(`no instance on port ${port} is registered`);
  const { pids } = instanceProcesses(info);
  for (const pid of pids) seenPids.add(pid);
  return { port, name: info.name, dir: info.dir, pids };
}

beforeAll(async () => {
  const started = Date.now();
  const build = await execa('npm', ['run', 'package'], { cwd: ROOT, reject: false, timeout: BUILD_TIMEOUT_MS, all: true });
  if (build.exitCode !== 0) throw new Error(`npm run package failed:\n${build.all}`);
  console.log(`npm run package took ${((Date.now() - started) / 1000).toFixed(1)} s`);

  scratch = tempDir('ferry-package-');
  exe = path.join(scratch, 'ferry');
  fs.copyFileSync(path.join(ROOT, 'dist-bin/ferry'), exe);
  fs.chmodSync(exe, 0o755);
  fs.mkdirSync(path.join(scratch, 'tmp'));
  env = {
    PATH: pathWithoutNode(path.join(scratch, 'bin')),
    HOME: scratch,
    TMPDIR: path.join(scratch, 'tmp'),
    FERRY_INSTANCE_REGISTRY_DIR: path.join(scratch, 'reg'),
    NO_COLOR: '1',
    ...AS_ROOT_ENV,
  };
}, BUILD_TIMEOUT_MS);

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }
  // A failed test must not leave its instance running into the next one.
  for (const pid of seenPids) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone, or not a group leader
    }
  }
  seenPids.clear();
});

afterAll(() => {
  if (scratch) removeScratch(scratch);
});

describe('the single executable', () => {
  it('runs in an environment where no node can be found', async () => {
    const probe = await execa('/bin/sh', ['-c', 'command -v node'], { reject: false, env, extendEnv: false });
    expect(probe.exitCode).not.toBe(0);
    const version = await runExe(['--version']);
    expect(version.exitCode).toBe(0);
    expect(version.stdout).toMatch(/^ferry\/\d+\.\d+\.\d+ linux-x64 node-v20\./);
    expect(version.stderr).toBe('');
  });

  it('writes systemd units that run the executable itself', async () => {
    const unit = await runExe(['systemd-unit', path.join(ROOT, 'examples/hello'), '--port', '8080']);
    expect(unit.exitCode).toBe(0);
    expect(unit.stdout).toContain(`ExecStart=${exe} start ${path.join(ROOT, 'examples/hello')} `);
    expect(unit.stdout).toContain(`ExecReload=${exe} restart`);
  });

  it('tells systemd it is ready, through the koffi it carries', async () => {
    const notifyDir = path.join(scratch, 'notify');
    fs.mkdirSync(notifyDir);
    const notify = await fakeNotifySocket(notifyDir, children);
    const instance = await startWithExe(path.join(ROOT, 'examples/hello'), [], { NOTIFY_SOCKET: notify.path });
    await waitFor(() => notify.received.some((d) => d.message.includes('READY=1')), 'READY=1 from the executable', 10_000);
    const watchdogPid = instance.pids[0]!;
    expect(notify.received.find((d) => d.message.includes('READY=1'))!.message).toContain(`MAINPID=${watchdogPid}`);
    expect((await runExe(['stop'])).exitCode).toBe(0);
    expect(survivors(instance.pids)).toEqual([]);
  });

  it('starts a Node app, reports it with status, serves it, and stops leaving no process or file behind', async () => {
    const instance = await startWithExe(path.join(ROOT, 'examples/hello'));

    const res = await request(`http://127.0.0.1:${instance.port}/`);
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toMatch(/^Hello from Ferry \(pid \d+\)/);

    const status = await runExe(['status']);
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toContain(`Instance: ${instance.name}`);
    expect(status.stdout).toMatch(/hello:\n {2}App root: .*examples\/hello/);
    const json = await runExe(['status', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ instance: instance.name });

    // Watchdog, core and the app process are all the executable: nothing ran a node from elsewhere.
    const pids = instanceProcesses(liveInstances(env.FERRY_INSTANCE_REGISTRY_DIR!).find((i) => i.name === instance.name)!).pids;
    expect(pids).toHaveLength(3);
    for (const pid of pids) {
      seenPids.add(pid);
      expect(fs.readlinkSync(`/proc/${pid}/exe`)).toBe(exe);
    }

    // crash-watch --dump (the executable's own) opens the app's inspector with SIGUSR1, which
    // does not kill it, as with node, and closes it again from inside the app.
    const appPid = pids[2]!;
    const logFile = path.join(scratch, `ferry.${instance.port}.log`);
    const inspectorPorts = (): number[] =>
      fs
        .readFileSync(logFile, 'utf8')
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { msg: string; pid?: number; appPid?: number })
        .filter((entry) => (entry.appPid ?? entry.pid) === appPid)
        .map((entry) => Number(INSPECTOR_PORT.exec(entry.msg)?.[1]))
        .filter((port) => port > 0);
    const dump = await runExe(['crash-watch', '--dump', String(appPid), '--json']);
    expect(dump.exitCode, dump.stderr).toBe(0);
    const dumped = JSON.parse(dump.stdout) as CrashWatchResult;
    const [opened] = await waitFor(() => (inspectorPorts().length > 0 ? inspectorPorts() : undefined), "the app's inspector line in the log");
    await expectInspectorClosed(opened!, appPid);
    expect(dumped.inspector).toEqual({ port: opened, closed: true });
    expect(await (await request(`http://127.0.0.1:${instance.port}/`)).body.text()).toContain(`(pid ${appPid})`);
    // A SIGUSR1 nobody follows up (crash-watch gave up on a busy app before the executable's
    // handler ran) opens the inspector for 10 s at most.
    process.kill(appPid, 'SIGUSR1');
    const reopened = (await waitFor(() => inspectorPorts()[1], 'the inspector to open again'))!;
    expect(await acceptsConnections(reopened)).toBe(true);
    await waitFor(async () => !(await acceptsConnections(reopened)), 'the inspector to close by itself', 15_000, 200);
    expect(await (await request(`http://127.0.0.1:${instance.port}/`)).body.text()).toContain(`(pid ${appPid})`);

    const stop = await runExe(['stop']);
    expect(stop.exitCode).toBe(0);
    expect(stop.stdout).toMatch(/Stopped instance \w+ in .*; all 3 processes are gone/);
    expect(survivors(pids, pids)).toEqual([]);
    expect(fs.existsSync(instance.dir)).toBe(false);
    // The flock addon was written to a private temp dir and removed once loaded.
    expect(fs.readdirSync(env.TMPDIR!)).toEqual([]);
  });

  it('runs an ES module app with its own Node, and a child it forks with process.execPath', async () => {
    const app = path.join(scratch, 'esm-app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), '{"type":"module","main":"server.js"}');
    fs.writeFileSync(
      path.join(app, 'server.js'),
      [
        "import http from 'node:http';",
        "import { fork } from 'node:child_process';",
        "const { version } = await import('node:process');",
        "const child = fork(new URL('./child.js', import.meta.url));",
        "const said = await new Promise((resolve) => child.once('message', resolve));",
        'http.createServer((req, res) => res.end(`esm ${version} ${typeof require} ${said}`)).listen(3000);',
      ].join('\n'),
    );
    fs.writeFileSync(path.join(app, 'child.js'), "process.send(`child ${process.argv.slice(2).length}`, () => process.exit(0));\n");
    const instance = await startWithExe(app, ['--app-type', 'node']);
    const res = await request(`http://127.0.0.1:${instance.port}/`);
    expect(await res.body.text()).toBe(`esm ${process.version} undefined child 0`);
    expect((await runExe(['stop'])).exitCode).toBe(0);
    expect(survivors(instance.pids, instance.pids)).toEqual([]);
  });

  it('runs a Node app under the node that --nodejs names, with the loader written to the instance directory', async () => {
    const instance = await startWithExe(path.join(ROOT, 'examples/hello'), ['--nodejs', process.execPath]);
    const appPid = instance.pids[2]!;
    expect(fs.readlinkSync(`/proc/${appPid}/exe`)).toBe(fs.realpathSync(process.execPath));
    expect(fs.readFileSync(`/proc/${appPid}/cmdline`, 'utf8').split('\0')).toContain(path.join(instance.dir, 'loaders/node-loader.cjs'));
    expect(await (await request(`http://127.0.0.1:${instance.port}/`)).body.text()).toContain(`(pid ${appPid})`);
    expect((await runExe(['stop'])).exitCode).toBe(0);
    expect(survivors(instance.pids, instance.pids)).toEqual([]);
  });

  it('runs a WSGI app through the loader it carries', async () => {
    // A copy: python3 would write its bytecode cache into the repository's fixture.
    const instance = await startWithExe(copyFixture('wsgi-app', scratch));
    const res = await request(`http://127.0.0.1:${instance.port}/hello?x=1`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-app']).toBe('wsgi');
    expect(JSON.parse(await res.body.text())).toMatchObject({ method: 'GET', path: '/hello', query: 'x=1' });
    expect(fs.readdirSync(path.join(instance.dir, 'loaders')).sort()).toEqual(['asgi-loader.py', 'node-loader.cjs', 'rack-loader.rb', 'wsgi-loader.py']);
    expect((await runExe(['stop'])).exitCode).toBe(0);
    expect(survivors(instance.pids, instance.pids)).toEqual([]);
  });

  it('runs an ASGI app through the loader it carries (which imports the WSGI loader beside it)', async () => {
    const instance = await startWithExe(copyFixture('asgi-app', scratch));
    const res = await request(`http://127.0.0.1:${instance.port}/items/5`);
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(await res.body.text())).toMatchObject({ id: '5' });
    expect((await runExe(['stop'])).exitCode).toBe(0);
    expect(survivors(instance.pids, instance.pids)).toEqual([]);
  });
});
