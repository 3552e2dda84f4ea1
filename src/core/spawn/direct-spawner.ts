// Launches Node app processes with the loader preloaded, each leading its own process group,
// and waits for the loader's readiness message (or the exit, or the start timeout).

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import type { Readable } from 'node:stream';
import type { AppConfig } from '../../lib/config.js';
import { ASGI_LOADER, nodeAppCommand, RACK_LOADER, WSGI_LOADER } from '../../lib/paths.js';
import { INSPECTOR_LINE } from '../../lib/diagnostics/js-stack.js';
import { isSameProcess, processStartTicks, readWorkerRecords, type WorkerRecord } from '../../lib/instance-registry.js';
import { isProcessRunning } from '../../lib/process-groups.js';
import { signalQuietly } from '../../lib/units.js';
import type { FaultInjector } from '../faults.js';
import type { InstanceDirectory } from '../instance-registry/instance-dir.js';
import type { Logger } from '../log.js';
import { AdoptedProcess } from './adopted-process.js';
import { InspectorGuard } from './inspector-guard.js';
import { createOutputFifos, describeAppLine, openFifoForApp, readFifoLines, removeOutputFifos, type OutputFifos } from './app-output.js';
import { RecentLines } from './recent-lines.js';
import { byHandCommand, OutputTail, SpawnError, type SpawnFailure, type SpawnStep } from './spawn-error.js';
import { describeUpstream, parseUpstream, type SpawnedWorker, type Spawner, type UpstreamAddress } from './spawner.js';

/** Variables that belong to Ferry's own processes and must not leak into apps. */
const PRIVATE_ENV = [
  'LISTEN_FDS',
  'LISTEN_PID',
  'LISTEN_FDNAMES',
  'NODE_CHANNEL_FD',
  'NODE_CHANNEL_SERIALIZATION_MODE',
  'NODE_UNIQUE_ID',
  'FERRY_INSTANCE_DIR',
  'FERRY_LOG_FORMAT',
  'FERRY_LOG_LEVEL',
  'NODE_OPTIONS',
  // Fault injection is for Ferry's core; an app that reads them must not start failing too.
  'FERRY_FAULTS',
  'FERRY_FAULTS_SEED',
  // systemd's, for ferry start alone: an app must not talk to systemd as us.
  'NOTIFY_SOCKET',
  'WATCHDOG_USEC',
  'WATCHDOG_PID',
];

export function buildAppEnv(app: AppConfig, socketPath: string | undefined, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const name of PRIVATE_ENV) delete env[name];
  // NODE_ENV is Ferry's default: the app's own variables (env files, "env", --envvar) may set it.
  env.NODE_ENV = app.environment;
  Object.assign(env, app.envvars);
  if (socketPath !== undefined) env.FERRY_APP_SOCKET = socketPath;
  env.IN_FERRY = '1';
  if (app.user) {
    env.HOME = app.user.home;
    env.USER = app.user.name;
    env.LOGNAME = app.user.name;
  }
  return env;
}

/**
 * What one process writes, followed from its FIFOs: each line one record with app, pid (the
 * app's) and stream. Paused while a new core takes over (two readers would split lines between
 * them), resumed if it fails.
 */
class AppOutput {
  /** Node apps: the inspector's URL, once SIGUSR1 opened it and it said so on stderr. */
  inspectorUrl: string | undefined;
  /** Its last lines, for the evidence kept when it is recycled (see RecentLines). */
  readonly recent = new RecentLines();
  /** Closes an inspector opened after readiness that nobody closed; one opened at start is the operator's. */
  private readonly inspectorGuard: InspectorGuard;
  private ready = false;
  private readers: { close(): void }[] = [];
  private readonly streamLogs: Record<'stdout' | 'stderr', Logger>;

  constructor(
    readonly fifos: OutputFifos,
    /** Ferry's own lines about this process. */
    private readonly log: Logger,
    app: string,
    pid: number,
    private readonly tail: OutputTail | undefined,
    /** The stdout FIFO ended: every writer (the app and what it spawned) is gone. */
    private readonly onEnd: () => void,
  ) {
    this.streamLogs = { stdout: log.foreign({ app, pid, stream: 'stdout' }), stderr: log.foreign({ app, pid, stream: 'stderr' }) };
    this.inspectorGuard = new InspectorGuard(log);
    this.resume();
  }

  /** The app is serving: an inspector that opens from now on is not the one it was started with. */
  markReady(): void {
    this.ready = true;
  }

  private onLine(streamName: 'stdout' | 'stderr'): (line: string, partial: boolean) => void {
    const log = this.streamLogs[streamName];
    return (line, partial) => {
      const { msg, fields, exception } = describeAppLine(line, partial);
      // A loader's exception record: the tail (spawn error, friendly page) gets its traceback as
      // the language prints it, the log one record at error level.
      this.tail?.push(exception ? exception.traceback.replace(/\n?$/, '\n') : partial ? line : line + '\n');
      this.recent.push(`${streamName}: ${line}`);
      if (exception) log.error(msg, fields);
      else log.info(msg, fields);
      if (streamName === 'stderr') {
        const match = INSPECTOR_LINE.exec(line);
        if (match) {
          this.inspectorUrl = match[1] as string;
          if (this.ready) this.inspectorGuard.opened(this.inspectorUrl);
        }
      }
    };
  }

  resume(): void {
    if (this.readers.length > 0) return;
    try {
      this.readers = [readFifoLines(this.fifos.stdout, this.onLine('stdout'), this.onEnd), readFifoLines(this.fifos.stderr, this.onLine('stderr'))];
    } catch (err) {
      this.log.warn('cannot read the app output FIFOs', { err });
    }
  }

  pause(): void {
    this.inspectorGuard.stop();
    for (const reader of this.readers.splice(0)) reader.close();
  }
}

/** Resolves true once something accepts a connection at the address, false after the timeout. */
function accepts(address: UpstreamAddress, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = 'socketPath' in address ? net.connect(address.socketPath) : net.connect(address.port, address.host);
    const done = (ok: boolean): void => {
      probe.destroy();
      resolve(ok);
    };
    probe.setTimeout(timeoutMs, () => done(false));
    probe.once('connect', () => done(true));
    probe.once('error', () => done(false));
  });
}

/** How one app process is started and how Ferry knows it is ready (pure, per app type). */
export interface LaunchPlan {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  address: UpstreamAddress;
  /** pipe: the node loader reports on fd 3. port: ready when the port accepts a connection. */
  readiness: 'pipe' | 'port';
  /** Direct mode: this descriptor of the core (the public listening socket) becomes the app's DIRECT_LISTEN_FD. */
  listenFd?: number;
}

/** Where a Node app finds the public listening socket in direct mode (3 is the readiness pipe). */
export const DIRECT_LISTEN_FD = 4;

export function planLaunch(app: AppConfig, target: { socketPath: string } | { port: number }, base: NodeJS.ProcessEnv, directListenFd?: number): LaunchPlan {
  if (app.appType === 'generic') {
    const port = 'port' in target ? target.port : 0;
    const env = buildAppEnv(app, undefined, base);
    env.PORT = String(port);
    return { command: '/bin/sh', args: ['-c', app.startCommand ?? ''], env, address: { host: '127.0.0.1', port }, readiness: 'port' };
  }
  const socketPath = 'socketPath' in target ? target.socketPath : '';
  const env = buildAppEnv(app, socketPath, base);
  const viaLoader = (command: string, args: string[]): LaunchPlan => ({ command, args, env, address: { socketPath }, readiness: 'pipe' });
  if (app.appType === 'python' || app.appType === 'asgi' || app.appType === 'ruby') {
    // The loaders' thread pool: as many requests at once as the core sends one process (0: no limit).
    env.FERRY_CONCURRENCY = String(app.limits.concurrency);
    // Who sees an exception's details on the loader's 500 page, as on the core's friendly pages.
    env.FERRY_FRIENDLY_ERRORS = app.friendlyErrorPages;
  }
  if (app.appType === 'python') {
    env.PYTHONUNBUFFERED = '1';
    env.WSGI_ENV = app.environment;
    return viaLoader(app.pythonCommand ?? 'python3', [WSGI_LOADER, app.startupFile]);
  }
  if (app.appType === 'asgi') {
    env.PYTHONUNBUFFERED = '1';
    env.ASGI_ENV = app.environment;
    return viaLoader(app.pythonCommand ?? 'python3', [ASGI_LOADER, app.startupFile]);
  }
  if (app.appType === 'ruby') {
    env.RACK_ENV = app.environment;
    return viaLoader(app.rubyCommand ?? 'ruby', [RACK_LOADER, app.startupFile]);
  }
  const node = nodeAppCommand(app.nodeCommand, app.startupFile);
  const plan = viaLoader(node.command, node.args);
  if (directListenFd === undefined) return plan;
  env.FERRY_LISTEN_FD = String(DIRECT_LISTEN_FD);
  // Beside its socket, in a directory of the app's user: the processes make and keep it themselves,
  // so root never writes where that user could plant a link.
  env.FERRY_BOARD_DIR = path.join(path.dirname(socketPath), `board.${app.name.slice(0, 24)}`);
  return { ...plan, listenFd: directListenFd };
}

/** A loopback port nobody listens on right now (the app binds it a moment later). */
function pickFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts connections on the port (or the spawn settled otherwise); polls every 50 ms. */
async function waitForPort(port: number, isDone: () => boolean): Promise<void> {
  while (!isDone()) {
    if (await accepts({ host: '127.0.0.1', port }, 1_000)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** True if `file` is a unix socket (not a symlink to one) owned by `uid`. */
function isSocketOf(file: string, uid: number): boolean {
  try {
    const stat = fs.lstatSync(file);
    return stat.isSocket() && stat.uid === uid;
  } catch {
    return false;
  }
}

export class DirectSpawner implements Spawner {
  /** Records of the processes this core owns, to update them (leaving) without reading them back. */
  private readonly records = new Map<number, WorkerRecord>();
  private readonly outputs = new Map<number, AppOutput>();
  /** Records of exited processes that could not be removed (a failed write); retried at the next spawn. */
  private readonly staleRecords = new Set<number>();

  constructor(
    private readonly instance: InstanceDirectory,
    private readonly log: Logger,
    private readonly faults?: FaultInjector,
    /** Direct mode: the core's descriptor of the public listening socket, handed to every app process. */
    private readonly directListenFd?: number,
  ) {}

  async spawn(app: AppConfig): Promise<SpawnedWorker> {
    for (const pid of this.staleRecords) this.forgetWorker(pid, this.log);
    if (this.faults?.fails('spawn', { app: app.name })) {
      // Through the same SpawnError as a real early exit, so backoff and error reporting run as usual.
      const outputTail = 'injected fault (FERRY_FAULTS spawn): the process is treated as if it exited before it listened\n';
      throw this.failure(app, { category: 'exited-before-ready', step: 'fork', exitCode: 1, signal: null, outputTail }, Date.now());
    }
    // One base name per process: its unix socket (node, WSGI, Rack) and its output FIFOs. An app
    // running as another user binds in that user's directory; the FIFOs stay in ours (the core
    // opens them, as root: they must not be where the app could swap them for symlinks).
    const base = this.instance.appSocketPath(app.name);
    let target: { socketPath: string } | { port: number };
    try {
      target = app.appType === 'generic' ? { port: await pickFreePort() } : { socketPath: app.user ? path.join(this.instance.appUserDir(app.user.uid, app.user.gid), path.basename(base)) : base };
    } catch (err) {
      throw this.failure(app, { category: 'internal', step: 'fork', outputTail: `could not prepare where the app listens: ${String(err)}` }, Date.now(), err);
    }
    return this.launch(app, planLaunch(app, target, process.env, this.directListenFd), base);
  }

  markLeaving(pid: number): void {
    const record = this.records.get(pid);
    if (!record || record.leaving) return;
    record.leaving = true;
    try {
      this.instance.recordWorker(record);
    } catch (err) {
      // At worst a core taking over adopts it and stops it again; not worth failing the stop for.
      this.log.warn('could not mark an app process as leaving in its record', { appPid: pid, err });
    }
  }

  markReady(pid: number): void {
    const record = this.records.get(pid);
    if (!record?.notReady) return;
    delete record.notReady;
    try {
      this.instance.recordWorker(record);
    } catch (err) {
      // At worst a core taking over does not adopt it, and spawns another in its place.
      this.log.warn('could not mark an app process as ready in its record', { appPid: pid, err });
    }
  }

  /**
   * An app running as another user binds in a directory that user owns, where it could later swap
   * its socket for a symlink to any socket root can reach (and the core would forward clients'
   * requests there). So once it is ready, its socket is moved into our own directory (rename does
   * not follow a symlink) and checked there, where nobody else can change it again.
   */
  private settleUserSocket(userPath: string, ownPath: string, uid: number, pid: number): string | { reason: string } {
    try {
      fs.renameSync(userPath, ownPath);
    } catch (err) {
      return { reason: `could not move it into the instance directory (${(err as Error).message})` };
    }
    if (!isSocketOf(ownPath, uid)) {
      fs.rmSync(ownPath, { force: true });
      return { reason: 'not a socket it owns' };
    }
    const record = this.records.get(pid);
    try {
      // A later core adopts the process at the address in its record.
      if (record) this.record({ ...record, address: describeUpstream({ socketPath: ownPath }) });
    } catch (err) {
      return { reason: `could not record its new address (${(err as Error).message})` };
    }
    return ownPath;
  }

  private record(record: WorkerRecord): void {
    this.records.set(record.pid, record);
    this.instance.recordWorker(record);
  }

  /** Handover: stop reading app output; the new core reads it. */
  pauseForHandover(): void {
    for (const output of this.outputs.values()) output.pause();
  }

  /** The new core failed: take the records back (it rewrote them as its own) and read the output again. */
  resumeAfterHandover(): void {
    for (const record of this.records.values()) {
      try {
        this.instance.recordWorker(record);
      } catch (err) {
        this.log.warn('could not take back the record of an app process', { appPid: record.pid, err });
      }
    }
    for (const output of this.outputs.values()) output.resume();
  }

  private forget(pid: number, fifos: OutputFifos | undefined): void {
    this.outputs.get(pid)?.pause();
    this.outputs.delete(pid);
    this.records.delete(pid);
    this.forgetWorker(pid, this.log);
    if (fifos) removeOutputFifos(fifos);
  }

  async adopt(app: AppConfig): Promise<SpawnedWorker[]> {
    const adopted: SpawnedWorker[] = [];
    const records = readWorkerRecords(this.instance.dir).filter((r) => r.app === app.name && r.corePid !== process.pid);
    const addresses = records.map((r) => parseUpstream(r.address));
    // Probed all at once: clients wait in the backlog until this is done.
    const accepting = await Promise.all(records.map((r, index) => {
      const address = addresses[index];
      // Direct mode: it accepts on the public socket, which tells nothing about this process.
      if (r.direct) return true;
      return address && !r.leaving ? accepts(address, 2_000) : false;
    }));
    for (const [index, record] of records.entries()) {
      const fifos = record.stdout && record.stderr ? { stdout: record.stdout, stderr: record.stderr } : undefined;
      const alive = isSameProcess(record.pid, record.startTicks);
      if (record.leaving) {
        // Its core still drains it (a handover); otherwise it was on its way out anyway.
        if (isProcessRunning(record.corePid)) continue;
        this.discard(record, fifos, alive, 'it was leaving rotation when its core died');
        continue;
      }
      if (record.notReady) {
        // Its core was still waiting for its readiness check; adopted, it would serve unready.
        this.discard(record, fifos, alive, 'its readiness check had not answered 2xx yet');
        continue;
      }
      const address = addresses[index];
      if (!alive || !address || !fifos || !fs.existsSync(fifos.stdout) || !accepting[index]) {
        this.discard(record, fifos, alive, !alive ? 'it is gone' : !address || !fifos ? 'its record is incomplete' : 'it does not accept connections');
        continue;
      }
      const child = new AdoptedProcess(record.pid, record.startTicks);
      const appLog = this.log.child({ app: app.name, appPid: record.pid });
      const output = new AppOutput(fifos, appLog, app.name, record.pid, undefined, () => child.check());
      output.markReady();
      this.outputs.set(record.pid, output);
      child.once('exit', () => {
        signalQuietly(-record.pgid, 'SIGKILL');
        this.forget(record.pid, fifos);
      });
      try {
        this.record({ ...record, corePid: process.pid });
      } catch (err) {
        // The record still names the dead core; the watchdog's cleanup finds it all the same.
        appLog.warn('could not update the record of an adopted app process', { err });
      }
      appLog.info('adopted app process from an earlier core', { previousCorePid: record.corePid, address: record.address });
      adopted.push({
        pid: record.pid,
        address,
        child,
        spawnDurationMs: 0,
        startedAtMs: Date.parse(record.startedAt),
        ...(app.appType === 'node' ? { inspectorUrl: () => output.inspectorUrl } : {}),
        recentOutput: () => output.recent.toArray(),
      });
    }
    return adopted;
  }

  /** A recorded process that cannot be adopted: kill what is left of it and forget it. */
  private discard(record: WorkerRecord, fifos: OutputFifos | undefined, alive: boolean, reason: string): void {
    this.log.warn('not adopting an app process left by an earlier core; stopping it', { app: record.app, appPid: record.pid, reason });
    if (alive) signalQuietly(-record.pgid, 'SIGKILL');
    this.forget(record.pid, fifos);
  }

  private launch(app: AppConfig, plan: LaunchPlan, base: string): Promise<SpawnedWorker> {
    const startedAt = Date.now();
    const tail = new OutputTail();
    let child: ChildProcess;
    let fifos: OutputFifos;
    try {
      fifos = createOutputFifos(base);
    } catch (err) {
      return Promise.reject(this.failure(app, { category: 'internal', step: 'fork', outputTail: `could not create the output FIFOs: ${String(err)}` }, startedAt, err));
    }
    const appFds = [openFifoForApp(fifos.stdout), openFifoForApp(fifos.stderr)];
    try {
      child = spawn(plan.command, plan.args, {
        cwd: app.root,
        env: plan.env,
        stdio: ['ignore', appFds[0], appFds[1], plan.readiness === 'pipe' ? 'pipe' : 'ignore', ...(plan.listenFd !== undefined ? [plan.listenFd] : [])],
        // Its own process group, so that stopping it takes everything it spawned too.
        detached: true,
        // libuv drops the supplementary groups when it switches: the user's primary group remains.
        ...(app.user ? { uid: app.user.uid, gid: app.user.gid } : {}),
      });
    } catch (err) {
      removeOutputFifos(fifos);
      return Promise.reject(this.failure(app, { category: 'internal', step: 'fork', outputTail: String(err) }, startedAt, err));
    } finally {
      for (const fd of appFds) fs.closeSync(fd);
    }

    return new Promise<SpawnedWorker>((resolve, reject) => {
      let step: SpawnStep = 'fork';
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const pid = child.pid;
      const appLog = this.log.child({ app: app.name, appPid: pid });
      let output: AppOutput | undefined;

      const fail = (failure: Omit<SpawnFailure, 'app' | 'durationMs' | 'step'>, cause?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (pid !== undefined) signalQuietly(-pid, 'SIGKILL');
        reject(this.failure(app, { ...failure, step }, startedAt, cause));
      };
      const ready = (): void => {
        if (settled) return;
        let address = plan.address;
        if (app.user && 'socketPath' in address) {
          const settledPath = this.settleUserSocket(address.socketPath, base, app.user.uid, pid as number);
          if (typeof settledPath !== 'string') {
            fail({ category: 'internal', pid, outputTail: `${address.socketPath} is not a socket of ${app.user.name}'s: ${settledPath.reason}` });
            return;
          }
          address = { socketPath: settledPath };
        }
        settled = true;
        clearTimeout(timer);
        const spawnDurationMs = Date.now() - startedAt;
        appLog.info('app process ready', { spawnMs: spawnDurationMs });
        output?.markReady();
        resolve({
          pid: pid as number,
          address,
          child,
          spawnDurationMs,
          startedAtMs: startedAt,
          ...(app.appType === 'node' ? { inspectorUrl: () => output?.inspectorUrl } : {}),
          recentOutput: () => output?.recent.toArray() ?? [],
        });
      };

      child.once('error', (err: NodeJS.ErrnoException) => {
        removeOutputFifos(fifos);
        fail({ category: err.code === 'ENOENT' ? 'interpreter-missing' : 'internal', outputTail: `${plan.command}: ${err.message}` }, err);
      });
      if (pid === undefined) return; // 'error' follows

      step = 'load';
      try {
        this.record({
          pid,
          pgid: pid,
          app: app.name,
          address: describeUpstream(plan.address),
          corePid: process.pid,
          startedAt: new Date(startedAt).toISOString(),
          startTicks: processStartTicks(pid),
          stdout: fifos.stdout,
          stderr: fifos.stderr,
          ...(plan.listenFd !== undefined ? { direct: true } : {}),
          ...(app.readiness ? { notReady: true } : {}),
        });
      } catch (err) {
        // Unrecorded, the process would outlive a crash of this core (the watchdog kills what the
        // records name) and no later core could adopt it, so it must not run at all.
        this.records.delete(pid);
        fail({ category: 'internal', pid, outputTail: `could not record the process in the instance directory: ${(err as Error).message}` }, err);
        return;
      }
      output = new AppOutput(fifos, appLog, app.name, pid, tail, () => undefined);
      this.outputs.set(pid, output);

      timer = setTimeout(() => fail({ category: 'timeout', pid, outputTail: tail.toString() }), app.startTimeoutMs);

      child.once('exit', (exitCode, signal) => {
        // Mop up anything the process left in its group, then forget it.
        signalQuietly(-pid, 'SIGKILL');
        // Give the output FIFOs a moment to deliver the last lines before reporting.
        setTimeout(() => {
          this.forget(pid, fifos);
          fail({ category: 'exited-before-ready', pid, exitCode, signal, outputTail: tail.toString() });
        }, 50);
      });

      if (plan.readiness === 'port' && 'port' in plan.address) {
        step = 'listen';
        void waitForPort(plan.address.port, () => settled).then(ready);
        return;
      }
      const readyStream = child.stdio[3] as Readable | null;
      if (!readyStream) {
        fail({ category: 'internal', pid, outputTail: 'no readiness pipe' });
        return;
      }
      readyStream.setEncoding('utf8');
      readline.createInterface({ input: readyStream }).on('line', (line) => {
        let message: { type?: string; message?: string };
        try {
          message = JSON.parse(line) as typeof message;
        } catch {
          return;
        }
        if (message.type === 'listen-failed') {
          step = 'listen';
          fail({ category: 'listen-failed', pid, outputTail: `${tail.toString()}${message.message ?? ''}` });
        } else if (message.type === 'ready') {
          ready();
        }
      });
    });
  }

  /** Removes a process's record; a failed write is logged and retried at the next spawn, never thrown. */
  private forgetWorker(pid: number, log: Logger): void {
    try {
      this.instance.forgetWorker(pid);
      this.staleRecords.delete(pid);
    } catch (err) {
      this.staleRecords.add(pid);
      log.warn('could not remove the record of an exited app process; will retry at the next spawn', { appPid: pid, err });
    }
  }

  private failure(
    app: AppConfig,
    failure: Omit<SpawnFailure, 'app' | 'durationMs'>,
    startedAt: number,
    cause?: unknown,
  ): SpawnError {
    return new SpawnError({ ...failure, app: app.name, durationMs: Date.now() - startedAt, byHand: byHandCommand(app) }, app.startTimeoutMs, cause);
  }
}
