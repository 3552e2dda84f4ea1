// Launches Node app processes with the loader preloaded, each leading its own process group,
// and waits for the loader's readiness message (or the exit, or the start timeout).

import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import readline from 'node:readline';
import type { Readable } from 'node:stream';
import type { AppConfig } from '../../lib/config.js';
import { NODE_LOADER, RACK_LOADER, WSGI_LOADER } from '../../lib/paths.js';
import { INSPECTOR_LINE } from '../../lib/diagnostics/js-stack.js';
import { signalQuietly } from '../../lib/units.js';
import type { FaultInjector } from '../faults.js';
import type { InstanceDirectory } from '../instance-registry/instance-dir.js';
import type { Logger } from '../log.js';
import { OutputTail, SpawnError, type SpawnFailure, type SpawnStep } from './spawn-error.js';
import { describeUpstream, type SpawnedProcess, type Spawner, type UpstreamAddress } from './spawner.js';

/** Variables that belong to Ferry's own processes and must not leak into apps. */
const PRIVATE_ENV = [
  'LISTEN_FDS',
  'LISTEN_PID',
  'LISTEN_FDNAMES',
  'NODE_CHANNEL_FD',
  'NODE_CHANNEL_SERIALIZATION_MODE',
  'NODE_UNIQUE_ID',
  'FERRY_INSTANCE_DIR',
  'NODE_OPTIONS',
  // Fault injection is for Ferry's core; an app that reads them must not start failing too.
  'FERRY_FAULTS',
  'FERRY_FAULTS_SEED',
];

export function buildAppEnv(app: AppConfig, socketPath: string | undefined, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const name of PRIVATE_ENV) delete env[name];
  Object.assign(env, app.envvars);
  env.NODE_ENV = app.environment;
  if (socketPath !== undefined) env.FERRY_APP_SOCKET = socketPath;
  env.IN_FERRY = '1';
  return env;
}

/** Logs each line a process writes, tagged with app and pid. */
function pipeOutput(stream: Readable | null, log: Logger, tail: OutputTail, streamName: 'stdout' | 'stderr', onLine?: (line: string) => void): void {
  if (!stream) return;
  stream.setEncoding('utf8');
  readline.createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
    tail.push(line + '\n');
    log.info(line, { stream: streamName });
    onLine?.(line);
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
}

export function planLaunch(app: AppConfig, target: { socketPath: string } | { port: number }, base: NodeJS.ProcessEnv): LaunchPlan {
  if (app.appType === 'generic') {
    const port = 'port' in target ? target.port : 0;
    const env = buildAppEnv(app, undefined, base);
    env.PORT = String(port);
    return { command: '/bin/sh', args: ['-c', app.startCommand ?? ''], env, address: { host: '127.0.0.1', port }, readiness: 'port' };
  }
  const socketPath = 'socketPath' in target ? target.socketPath : '';
  const env = buildAppEnv(app, socketPath, base);
  const viaLoader = (command: string, args: string[]): LaunchPlan => ({ command, args, env, address: { socketPath }, readiness: 'pipe' });
  if (app.appType === 'python') {
    env.PYTHONUNBUFFERED = '1';
    env.WSGI_ENV = app.environment;
    return viaLoader(app.pythonCommand ?? 'python3', [WSGI_LOADER, app.startupFile]);
  }
  if (app.appType === 'ruby') {
    env.RACK_ENV = app.environment;
    return viaLoader(app.rubyCommand ?? 'ruby', [RACK_LOADER, app.startupFile]);
  }
  // The inspector stays closed; SIGUSR1 opens it on a free loopback port when Ferry needs a JS stack.
  return viaLoader(app.nodeCommand, ['--inspect-port=127.0.0.1:0', '--require', NODE_LOADER, app.startupFile]);
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

/** Resolves once something accepts connections on the port; polls every 50 ms. */
function waitForPort(port: number, isDone: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const attempt = (): void => {
      if (isDone()) return;
      const probe = net.connect(port, '127.0.0.1');
      probe.once('connect', () => {
        probe.destroy();
        resolve();
      });
      probe.once('error', () => {
        probe.destroy();
        setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

export class DirectSpawner implements Spawner {
  /** Records of exited processes that could not be removed (a failed write); retried at the next spawn. */
  private readonly staleRecords = new Set<number>();

  constructor(
    private readonly instance: InstanceDirectory,
    private readonly log: Logger,
    private readonly faults?: FaultInjector,
  ) {}

  async spawn(app: AppConfig): Promise<SpawnedProcess> {
    for (const pid of this.staleRecords) this.forgetWorker(pid, this.log);
    if (this.faults?.fails('spawn', { app: app.name })) {
      // Through the same SpawnError as a real early exit, so backoff and error reporting run as usual.
      const outputTail = 'injected fault (FERRY_FAULTS spawn): the process is treated as if it exited before it listened\n';
      throw this.failure(app, { category: 'exited-before-ready', step: 'fork', exitCode: 1, signal: null, outputTail }, Date.now());
    }
    const target = app.appType === 'generic' ? { port: await pickFreePort() } : { socketPath: this.instance.appSocketPath(app.name) };
    return this.launch(app, planLaunch(app, target, process.env));
  }

  private launch(app: AppConfig, plan: LaunchPlan): Promise<SpawnedProcess> {
    const startedAt = Date.now();
    const tail = new OutputTail();
    let child: ChildProcess;
    try {
      child = spawn(plan.command, plan.args, {
        cwd: app.root,
        env: plan.env,
        stdio: ['ignore', 'pipe', 'pipe', plan.readiness === 'pipe' ? 'pipe' : 'ignore'],
        // Its own process group, so that stopping it takes everything it spawned too.
        detached: true,
      });
    } catch (err) {
      return Promise.reject(this.failure(app, { category: 'internal', step: 'fork', outputTail: String(err) }, startedAt, err));
    }

    return new Promise<SpawnedProcess>((resolve, reject) => {
      let step: SpawnStep = 'fork';
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const pid = child.pid;
      const appLog = this.log.child({ app: app.name, appPid: pid });

      const fail = (failure: Omit<SpawnFailure, 'app' | 'durationMs' | 'step'>, cause?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (pid !== undefined) signalQuietly(-pid, 'SIGKILL');
        reject(this.failure(app, { ...failure, step }, startedAt, cause));
      };
      const ready = (): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const spawnDurationMs = Date.now() - startedAt;
        appLog.info('app process ready', { spawnMs: spawnDurationMs });
        resolve({ pid: pid as number, address: plan.address, child, spawnDurationMs, ...(app.appType === 'node' ? { inspectorUrl: () => inspectorUrl } : {}) });
      };

      child.once('error', (err: NodeJS.ErrnoException) => {
        fail({ category: err.code === 'ENOENT' ? 'interpreter-missing' : 'internal', outputTail: `${plan.command}: ${err.message}` }, err);
      });
      if (pid === undefined) return; // 'error' follows

      step = 'load';
      try {
        this.instance.recordWorker({ pid, pgid: pid, app: app.name, address: describeUpstream(plan.address), corePid: process.pid, startedAt: new Date(startedAt).toISOString() });
      } catch (err) {
        // Unrecorded, the process would outlive a crash of this core (the watchdog kills what the
        // records name), so it must not run at all.
        fail({ category: 'internal', pid, outputTail: `could not record the process in the instance directory: ${(err as Error).message}` }, err);
        return;
      }
      pipeOutput(child.stdout, appLog, tail, 'stdout');
      let inspectorUrl: string | undefined;
      pipeOutput(child.stderr, appLog, tail, 'stderr', (line) => {
        const match = INSPECTOR_LINE.exec(line);
        if (match) inspectorUrl = match[1];
      });

      timer = setTimeout(() => fail({ category: 'timeout', pid, outputTail: tail.toString() }), app.startTimeoutMs);

      child.once('exit', (exitCode, signal) => {
        // Mop up anything the process left in its group, then forget it.
        signalQuietly(-pid, 'SIGKILL');
        this.forgetWorker(pid, appLog);
        // Give the output pipes a moment to deliver the last lines before reporting.
        setTimeout(() => fail({ category: 'exited-before-ready', pid, exitCode, signal, outputTail: tail.toString() }), 50);
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
    return new SpawnError({ ...failure, app: app.name, durationMs: Date.now() - startedAt }, app.startTimeoutMs, cause);
  }
}
