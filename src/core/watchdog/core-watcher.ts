// Starts the core with the inherited listening socket, waits for its readiness message, and
// restarts it when it dies, cleaning up the app processes the dead core left behind.

import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { CoreToWatchdog } from '../../lib/ipc-messages.js';
import type { ErrorPayload } from '../../lib/error-codes.js';
import { readWorkerRecords } from '../../lib/instance-registry.js';
import { CORE_MAIN } from '../../lib/paths.js';
import { signalQuietly } from '../../lib/units.js';
import type { InstanceDirectory } from '../instance-registry/instance-dir.js';
import type { LogFormat, Logger } from '../log.js';
import { decideRestart } from './restart-policy.js';

/** The fd the listening socket has in the watchdog (inherited from ferry start) and in the core. */
export const LISTEN_FD = 3;

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `signal ${signal}` : `exit code ${String(code)}`;
}

export interface CoreWatcherEvents {
  ready: [pid: number];
  'startup-failed': [error: ErrorPayload];
  'gave-up': [error: ErrorPayload];
}

export class CoreWatcher extends EventEmitter<CoreWatcherEvents> {
  private child: ChildProcess | undefined;
  private everReady = false;
  private startupFailureReported = false;
  private stopping = false;
  private readonly crashTimesMs: number[] = [];
  private crashedAtMs: number | undefined;

  constructor(
    private readonly instance: InstanceDirectory,
    private readonly log: Logger,
    private readonly logFormat: LogFormat,
  ) {
    super();
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    // FERRY_CORE_NODE_ARGS passes Node flags to the core only (--cpu-prof, --inspect, heap limits).
    const nodeArgs = (process.env.FERRY_CORE_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
    const child = spawn(process.execPath, [...nodeArgs, CORE_MAIN], {
      stdio: ['ignore', 'inherit', 'inherit', LISTEN_FD, 'ipc'],
      // Its own process group, so one killpg takes the core and nothing else.
      detached: true,
      env: {
        ...process.env,
        FERRY_INSTANCE_DIR: this.instance.dir,
        FERRY_LOG_FORMAT: this.logFormat,
        LISTEN_FDS: '1',
        LISTEN_FDNAMES: 'http',
      },
    });
    this.child = child;
    // The IPC channel can break under a send when the core dies at that moment; its exit is what counts.
    child.on('error', (err) => this.log.debug('core channel error', { err }));
    child.on('message', (message: CoreToWatchdog) => {
      if (message.type === 'ready') {
        this.everReady = true;
        if (this.crashedAtMs !== undefined) {
          this.log.info('core restarted and serving', { corePid: child.pid, recoveryMs: Date.now() - this.crashedAtMs });
          this.crashedAtMs = undefined;
        }
        this.emit('ready', child.pid as number);
      } else if (message.type === 'startup-failed') {
        this.log.error('core could not start', { corePid: child.pid, error: message.error });
        if (!this.everReady) {
          this.startupFailureReported = true;
          this.emit('startup-failed', message.error);
        }
      }
    });
    child.on('exit', (code, signal) => this.onExit(child, code, signal));
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child === child) this.child = undefined;
    this.killLeftovers(child.pid as number);
    if (this.stopping) return;
    if (!this.everReady) {
      // It never served: ferry start is told through 'startup-failed'; nothing to restart.
      if (!this.startupFailureReported) {
        this.emit('startup-failed', { code: 'FERRY_ERR_CORE_START_FAILED', message: `the core exited during start-up (${describeExit(code, signal)})` });
      }
      return;
    }
    const now = Date.now();
    this.crashTimesMs.push(now);
    this.crashedAtMs ??= now;
    const decision = decideRestart(this.crashTimesMs, now);
    if (decision.action === 'give-up') {
      const message = `the core crashed ${decision.recentCrashes} times within a minute (last: ${describeExit(code, signal)}); giving up`;
      this.log.error(`CRASH LOOP: ${message}`, { corePid: child.pid });
      this.emit('gave-up', { code: 'FERRY_ERR_CORE_CRASH_LOOP', message });
      return;
    }
    this.log.error('core crashed; restarting it', { corePid: child.pid, exit: describeExit(code, signal), delayMs: decision.delayMs, recentCrashes: decision.recentCrashes });
    setTimeout(() => {
      if (!this.stopping) this.start();
    }, decision.delayMs);
  }

  /** A dead core cannot stop its app processes; the watchdog does it from the instance records. */
  private killLeftovers(corePid: number): void {
    for (const record of readWorkerRecords(this.instance.dir)) {
      if (record.corePid !== corePid) continue;
      signalQuietly(-record.pgid, 'SIGKILL');
      this.instance.forgetWorker(record.pid);
    }
    signalQuietly(-corePid, 'SIGKILL');
  }

  /** Asks the core to stop gracefully; SIGKILLs its group (and every app group) after the deadline. */
  async stop(deadlineMs: number, force = false): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      if (force) {
        signalQuietly(-(child.pid as number), 'SIGKILL');
      } else if (child.connected) {
        child.send({ type: 'shutdown' }, (err) => {
          if (err) signalQuietly(child.pid as number, 'SIGTERM');
        });
      } else {
        signalQuietly(child.pid as number, 'SIGTERM');
      }
      const timer = setTimeout(() => {
        this.log.warn('core did not stop in time; killing it and every app process', { corePid: child.pid });
        signalQuietly(-(child.pid as number), 'SIGKILL');
      }, Math.max(0, deadlineMs - Date.now()));
      await exited;
      clearTimeout(timer);
    }
    // Whatever the core did or did not do, nothing of the instance outlives the watchdog.
    for (const record of readWorkerRecords(this.instance.dir)) signalQuietly(-record.pgid, 'SIGKILL');
  }
}
