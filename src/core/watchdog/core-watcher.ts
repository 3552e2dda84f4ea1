// Starts the core with the inherited listening socket, waits for its readiness message, and
// restarts it when it dies (the next core adopts the app processes the dead one left), hands
// over to a new core without downtime (`ferry restart`), and cleans up when no core will.

import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { CoreToWatchdog, WatchdogToCore } from '../../lib/ipc-messages.js';
import type { ErrorPayload } from '../../lib/error-codes.js';
import { readWorkerRecords } from '../../lib/instance-registry.js';
import { ferryProcessCommand } from '../../lib/paths.js';
import { signalQuietly } from '../../lib/units.js';
import type { InstanceDirectory } from '../instance-registry/instance-dir.js';
import type { LogLevel } from '../../lib/config.js';
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
  /** A core asked the watchdog to reopen its log file (admin API). */
  'reopen-logs': [];
  /** A core's log level was changed (admin API). */
  'log-level': [level: LogLevel];
}

/**
 * How cores log: the format; the level in force now (it changes at run time, and a core started
 * after the change must keep it); the log file's descriptor now open (a reopen changes it), which
 * a new core gets as stdout and stderr so what Node itself prints lands in the current file.
 */
export interface CoreLogging {
  format: LogFormat;
  level(): LogLevel;
  fileFd(): number | undefined;
}

/** How a handover to a new core (`ferry restart`) ended. */
export type HandoverResult =
  | { ok: true; oldPid: number; newPid: number; durationMs: number; adoptedBy: 'handover' | 'after-kill' }
  | { ok: false; oldPid: number | undefined; error: ErrorPayload };

/** How long a core may take to answer handover-prepare before it is taken for hung and killed. */
const PREPARE_TIMEOUT_MS = 5_000;

export class CoreWatcher extends EventEmitter<CoreWatcherEvents> {
  private child: ChildProcess | undefined;
  private everReady = false;
  private startupFailureReported = false;
  private stopping = false;
  private readonly crashTimesMs: number[] = [];
  private crashedAtMs: number | undefined;
  /** Cores handed over to a successor: their exit is expected. */
  private readonly retiring = new Set<ChildProcess>();
  /**
   * New cores of a failed restart: their exit may come after the failure was settled (its
   * 'startup-failed' message first, or our SIGKILL), and is no crash of the serving core.
   */
  private readonly discarded = new Set<ChildProcess>();
  /** The successor being started in a handover, and what it says first. */
  private successor: { child: ChildProcess; settle: (outcome: 'ready' | ErrorPayload) => void } | undefined;
  private handingOver = false;

  constructor(
    private readonly instance: InstanceDirectory,
    private readonly log: Logger,
    private readonly logging: CoreLogging,
    private readonly shutdownTimeoutMs = 30_000,
    /** The --metrics-address socket, passed on to every core at the same fd. */
    private readonly metricsFd?: number,
  ) {
    super();
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    this.child = this.launch();
  }

  /** Passes a message to the serving core, if there is one (a core starting later needs none). */
  tellCore(message: WatchdogToCore): void {
    if (this.child?.connected) this.child.send(message, () => undefined);
  }

  private launch(): ChildProcess {
    // FERRY_CORE_NODE_ARGS passes Node flags to the core only (--cpu-prof, --inspect, heap limits).
    const nodeArgs = (process.env.FERRY_CORE_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
    const { command, args, nodeOptions } = ferryProcessCommand('core', nodeArgs);
    const out = this.logging.fileFd() ?? 'inherit';
    const child = spawn(command, args, {
      stdio: ['ignore', out, out, LISTEN_FD, 'ipc', ...(this.metricsFd === undefined ? [] : [this.metricsFd])],
      // Its own process group, so one killpg takes the core and nothing else.
      detached: true,
      env: {
        ...process.env,
        ...(nodeOptions === undefined ? {} : { NODE_OPTIONS: nodeOptions }),
        FERRY_INSTANCE_DIR: this.instance.dir,
        FERRY_LOG_FORMAT: this.logging.format,
        FERRY_LOG_LEVEL: this.logging.level(),
        LISTEN_FDS: '1',
        LISTEN_FDNAMES: 'http',
      },
    });
    // The IPC channel can break under a send when the core dies at that moment; its exit is what counts.
    child.on('error', (err) => this.log.debug('core channel error', { err }));
    child.on('message', (message: CoreToWatchdog) => {
      if (message.type === 'reopen-logs') return void this.emit('reopen-logs');
      if (message.type === 'log-level') return void this.emit('log-level', message.level);
      if (this.successor?.child === child) {
        if (message.type === 'ready') this.successor.settle('ready');
        else if (message.type === 'startup-failed') this.successor.settle(message.error);
        return;
      }
      if (message.type === 'ready') {
        this.everReady = true;
        if (this.crashedAtMs !== undefined) {
          this.log.info('core restarted and serving', { corePid: child.pid, recoveryMs: Date.now() - this.crashedAtMs });
          this.crashedAtMs = undefined;
        }
        this.emit('ready', child.pid as number);
      } else if (message.type === 'startup-failed') {
        // Without the app's output: the pool logged it line by line just before.
        const { outputTail: _output, ...details } = message.error.details ?? {};
        this.log.error('core could not start', { corePid: child.pid, error: { ...message.error, details } });
        if (!this.everReady) {
          this.startupFailureReported = true;
          this.emit('startup-failed', message.error);
        }
      }
    });
    child.on('exit', (code, signal) => this.onExit(child, code, signal));
    return child;
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child === child) this.child = undefined;
    // The core's own group: the core alone (app processes lead groups of their own).
    signalQuietly(-(child.pid as number), 'SIGKILL');
    if (this.discarded.delete(child)) return;
    if (this.retiring.delete(child)) {
      this.log.info('previous core exited after the handover', { corePid: child.pid, exit: describeExit(code, signal) });
      return;
    }
    if (this.successor?.child === child) {
      this.successor.settle({ code: 'FERRY_ERR_CORE_START_FAILED', message: `the new core exited during start-up (${describeExit(code, signal)})` });
      return;
    }
    if (this.stopping) return;
    if (!this.everReady) {
      this.killLeftovers();
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
      this.killLeftovers();
      this.emit('gave-up', { code: 'FERRY_ERR_CORE_CRASH_LOOP', message });
      return;
    }
    // The app processes keep running: the next core adopts them from the instance's records.
    this.log.error('core crashed; restarting it (app processes are kept and adopted)', {
      corePid: child.pid,
      exit: describeExit(code, signal),
      delayMs: decision.delayMs,
      recentCrashes: decision.recentCrashes,
      ...faultSeedField(),
    });
    // Clients wait in the backlog meanwhile: the first restarts do not wait for a timer's turn.
    if (decision.delayMs === 0) {
      this.start();
      return;
    }
    setTimeout(() => {
      if (!this.stopping && !this.child) this.start();
    }, decision.delayMs);
  }

  /** No core will take the app processes over: kill every one the records name. */
  private killLeftovers(): void {
    for (const record of readWorkerRecords(this.instance.dir)) {
      signalQuietly(-record.pgid, 'SIGKILL');
      this.instance.forgetWorker(record.pid);
    }
  }

  /**
   * Zero-downtime core restart: the old core stops managing its processes, a new core starts on
   * the same listening socket and adopts them, then the old core stops accepting, finishes its
   * requests and exits. Connections never see a refusal (the socket stays open throughout). If
   * the new core fails, the old one goes on as before. A core that does not answer is killed and
   * the new one adopts its processes as after a crash.
   */
  async handOver(): Promise<HandoverResult> {
    const old = this.child;
    if (this.stopping || !old) return { ok: false, oldPid: old?.pid, error: { code: 'FERRY_ERR_SHUTTING_DOWN', message: 'the instance is stopping' } };
    if (this.handingOver) return { ok: false, oldPid: old.pid, error: { code: 'FERRY_ERR_CORE_RESTART_BUSY', message: 'a core restart is already under way' } };
    this.handingOver = true;
    const startedAtMs = Date.now();
    const oldPid = old.pid as number;
    try {
      this.log.info('core restart: handing over to a new core', { oldCorePid: oldPid });
      const prepared = await this.ask(old, { type: 'handover-prepare' }, 'handover-prepared', PREPARE_TIMEOUT_MS);
      this.retiring.add(old);
      if (!prepared) {
        this.log.error('core restart: the core did not answer; killing it (its app processes are adopted)', { corePid: oldPid });
        const gone = new Promise((resolve) => old.once('exit', resolve));
        signalQuietly(-oldPid, 'SIGKILL');
        await gone;
      }
      const outcome = await this.startSuccessor();
      if (outcome.pid === undefined || outcome.outcome !== 'ready') {
        const error: ErrorPayload = outcome.outcome === 'ready' ? { code: 'FERRY_ERR_CORE_RESTART_FAILED', message: 'the new core did not start' } : { ...outcome.outcome, code: 'FERRY_ERR_CORE_RESTART_FAILED' };
        if (prepared && old.exitCode === null && old.signalCode === null) {
          this.retiring.delete(old);
          old.send({ type: 'handover-abort' }, () => undefined);
          this.log.error('core restart failed: the new core did not start; the old core goes on serving', { error });
        } else {
          this.log.error('core restart failed and the old core is gone; starting a core again', { error });
          this.child = undefined;
          this.start();
        }
        return { ok: false, oldPid, error };
      }
      if (prepared) {
        const gone = new Promise<void>((resolve) => {
          if (old.exitCode !== null || old.signalCode !== null) resolve();
          else old.once('exit', () => resolve());
        });
        old.send({ type: 'handover-finish' }, () => undefined);
        const killTimer = setTimeout(() => {
          this.log.warn('previous core did not finish its requests in time; killing it', { corePid: oldPid });
          signalQuietly(-oldPid, 'SIGKILL');
        }, this.shutdownTimeoutMs);
        await gone;
        clearTimeout(killTimer);
      }
      const durationMs = Date.now() - startedAtMs;
      this.log.info('core restart finished', { oldCorePid: oldPid, newCorePid: outcome.pid, durationMs });
      return { ok: true, oldPid, newPid: outcome.pid, durationMs, adoptedBy: prepared ? 'handover' : 'after-kill' };
    } finally {
      this.handingOver = false;
    }
  }

  /** Starts the next core beside the current one; resolves with its first word. */
  private startSuccessor(): Promise<{ pid: number | undefined; outcome: 'ready' | ErrorPayload }> {
    return new Promise((resolve) => {
      // Its messages and exit come later, in other ticks: registering it right after launch is in time.
      const child = this.launch();
      this.successor = {
        child,
        settle: (outcome) => {
          if (this.successor?.child !== child) return;
          this.successor = undefined;
          if (outcome === 'ready') {
            this.child = child;
            this.everReady = true;
            this.emit('ready', child.pid as number);
          } else if (child.exitCode === null && child.signalCode === null) {
            // Its exit comes later: onExit must not take it for the serving core crashing (it
            // would start yet another core beside the one that goes on serving).
            this.discarded.add(child);
            signalQuietly(-(child.pid as number), 'SIGKILL');
          }
          resolve({ pid: child.pid, outcome });
        },
      };
    });
  }

  /** Sends a message and waits for the answer of the given type; false on timeout or exit. */
  private ask(child: ChildProcess, message: WatchdogToCore, answer: CoreToWatchdog['type'], timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        child.removeListener('message', onMessage);
        child.removeListener('exit', onExit);
        resolve(ok);
      };
      const onMessage = (reply: CoreToWatchdog): void => {
        if (reply.type === answer) done(true);
      };
      const onExit = (): void => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      child.on('message', onMessage);
      child.once('exit', onExit);
      if (!child.connected) return done(false);
      child.send(message, (err) => {
        if (err) done(false);
      });
    });
  }

  /** Asks the core to stop gracefully; SIGKILLs its group (and every app group) after the deadline. */
  async stop(deadlineMs: number, force = false): Promise<void> {
    this.stopping = true;
    const cores = [this.child, this.successor?.child, ...this.retiring].filter((c): c is ChildProcess => c !== undefined && c.exitCode === null && c.signalCode === null);
    await Promise.all(cores.map((child) => this.stopCore(child, deadlineMs, force)));
    // Whatever the core did or did not do, nothing of the instance outlives the watchdog.
    for (const record of readWorkerRecords(this.instance.dir)) signalQuietly(-record.pgid, 'SIGKILL');
  }

  private async stopCore(child: ChildProcess, deadlineMs: number, force: boolean): Promise<void> {
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
}

/** FERRY_FAULTS_SEED in crash logs, so a fault-injected run that crashed can be repeated. */
function faultSeedField(): { faultsSeed?: string } {
  const seed = process.env.FERRY_FAULTS_SEED;
  return seed ? { faultsSeed: seed } : {};
}
