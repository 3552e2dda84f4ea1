// AppGroup: one app's processes, the requests waiting for one of them, spawning to keep the
// minimum alive, backing off when the app keeps failing, restarts (blocking or rolling),
// detaching single processes, and stopping gracefully.

import type { AppConfig } from '../../lib/config.js';
import type { GroupSnapshot, GroupState, RestartAppResponse } from '../../lib/admin-api-contract.js';
import fs from 'node:fs';
import path from 'node:path';
import { captureJsStack, formatFrames } from '../../lib/diagnostics/js-stack.js';
import { readProcessMetrics } from '../../lib/diagnostics/process-metrics.js';
import { signalQuietly } from '../../lib/units.js';
import { CoreError } from '../errors.js';
import type { Logger } from '../log.js';
import type { SpawnError } from '../spawn/spawn-error.js';
import type { SpawnedProcess, Spawner } from '../spawn/spawner.js';
import { AppStats } from './app-stats.js';
import { chooseWorker } from './routing.js';
import { Session } from './session.js';
import { WorkerProcess } from './worker.js';

/** How the pool grants room for one more process. */
export interface CapacityGate {
  hasCapacity(): boolean;
  /** A full pool may stop an idle process of another app to make room; true if it did. */
  makeRoom?(requester: AppGroup): boolean;
}

interface Waiter {
  resolve(session: Session): void;
  reject(err: CoreError): void;
  enqueuedAtMs: number;
  /** Sheds the request when it waited longer than max-request-queue-time. */
  timer?: NodeJS.Timeout;
}

interface RestartInfo {
  rolling: boolean;
  generation: number;
  startedAtMs: number;
  /** Why a new process failed: a rolling restart stopped there (old ones keep serving); a blocking one retries in backoff. */
  failed?: string;
}

/** A process that dies younger than this counts as a failure for backoff. */
const STABLE_UPTIME_MS = 10_000;
const MAX_BACKOFF_MS = 30_000;
const DRAIN_POLL_MS = 20;
const KILL_AFTER_TERM_MS = 5_000;
/** Time a detached or restarted process gets to finish its requests before it is stopped anyway. */
export const DETACH_DRAIN_MS = 30_000;
/** Where the core sends the out-of-band work request an app asked for. */
export const OOB_WORK_PATH = '/ferry/oob-work';
/** How often memory limits and tmp/restart.txt are checked. */
const MAINTENANCE_INTERVAL_MS = 2_000;

/** Delay before the next spawn after `failures` consecutive failures (pure). */
export function spawnBackoffMs(failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(MAX_BACKOFF_MS, 500 * 2 ** (failures - 1));
}

export class AppGroup {
  readonly workers: WorkerProcess[] = [];
  private spawning = 0;
  /** Spawns under way, so stop() can wait for them instead of leaving them to the watchdog. */
  private readonly pendingSpawns = new Set<Promise<WorkerProcess>>();
  private readonly waitList: Waiter[] = [];
  /**
   * Two kinds of failure make the group back off, and each has its own proof of recovery: spawns
   * that failed in a row end with a spawn that succeeds; processes that died young (a crash loop,
   * where every spawn succeeds) end only with one that lived STABLE_UPTIME_MS.
   */
  private spawnFailures = 0;
  private earlyExits = 0;
  private nextSpawnAllowedAtMs = 0;
  private respawnTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  /** Bumped by every restart; processes spawned after it carry the new number. */
  private generation = 0;
  private restartInfo: RestartInfo | undefined;
  lastSpawnError: SpawnError | undefined;
  /** What the metrics endpoint reports for this app: plain counters, read at scrape time. */
  readonly stats = new AppStats();
  private lastSpawnErrorAtMs = 0;

  constructor(
    readonly app: AppConfig,
    private readonly capacity: CapacityGate,
    private readonly spawner: Spawner,
    private readonly log: Logger,
  ) {
    this.startTimers();
  }

  /** Idle reaping and maintenance (memory limit, tmp/restart.txt); stopped by freeze() and stop(). */
  private startTimers(): void {
    const idleMs = this.app.limits.poolIdleTimeMs;
    if (idleMs > 0) {
      // Check often enough that an idle process goes within ~10% of its idle time (at most every 5 s).
      this.idleTimer = setInterval(() => this.reapIdle(), Math.max(100, Math.min(5_000, Math.floor(idleMs / 10))));
      this.idleTimer.unref();
    }
    this.maintenanceTimer = setInterval(() => this.maintain(), MAINTENANCE_INTERVAL_MS);
    this.maintenanceTimer.unref();
  }

  private idleTimer: NodeJS.Timeout | undefined;
  private maintenanceTimer: NodeJS.Timeout | undefined;
  /** mtime of tmp/restart.txt when last seen; undefined until the first look. */
  private restartFileMtimeMs: number | undefined | null;

  /** Periodic checks: processes over memory-limit, and tmp/restart.txt. */
  private maintain(): void {
    if (this.stopping) return;
    const limit = this.app.limits.memoryLimitBytes;
    if (limit > 0) {
      for (const worker of this.workers) {
        if (worker.state !== 'ready') continue;
        const m = readProcessMetrics(worker.pid);
        const usedBytes = m.privateDirtyBytes !== null ? m.privateDirtyBytes + (m.swapBytes ?? 0) : m.rssBytes;
        if (usedBytes === null || usedBytes <= limit) continue;
        // Drained, not killed: its requests finish, then it goes; a replacement keeps the minimum.
        this.log.warn('app process over memory-limit; replacing it', { appPid: worker.pid, usedBytes, memoryLimitBytes: limit });
        void this.stopWorker(worker, Date.now() + DETACH_DRAIN_MS);
        this.ensureProcesses();
      }
    }
    void this.checkRestartFile();
  }

  /** Set while tmp/always_restart.txt exists (checked every 2 s). */
  private alwaysRestart = false;

  /**
   * Passenger's convention: touching tmp/restart.txt restarts the app; tmp/always_restart.txt
   * restarts it on every request. lstat, not stat: root does not follow a link the app's user put
   * there (its restarts would tell whether, and when, a file only root can see changed); a link
   * counts by its own mtime (touch -h).
   */
  private async checkRestartFile(): Promise<void> {
    this.alwaysRestart = await fs.promises.lstat(path.join(this.app.root, 'tmp', 'always_restart.txt')).then(
      () => true,
      () => false,
    );
    let mtimeMs: number | null;
    try {
      mtimeMs = (await fs.promises.lstat(path.join(this.app.root, 'tmp', 'restart.txt'))).mtimeMs;
    } catch {
      mtimeMs = null;
    }
    const seen = this.restartFileMtimeMs;
    this.restartFileMtimeMs = mtimeMs;
    if (seen === undefined || mtimeMs === null || mtimeMs === seen || this.stopping) return;
    this.log.info('tmp/restart.txt changed; restarting', { rolling: this.app.rollingRestarts });
    this.restart(this.app.rollingRestarts);
  }

  get name(): string {
    return this.app.name;
  }

  /**
   * Processes that count against max-pool-size: routable ones and those being spawned. Draining
   * ones (detached, restarted) do not, as in Passenger, so their replacements can start at once.
   */
  get processCount(): number {
    let count = this.spawning;
    for (const worker of this.workers) if (worker.state === 'ready') count++;
    return count;
  }

  /**
   * Takes over the processes an earlier core left serving (after a crash or a handover), then
   * spawns up to the minimum; rejects with the first spawn failure.
   */
  async start(): Promise<void> {
    // Requests that arrive meanwhile wait (a core restarted after a crash gets them from the
    // backlog at once): a spawn for them now would overshoot the pool size.
    this.adopting = true;
    let adopted: SpawnedProcess[];
    try {
      // The first look at tmp/restart.txt, before serving: a file touched once the instance serves
      // is a change (not a baseline taken up to 2 s later), and always_restart.txt holds from the
      // start. Side by side with the takeover, which waits for nothing it finds there.
      [, adopted] = await Promise.all([this.checkRestartFile(), this.spawner.adopt?.(this.app) ?? []]);
    } finally {
      this.adopting = false;
    }
    for (const spawned of adopted) {
      const worker = this.addWorker(spawned, this.generation);
      if (spawned.startedAtMs !== undefined) worker.spawnedAtMs = spawned.startedAtMs;
      worker.adopted = true;
    }
    if (this.workers.length > 0) {
      this.log.info('adopted app processes', { pids: this.workers.map((w) => w.pid) });
      this.serveWaiters();
    }
    const missing = Math.max(0, this.app.minInstances - this.processCount);
    const spawns = Array.from({ length: missing }, () => this.spawnOne());
    const results = await Promise.allSettled(spawns);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    // With adopted processes serving, a failed spawn is the usual backoff, not a failed start.
    if (failed && !this.workers.some((w) => w.adopted)) throw failed.reason;
  }

  /**
   * A session on the least busy process with room, at once if there is one, else when one has
   * room. The queue is bounded (max-request-queue-size) and, optionally, so is the wait.
   */
  checkout(stickyId?: string): Session | Promise<Session> {
    // tmp/always_restart.txt: a fresh process for every request (one restart at a time).
    if (this.alwaysRestart && !this.restartInfo && !this.stopping && !this.frozen) this.restart(false);
    const worker = (stickyId !== undefined ? this.stickyWorker(stickyId) : undefined) ?? chooseWorker(this.workers);
    if (worker) {
      const session = new Session(worker, this.onSessionClose);
      if (this.allBusy()) this.ensureProcesses(); // scale out under load
      return session;
    }
    if (this.stopping) throw new CoreError('FERRY_ERR_SHUTTING_DOWN', 'the server is shutting down');
    const backoffLeftMs = this.nextSpawnAllowedAtMs - Date.now();
    if (this.spawning === 0 && backoffLeftMs > 0 && this.lastSpawnError) throw this.unavailable(backoffLeftMs);
    const { maxRequestQueueSize, maxRequestQueueTimeMs } = this.app.limits;
    if (maxRequestQueueSize > 0 && this.waitList.length >= maxRequestQueueSize) {
      throw new CoreError('FERRY_ERR_POOL_QUEUE_FULL', `app '${this.name}' already has ${this.waitList.length} requests waiting (max-request-queue-size)`, {
        details: { retryAfterMs: 1000 },
      });
    }
    return new Promise<Session>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, enqueuedAtMs: Date.now() };
      if (maxRequestQueueTimeMs > 0) {
        waiter.timer = setTimeout(() => {
          const index = this.waitList.indexOf(waiter);
          if (index < 0) return;
          this.waitList.splice(index, 1);
          reject(
            new CoreError('FERRY_ERR_POOL_QUEUE_TIMEOUT', `request waited ${maxRequestQueueTimeMs} ms for a process of '${this.name}' (max-request-queue-time)`, {
              details: { retryAfterMs: 1000 },
            }),
          );
        }, maxRequestQueueTimeMs);
      }
      this.waitList.push(waiter);
      this.ensureProcesses();
    });
  }

  /** The process a sticky cookie names, if it is routable and has room; else the client goes elsewhere. */
  private stickyWorker(stickyId: string): WorkerProcess | undefined {
    const worker = this.workers.find((w) => w.stickyId === stickyId);
    if (!worker || !worker.isRoutable) return undefined;
    const { concurrency } = this.app.limits;
    return concurrency > 0 && worker.sessions >= concurrency ? undefined : worker;
  }

  private readonly onSessionClose = (session: Session): void => {
    const worker = session.worker;
    const { maxRequests } = this.app.limits;
    if (maxRequests > 0 && worker.processed >= maxRequests && worker.state === 'ready' && !this.frozen) {
      this.log.info('replacing app process after max-requests', { appPid: worker.pid, processed: worker.processed });
      void this.stopWorker(worker, Date.now() + DETACH_DRAIN_MS);
      this.ensureProcesses();
    }
    this.serveWaiters();
  };

  /** Every routable process is busy: at its concurrency limit, or past busy-sessions when unlimited. */
  private allBusy(): boolean {
    const { concurrency, busySessions } = this.app.limits;
    const threshold = concurrency > 0 ? concurrency : busySessions;
    let routable = 0;
    for (const worker of this.workers) {
      if (!worker.isRoutable) continue;
      routable++;
      if (worker.sessions < threshold) return false;
    }
    return routable > 0;
  }

  /** Stops processes beyond the minimum that have had no request for pool-idle-time, longest idle first. */
  private reapIdle(now = Date.now()): void {
    if (this.stopping) return;
    const idle = this.workers
      .filter((w) => w.state === 'ready' && w.sessions === 0 && now - w.lastUsedAtMs >= this.app.limits.poolIdleTimeMs)
      .sort((a, b) => a.lastUsedAtMs - b.lastUsedAtMs);
    for (const worker of idle) {
      if (this.processCount <= this.app.minInstances) return;
      this.log.info('stopping idle app process', { appPid: worker.pid, idleMs: now - worker.lastUsedAtMs });
      void this.stopWorker(worker, now);
    }
  }

  private unavailable(retryAfterMs: number): CoreError {
    return new CoreError('FERRY_ERR_POOL_UNAVAILABLE', `app '${this.name}' cannot start: ${this.lastSpawnError?.message ?? 'unknown error'}`, {
      details: { retryAfterMs, spawnError: this.lastSpawnError?.failure },
    });
  }

  /**
   * Below the minimum: spawn. Beyond it, one process at a time, when requests wait or when every
   * process is busy (Node's unlimited concurrency never makes requests wait, so busyness must).
   */
  private needsProcess(): boolean {
    if (this.processCount < this.app.minInstances) return true;
    if (this.spawning > 0) return false;
    return this.waitList.length > 0 || this.allBusy();
  }

  /** Spawns until the minimum is met (or one process when requests wait and none is coming). */
  private ensureProcesses(): void {
    if (this.stopping || this.frozen || this.adopting || this.respawnTimer || !this.needsProcess()) return;
    const delayMs = Math.max(0, this.nextSpawnAllowedAtMs - Date.now());
    if (delayMs > 0) {
      this.respawnTimer = setTimeout(() => {
        this.respawnTimer = undefined;
        this.ensureProcesses();
      }, delayMs);
      return;
    }
    // spawnOne counts itself in `spawning` synchronously, so this loop ends.
    while (this.needsProcess() && (this.capacity.hasCapacity() || this.capacity.makeRoom?.(this))) this.spawnOne().catch(() => undefined); // logged in doSpawn
  }

  private spawnOne(): Promise<WorkerProcess> {
    const spawn = this.doSpawn();
    this.pendingSpawns.add(spawn);
    const forget = (): void => {
      this.pendingSpawns.delete(spawn);
    };
    spawn.then(forget, forget);
    return spawn;
  }

  private async doSpawn(): Promise<WorkerProcess> {
    this.spawning++;
    const generation = this.generation;
    const startedAtMs = Date.now();
    let spawned: SpawnedProcess;
    try {
      spawned = await this.spawner.spawn(this.app);
    } catch (err) {
      const spawnError = err as SpawnError;
      // Spawns started together (the minimum, at start or after a backoff) that fail count once:
      // one more round failed, so the backoff doubles once, not once per process.
      if (startedAtMs > this.lastSpawnErrorAtMs) this.spawnFailures++;
      this.stats.spawnFailures++;
      this.lastSpawnError = spawnError;
      this.lastSpawnErrorAtMs = Date.now();
      const failures = this.spawnFailures + this.earlyExits;
      const backoffMs = spawnBackoffMs(failures);
      this.nextSpawnAllowedAtMs = Date.now() + backoffMs;
      // The app's own output is in the log already, line by line, and the stack of a SpawnError
      // is Ferry's, not the app's: log the one-line reason. An internal failure is Ferry's: all of it.
      const { outputTail, ...facts } = spawnError.failure;
      const internal = facts.category === 'internal';
      const logged = internal ? spawnError : { type: spawnError.name, message: spawnError.message, code: spawnError.code };
      this.log.error('could not spawn app process', { err: logged, failures, retryInMs: backoffMs, ...facts, ...(internal ? { outputTail } : {}) });
      // A blocking restart has nothing to fall back on: say it failed, and why (status, --wait),
      // rather than "restarting" for ever. A rolling one records its own failure (rollOver).
      if (this.restartInfo && !this.restartInfo.rolling && !this.restartInfo.failed) this.restartInfo.failed = spawnError.message;
      this.spawning--;
      if (!this.workers.some((w) => w.isRoutable)) this.rejectWaiters(this.unavailable(backoffMs));
      this.ensureProcesses();
      throw err;
    }
    this.spawning--;
    this.stats.spawns++;
    this.lastSpawnError = undefined;
    this.spawnFailures = 0;
    // The app starts again, so what is left of a backoff for failed spawns no longer holds: a
    // process needed now (the minimum, a replacement) must not wait for it, with requests queued
    // behind it. A backoff for processes that died young holds until one lives long enough.
    const backoffEnded = this.earlyExits === 0 && this.respawnTimer !== undefined;
    if (backoffEnded) {
      clearTimeout(this.respawnTimer);
      this.respawnTimer = undefined;
      this.nextSpawnAllowedAtMs = 0;
    }
    // The backoff's retry of a failed blocking restart succeeded: the restart goes on (and ends below).
    if (this.restartInfo?.failed && !this.restartInfo.rolling && generation >= this.restartInfo.generation) delete this.restartInfo.failed;
    const worker = this.addWorker(spawned, generation);
    if (this.stopping || generation < this.generation) {
      // Stopping, or spawned for a generation a restart has since replaced: it must not serve,
      // or the restart would never finish. A replacement of the current generation follows.
      void this.stopWorker(worker, 0);
      if (!this.stopping) this.ensureProcesses();
    } else {
      this.serveWaiters();
      if (backoffEnded) this.ensureProcesses();
    }
    this.checkRestartDone();
    return worker;
  }

  /** A process that serves from now on (spawned by this core, or adopted): followed until it exits. */
  private addWorker(spawned: SpawnedProcess, generation: number): WorkerProcess {
    const worker = new WorkerProcess(this.name, spawned.pid, spawned.address, spawned.child, spawned.spawnDurationMs, generation, this.app.limits.concurrency, spawned.inspectorUrl);
    this.workers.push(worker);
    worker.child.once('exit', (code, signal) => this.onWorkerExit(worker, code, signal));
    return worker;
  }

  private serveWaiters(): void {
    while (this.waitList.length > 0) {
      const worker = chooseWorker(this.workers);
      if (!worker) return;
      const waiter = this.waitList.shift() as Waiter;
      clearTimeout(waiter.timer);
      this.stats.queueWait.observe((Date.now() - waiter.enqueuedAtMs) / 1000);
      waiter.resolve(new Session(worker, this.onSessionClose));
    }
  }

  private rejectWaiters(err: CoreError): void {
    for (const waiter of this.waitList.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(err);
    }
  }

  private onWorkerExit(worker: WorkerProcess, code: number | null, signal: NodeJS.Signals | null): void {
    const expected = worker.state === 'stopping';
    worker.state = 'dead';
    void worker.upstream.destroy().catch(() => undefined);
    const index = this.workers.indexOf(worker);
    if (index >= 0) this.workers.splice(index, 1);
    if (expected) {
      this.log.info('app process stopped', { appPid: worker.pid, code, signal });
      this.checkRestartDone();
      return;
    }
    const uptimeMs = Date.now() - worker.spawnedAtMs;
    this.log.warn('app process exited unexpectedly', { appPid: worker.pid, code, signal, uptimeMs, inFlight: worker.sessions });
    if (uptimeMs < STABLE_UPTIME_MS) {
      this.earlyExits++;
      this.nextSpawnAllowedAtMs = Date.now() + spawnBackoffMs(this.spawnFailures + this.earlyExits);
    } else {
      this.earlyExits = 0;
    }
    this.ensureProcesses();
  }

  /** Takes a process out of rotation, lets its requests finish (up to the deadline), then stops it. */
  private async stopWorker(worker: WorkerProcess, drainDeadlineMs: number): Promise<void> {
    if (worker.state !== 'ready' && worker.state !== 'oob-work') return;
    worker.state = 'draining';
    this.spawner.markLeaving?.(worker.pid);
    while (worker.sessions > 0 && Date.now() < drainDeadlineMs && worker.state === 'draining') {
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
    }
    if (worker.state !== 'draining') return;
    worker.state = 'stopping';
    signalQuietly(worker.pid, 'SIGTERM');
    const killTimer = setTimeout(() => signalQuietly(-worker.pid, 'SIGKILL'), KILL_AFTER_TERM_MS);
    await worker.exited;
    clearTimeout(killTimer);
  }

  /**
   * Replaces every process. Blocking: all old processes leave rotation at once and drain while
   * new ones spawn (requests wait for the first new one). Rolling: one at a time, each old process
   * leaves only once its replacement serves; if a replacement fails, the restart stops and the
   * old processes keep serving.
   */
  restart(rolling: boolean): RestartAppResponse {
    if (this.stopping || this.frozen) throw new CoreError('FERRY_ERR_SHUTTING_DOWN', 'the server is shutting down or handing over to a new core');
    this.generation++;
    this.stats.restarts++;
    const generation = this.generation;
    const old = this.workers.filter((w) => w.state === 'ready');
    this.restartInfo = { rolling, generation, startedAtMs: Date.now() };
    this.log.info(rolling ? 'rolling restart' : 'restart', { generation, replacing: old.map((w) => w.pid) });
    // A restart is an operator's fresh attempt: no backoff left over from earlier failures.
    this.spawnFailures = 0;
    this.earlyExits = 0;
    this.nextSpawnAllowedAtMs = 0;
    clearTimeout(this.respawnTimer);
    this.respawnTimer = undefined;
    if (rolling) {
      void this.rollOver(old, generation);
    } else {
      for (const worker of old) void this.stopWorker(worker, Date.now() + DETACH_DRAIN_MS);
      this.ensureProcesses();
    }
    this.checkRestartDone();
    return { app: this.name, rolling, generation, replacing: old.map((w) => w.pid) };
  }

  private async rollOver(old: WorkerProcess[], generation: number): Promise<void> {
    for (const worker of old) {
      if (this.stopping || this.generation !== generation) return; // superseded
      if (worker.state !== 'ready') continue;
      try {
        await this.spawnOne();
      } catch (err) {
        if (this.restartInfo?.generation === generation) this.restartInfo.failed = (err as Error).message;
        this.log.error('rolling restart stopped: a new process failed to start; the old processes keep serving', { generation });
        return;
      }
      // A newer restart may have begun while this replacement started; it owns the old processes now.
      if (this.stopping || this.generation !== generation) return;
      void this.stopWorker(worker, Date.now() + DETACH_DRAIN_MS);
    }
    // A group that had fewer processes than its minimum (say, in backoff) is topped up too.
    this.ensureProcesses();
    this.checkRestartDone();
  }

  /** A restart is done when no process of an older generation is left and the minimum serves. */
  private checkRestartDone(): void {
    const info = this.restartInfo;
    if (!info || info.failed) return;
    const oldLeft = this.workers.some((w) => w.generation < info.generation);
    const newReady = this.workers.filter((w) => w.generation >= info.generation && w.state === 'ready').length;
    if (!oldLeft && newReady >= this.app.minInstances) {
      this.log.info('restart finished', { generation: info.generation, durationMs: Date.now() - info.startedAtMs });
      this.restartInfo = undefined;
    }
  }

  /**
   * A request on this process ran past max-request-time: take the process out of rotation at
   * once, log where its JavaScript is stuck (Node apps, through the inspector), then kill it (a
   * stuck event loop finishes nothing); the usual replacement keeps the minimum. Its other
   * requests in flight get 502.
   */
  async replaceStuck(worker: WorkerProcess, requestId: string): Promise<void> {
    if (worker.state !== 'ready' && worker.state !== 'draining' && worker.state !== 'oob-work') return; // already being replaced
    worker.state = 'stopping';
    this.spawner.markLeaving?.(worker.pid);
    this.ensureProcesses();
    // captureJsStack closes the inspector it opened, though the kill below would end it anyway.
    const { frames } = worker.inspectorUrl ? await captureJsStack(worker.pid, worker.inspectorUrl) : {};
    this.log.error('request exceeded max-request-time; killing its app process', {
      reqId: requestId,
      appPid: worker.pid,
      maxRequestTimeMs: this.app.limits.maxRequestTimeMs,
      inFlight: worker.sessions,
      jsStack: frames ? formatFrames(frames) : 'unavailable',
    });
    signalQuietly(-worker.pid, 'SIGKILL');
  }

  /**
   * The app asked (response header) for out-of-band work on this process: take it out of
   * rotation, let its requests finish, send it the out-of-band request, put it back. One process
   * per app at a time; others wait their turn.
   */
  requestOobWork(worker: WorkerProcess): void {
    if (worker.state !== 'ready' || this.oobQueue.includes(worker) || this.oobRunning === worker) return;
    this.oobQueue.push(worker);
    void this.runOobWork();
  }

  private oobQueue: WorkerProcess[] = [];
  private oobRunning: WorkerProcess | undefined;

  private async runOobWork(): Promise<void> {
    if (this.oobRunning || this.stopping) return;
    const worker = this.oobQueue.shift();
    if (!worker) return;
    if (worker.state !== 'ready') return void this.runOobWork();
    this.oobRunning = worker;
    worker.state = 'oob-work';
    this.ensureProcesses(); // requests that find no process now start one, as usual
    try {
      while (worker.sessions > 0 && worker.state === 'oob-work') await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
      if (worker.state !== 'oob-work') return;
      const startedMs = Date.now();
      const res = await worker.upstream.request({ method: 'POST', path: OOB_WORK_PATH, headers: { 'x-ferry-oob-work': '1' }, headersTimeout: 0, bodyTimeout: 0 });
      await res.body.dump();
      this.log.info('out-of-band work done', { appPid: worker.pid, status: res.statusCode, durationMs: Date.now() - startedMs });
    } catch (err) {
      this.log.warn('out-of-band work failed', { appPid: worker.pid, err });
    } finally {
      if (worker.state === 'oob-work') worker.state = 'ready';
      this.oobRunning = undefined;
      this.serveWaiters();
      void this.runOobWork();
    }
  }

  /** The process this group can give up to another app: idle, beyond the minimum, longest idle first. */
  evictionCandidate(): WorkerProcess | undefined {
    if (this.stopping || this.processCount <= this.app.minInstances) return undefined;
    let best: WorkerProcess | undefined;
    for (const worker of this.workers) {
      if (worker.state !== 'ready' || worker.sessions > 0) continue;
      if (!best || worker.lastUsedAtMs < best.lastUsedAtMs) best = worker;
    }
    return best;
  }

  /** Stops a process to give its room to another app (it is idle, so it stops at once). */
  evict(worker: WorkerProcess, forApp: string): void {
    this.log.info('stopping an idle app process to make room for another app', { appPid: worker.pid, forApp });
    void this.stopWorker(worker, Date.now());
  }

  /** Takes one process out of rotation; it finishes its requests, then exits. A replacement keeps the minimum. */
  detach(pid: number): boolean {
    const worker = this.workers.find((w) => w.pid === pid && w.state === 'ready');
    if (!worker) return false;
    this.log.info('detaching app process', { appPid: pid });
    void this.stopWorker(worker, Date.now() + DETACH_DRAIN_MS);
    this.ensureProcesses();
    return true;
  }

  /**
   * Handover to a new core (`ferry restart`): from now on this group only serves. It spawns,
   * reaps, recycles and restarts nothing, so the processes the new core adopts stay as recorded.
   */
  freeze(): void {
    this.frozen = true;
    clearTimeout(this.respawnTimer);
    this.respawnTimer = undefined;
    clearInterval(this.idleTimer);
    clearInterval(this.maintenanceTimer);
  }

  /** The handover failed (the new core did not start): manage the processes again. */
  thaw(): void {
    if (!this.frozen) return;
    this.frozen = false;
    this.startTimers();
    this.ensureProcesses();
  }

  private frozen = false;
  private adopting = false;

  /**
   * Handover done: waits until this core's requests are finished (or the deadline), then lets go
   * of the processes without stopping them; the new core owns them now. Requests still waiting
   * for a process get 503 (a client retries; the new core serves it).
   */
  async release(drainDeadlineMs: number): Promise<void> {
    this.stopping = true;
    this.rejectWaiters(new CoreError('FERRY_ERR_SHUTTING_DOWN', 'the server is restarting'));
    while (this.workers.some((w) => w.sessions > 0) && Date.now() < drainDeadlineMs) await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
    await Promise.all(this.workers.map((w) => w.upstream.close().catch(() => undefined)));
  }

  /** Graceful stop: no new requests, in-flight ones finish until the deadline, then every process goes. */
  async stop(drainDeadlineMs: number, keepAdopted = false): Promise<void> {
    this.stopping = true;
    // A core that fails to start leaves the processes it adopted to the next core (or the watchdog).
    if (keepAdopted) this.workers.splice(0, this.workers.length, ...this.workers.filter((w) => !w.adopted));
    clearTimeout(this.respawnTimer);
    clearInterval(this.idleTimer);
    clearInterval(this.maintenanceTimer);
    this.rejectWaiters(new CoreError('FERRY_ERR_SHUTTING_DOWN', 'the server is shutting down'));
    // Out of rotation at once; each process drains, then gets SIGTERM (and SIGKILL if it lingers).
    for (const worker of this.workers) void this.stopWorker(worker, drainDeadlineMs);
    // A process still spawning is stopped as soon as it is up (see doSpawn); one that takes longer
    // than the deadline is left to the watchdog, which kills its group from the records.
    let deadlineTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.pendingSpawns]),
      new Promise((resolve) => (deadlineTimer = setTimeout(resolve, Math.max(0, drainDeadlineMs - Date.now())))),
    ]);
    clearTimeout(deadlineTimer);
    await Promise.all(this.workers.map((w) => w.exited));
  }

  get state(): GroupState {
    if (this.stopping) return 'stopping';
    if (this.restartInfo && !this.restartInfo.failed) return 'restarting';
    if (this.lastSpawnError && this.nextSpawnAllowedAtMs > Date.now()) return 'backoff';
    return 'running';
  }

  /**
   * The app can serve requests now or shortly: a process takes requests (or is doing out-of-band
   * work and will again), or one is being spawned and the last spawn did not fail.
   */
  canServe(): boolean {
    if (this.workers.some((w) => w.state === 'ready' || w.state === 'oob-work')) return true;
    return this.spawning > 0 && !this.lastSpawnError;
  }

  get waiting(): number {
    return this.waitList.length;
  }

  inspect(nowMs = Date.now()): GroupSnapshot {
    const snapshot: GroupSnapshot = {
      name: this.name,
      root: this.app.root,
      state: this.state,
      generation: this.generation,
      minInstances: this.app.minInstances,
      waiting: this.waitList.length,
      spawning: this.spawning,
      processes: this.workers.map((w) => w.inspect(nowMs)),
    };
    if (this.lastSpawnError) {
      snapshot.lastSpawnError = { code: this.lastSpawnError.code, message: this.lastSpawnError.message, at: new Date(this.lastSpawnErrorAtMs).toISOString() };
    }
    if (this.restartInfo) {
      snapshot.restart = { rolling: this.restartInfo.rolling, generation: this.restartInfo.generation, startedAt: new Date(this.restartInfo.startedAtMs).toISOString() };
      if (this.restartInfo.failed) snapshot.restart.failed = this.restartInfo.failed;
    }
    return snapshot;
  }
}
