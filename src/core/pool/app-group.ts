// AppGroup: one app's workers and the hub its concerns meet in. Here: checkout (routing a
// request to a worker, or queueing it), what a new or exiting process means for the group,
// taking processes out (detach, evict, stuck), and the group's lifecycle (start with adoption,
// handover, stop). Elsewhere, each in its module: the wait list, spawning and its backoff,
// restarts, out-of-band work, maintenance (idle reaping, memory limit, tmp/restart.txt), watch
// mode, and draining and stopping a worker.

import type { AppConfig } from '../../lib/config.js';
import type { EvidenceSnapshot, GroupSnapshot, GroupState, RestartAppResponse } from '../../lib/admin-api-contract.js';
import { captureJsStack, formatFrames } from '../../lib/diagnostics/js-stack.js';
import { signalQuietly } from '../../lib/units.js';
import { CoreError } from '../errors.js';
import type { Logger } from '../log.js';
import type { SpawnError } from '../spawn/spawn-error.js';
import type { SpawnedWorker, Spawner } from '../spawn/spawner.js';
import { rereadAppEnv } from './app-env.js';
import { AppStats } from './app-stats.js';
import type { DiagnosticsDir } from './evidence.js';
import { GroupLifecycle } from './group-lifecycle.js';
import { checkMemory, idleWorkers, MaintenanceTimers, RestartFileWatcher } from './maintenance.js';
import { maxRequestsFor } from './max-requests.js';
import { OobWork } from './oob-work.js';
import { Restarts } from './restarts.js';
import { allBusy, chooseWorker, stickyWorker } from './routing.js';
import { Session } from './session.js';
import { Spawning } from './spawning.js';
import { WaitList } from './wait-list.js';
import { WorkerProcess } from './worker.js';
import { holdsPoolSlot } from './worker-state.js';
import { drainAndStop, pollUntil } from './worker-stop.js';
import { AppFileWatcher } from './file-watcher.js';
import { changeReason, WatchRestarts, type ChangedFiles } from './watch-restarts.js';
import { closeUpstream, destroyUpstream } from './worker-upstream.js';

export { spawnBackoffMs } from './spawn-backoff.js';
export { OOB_WORK_PATH } from './worker-upstream.js';

/** How the pool grants room for one more process. */
export interface CapacityGate {
  hasCapacity(): boolean;
  /** A full pool may stop an idle process of another app to make room; true if it did. */
  makeRoom?(requester: AppGroup): boolean;
}

export class AppGroup {
  readonly workers: WorkerProcess[] = [];
  /** What the metrics endpoint reports for this app: plain counters, read at scrape time. */
  readonly stats = new AppStats();
  /** 5xx answers per live process (pid), counted only when one happens: nothing on a request that succeeds. */
  private readonly serverErrors = new Map<number, number>();
  private readonly lifecycle = new GroupLifecycle();
  private readonly waitList: WaitList;
  private readonly restarts: Restarts;
  private readonly oobWork: OobWork;
  private readonly restartFile: RestartFileWatcher;
  private readonly timers: MaintenanceTimers;
  private readonly spawning: Spawning;
  /** The evidence kept at the last recycle over memory-limit (ferry status). */
  private lastEvidence: EvidenceSnapshot | undefined;
  /** Watch mode (--watch), while it runs: the watches on the app's files and the restarts they cause. */
  private watching: { files: AppFileWatcher; restarts: WatchRestarts } | undefined;

  constructor(
    readonly app: AppConfig,
    private readonly capacity: CapacityGate,
    private readonly spawner: Spawner,
    private readonly log: Logger,
    /** Files the instance writes (its log), absolute: watch mode ignores them, or each log line would restart the app. */
    private readonly ownFiles: readonly string[] = [],
    /** Where the evidence of a recycle over memory-limit goes; none is kept without it. */
    private readonly diagnostics?: DiagnosticsDir,
    /** app.envvars changed (a restart read the env files again): the config a later core reads must say so. */
    private readonly envChanged: () => void = () => undefined,
  ) {
    this.waitList = new WaitList(app.name, app.limits, this.stats.queueWait);
    this.spawning = new Spawning(spawner, {
      app,
      log,
      stats: this.stats,
      maySpawn: () => this.lifecycle.maySpawn,
      needsProcess: () => this.needsProcess(),
      roomForOne: () => this.capacity.hasCapacity() || (this.capacity.makeRoom?.(this) ?? false),
      generation: () => this.restarts.generation,
      spawnFailed: (err, backoffMs) => this.spawnFailed(err, backoffMs),
      listened: (spawned, generation) => this.addWorker(spawned, generation),
      spawned: (worker, generation, backoffEnded) => this.spawned(worker, generation, backoffEnded),
    });
    const host = {
      log,
      minInstances: app.minInstances,
      workers: this.workers,
      isStopping: () => this.lifecycle.stopping,
      ensureProcesses: () => this.ensureProcesses(),
      serveWaiters: () => this.serveWaiters(),
      spawnOne: () => this.spawning.spawnOne(),
      retire: (worker: WorkerProcess) => void this.stopWorker(worker, this.leaveDeadlineMs()),
    };
    this.restarts = new Restarts(host);
    this.oobWork = new OobWork(host);
    this.restartFile = new RestartFileWatcher(app.root);
    this.timers = new MaintenanceTimers(
      app,
      () => this.reapIdle(),
      () => this.maintain(),
    );
    this.timers.start();
  }

  get name(): string {
    return this.app.name;
  }

  get lastSpawnError(): SpawnError | undefined {
    return this.spawning.backoff.lastSpawnError;
  }

  /**
   * Processes that count against max-pool-size and the minimum: those that serve or will again
   * (holdsPoolSlot: ready, or doing out-of-band work) and those being spawned.
   */
  get processCount(): number {
    let count = this.spawning.inFlight;
    for (const worker of this.workers) if (holdsPoolSlot(worker.state)) count++;
    return count;
  }

  // ---- lifecycle: start (adoption), handover, stop ----

  /**
   * Takes over the processes an earlier core left serving (after a crash or a handover), then
   * spawns up to the minimum; rejects with the first spawn failure.
   */
  async start(): Promise<void> {
    // Requests that arrive meanwhile wait (a core restarted after a crash gets them from the
    // backlog at once): a spawn for them now would overshoot the pool size.
    this.lifecycle.moveTo('adopting');
    let adopted: SpawnedWorker[];
    try {
      // The first look at tmp/restart.txt, before serving: a file touched once the instance serves
      // is a change (not a baseline taken up to 2 s later), and always_restart.txt holds from the
      // start. Side by side with the takeover, which waits for nothing it finds there.
      [, adopted] = await Promise.all([this.checkRestartFile(), this.spawner.adopt?.(this.app) ?? []]);
    } finally {
      if (this.lifecycle.phase === 'adopting') this.lifecycle.moveTo('serving');
    }
    for (const spawned of adopted) {
      const worker = this.addWorker(spawned, this.restarts.generation);
      if (spawned.startedAtMs !== undefined) worker.spawnedAtMs = spawned.startedAtMs;
      worker.adopted = true;
      worker.moveTo('ready');
    }
    if (this.workers.length > 0) {
      this.log.info('adopted app processes', { pids: this.workers.map((w) => w.pid) });
      this.serveWaiters();
    }
    const missing = Math.max(0, this.app.minInstances - this.processCount);
    const spawns = Array.from({ length: missing }, () => this.spawning.spawnOne());
    const results = await Promise.allSettled(spawns);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    // With adopted processes serving, a failed spawn is the usual backoff, not a failed start.
    if (failed && !this.workers.some((w) => w.adopted)) throw failed.reason;
    this.startWatching();
  }

  /**
   * Handover to a new core (`ferry restart`): from now on this group only serves. It spawns,
   * reaps, recycles and restarts nothing, so the processes the new core adopts stay as recorded.
   */
  freeze(): void {
    if (!this.lifecycle.moveTo('frozen')) return;
    this.spawning.cancelRetry();
    this.timers.stop();
    this.stopWatching();
  }

  /** The handover failed (the new core did not start): manage the processes again. */
  thaw(): void {
    if (this.lifecycle.phase !== 'frozen' || !this.lifecycle.moveTo('serving')) return;
    this.timers.start();
    this.startWatching();
    this.ensureProcesses();
  }

  /**
   * Handover done: waits until this core's requests are finished (or the deadline), then lets go
   * of the processes without stopping them; the new core owns them now. Requests still waiting
   * for a process get 503 (a client retries; the new core serves it).
   */
  async release(drainDeadlineMs: number): Promise<void> {
    this.lifecycle.moveTo('stopping');
    this.waitList.rejectAll(new CoreError('FERRY_ERR_SHUTTING_DOWN', 'the server is restarting'));
    const draining = pollUntil(() => !this.workers.some((w) => w.sessions > 0), drainDeadlineMs);
    if (draining) await draining;
    await Promise.all(this.workers.map((w) => closeUpstream(w)));
  }

  /**
   * Graceful stop: no new requests, in-flight ones finish until the deadline (the instance's, or
   * this app's own --stop-timeout if sooner), then every process goes.
   */
  async stop(instanceDeadlineMs: number, keepAdopted = false): Promise<void> {
    const drainDeadlineMs = Math.min(instanceDeadlineMs, this.leaveDeadlineMs());
    this.lifecycle.moveTo('stopping');
    // A core that fails to start leaves the processes it adopted to the next core (or the watchdog).
    if (keepAdopted) this.workers.splice(0, this.workers.length, ...this.workers.filter((w) => !w.adopted));
    this.spawning.cancelRetry();
    this.timers.stop();
    this.stopWatching();
    this.waitList.rejectAll(new CoreError('FERRY_ERR_SHUTTING_DOWN', 'the server is shutting down'));
    // Out of rotation at once; each process drains, then gets SIGTERM (and SIGKILL if it lingers).
    for (const worker of this.workers) void this.stopWorker(worker, drainDeadlineMs);
    // A process still spawning is stopped as soon as it is up (see spawned()); one that takes longer
    // than the deadline is left to the watchdog, which kills its group from the records.
    await this.spawning.settled(drainDeadlineMs);
    await Promise.all(this.workers.map((w) => w.exited));
  }

  // ---- checkout and routing ----

  /**
   * A session on the least busy process with room (or the one a sticky cookie names), at once if
   * there is one, else when one has room. The queue is bounded (see WaitList).
   */
  checkout(stickyId?: string): Session | Promise<Session> {
    // tmp/always_restart.txt: a fresh process for every request (one restart at a time).
    if (this.restartFile.alwaysRestart && !this.restarts.current && this.lifecycle.mayRestart) this.restart(false, false);
    const worker = (stickyId !== undefined ? stickyWorker(this.workers, stickyId) : undefined) ?? chooseWorker(this.workers);
    if (worker) {
      const session = new Session(worker, this.onSessionClose);
      if (this.allBusy()) this.ensureProcesses(); // scale out under load
      return session;
    }
    if (this.lifecycle.stopping) throw new CoreError('FERRY_ERR_SHUTTING_DOWN', 'the server is shutting down');
    const backoffLeftMs = this.spawning.backoff.leftMs();
    if (this.spawning.inFlight === 0 && backoffLeftMs > 0 && this.spawning.backoff.lastSpawnError) throw this.unavailable(backoffLeftMs);
    const waiting = this.waitList.enqueue();
    this.ensureProcesses();
    return waiting;
  }

  private readonly onSessionClose = (session: Session): void => {
    const worker = session.worker;
    const { maxRequests } = worker;
    if (maxRequests > 0 && worker.processed >= maxRequests && worker.state === 'ready' && this.lifecycle.mayRecycle) {
      this.log.info('replacing app process after max-requests', { appPid: worker.pid, processed: worker.processed, maxRequests });
      void this.stopWorker(worker, this.leaveDeadlineMs());
      this.ensureProcesses();
    }
    this.serveWaiters();
  };

  private allBusy(): boolean {
    return allBusy(this.workers, this.app.limits);
  }

  private serveWaiters(): void {
    this.waitList.serve(() => chooseWorker(this.workers), this.onSessionClose);
  }

  private unavailable(retryAfterMs: number): CoreError {
    const spawnError = this.spawning.backoff.lastSpawnError;
    return new CoreError('FERRY_ERR_POOL_UNAVAILABLE', `app '${this.name}' cannot start: ${spawnError?.message ?? 'unknown error'}`, {
      details: { retryAfterMs, spawnError: spawnError?.failure },
    });
  }

  // ---- spawning: see Spawning; what a new process means for the group is here ----

  /**
   * Below the minimum: spawn. Beyond it, one process at a time, when requests wait or when every
   * process is busy (Node's unlimited concurrency never makes requests wait, so busyness must).
   */
  private needsProcess(): boolean {
    if (this.processCount < this.app.minInstances) return true;
    if (this.spawning.inFlight > 0) return false;
    return this.waitList.length > 0 || this.allBusy();
  }

  private ensureProcesses(): void {
    this.spawning.ensure();
  }

  private spawnFailed(err: SpawnError, backoffMs: number): void {
    this.restarts.spawnFailed(err.message);
    if (!this.workers.some((w) => w.isRoutable)) this.waitList.rejectAll(this.unavailable(backoffMs));
  }

  private spawned(worker: WorkerProcess, generation: number, backoffEnded: boolean): void {
    this.restarts.spawnSucceeded(generation);
    if (this.lifecycle.stopping || generation < this.restarts.generation) {
      // Stopping, or spawned for a generation a restart has since replaced: it must not serve,
      // or the restart would never finish. A replacement of the current generation follows.
      void this.stopWorker(worker, 0);
      if (!this.lifecycle.stopping) this.ensureProcesses();
    } else {
      worker.moveTo('ready');
      this.serveWaiters();
      if (backoffEnded) this.ensureProcesses();
    }
    this.restarts.checkDone();
  }

  /** A process spawned by this core (it listens; in rotation once spawned()) or adopted: followed until it exits. */
  private addWorker(spawned: SpawnedWorker, generation: number): WorkerProcess {
    const worker = new WorkerProcess(this.name, spawned.pid, spawned.address, spawned.child, spawned.spawnDurationMs, generation, this.app.limits.concurrency, spawned.inspectorUrl);
    worker.recentOutput = spawned.recentOutput;
    worker.maxRequests = maxRequestsFor(this.app.limits.maxRequests, this.app.limits.maxRequestsJitter);
    this.workers.push(worker);
    worker.child.once('exit', (code, signal) => this.onWorkerExit(worker, code, signal));
    return worker;
  }

  private onWorkerExit(worker: WorkerProcess, code: number | null, signal: NodeJS.Signals | null): void {
    const expected = worker.state === 'stopping';
    const starting = worker.state === 'starting';
    worker.moveTo('dead');
    destroyUpstream(worker);
    const index = this.workers.indexOf(worker);
    if (index >= 0) this.workers.splice(index, 1);
    this.serverErrors.delete(worker.pid);
    // Still waiting for its readiness check: its spawn fails (Spawning says why and backs off), not a crash.
    if (starting) return;
    if (expected) {
      this.log.info('app process stopped', { appPid: worker.pid, code, signal });
      this.restarts.checkDone();
      return;
    }
    const uptimeMs = Date.now() - worker.spawnedAtMs;
    this.log.warn('app process exited unexpectedly', { appPid: worker.pid, code, signal, uptimeMs, inFlight: worker.sessions });
    this.stats.crashes++;
    this.spawning.backoff.unexpectedExit(uptimeMs);
    this.ensureProcesses();
  }

  // ---- taking processes out: stop, stuck, evict, detach ----

  /** When a process leaving now (detached, restarted, recycled) must have finished its requests: --stop-timeout. */
  private leaveDeadlineMs(): number {
    return Date.now() + this.app.stopTimeoutMs;
  }

  private stopWorker(worker: WorkerProcess, drainDeadlineMs: number): Promise<void> {
    return drainAndStop(worker, drainDeadlineMs, (pid) => this.spawner.markLeaving?.(pid));
  }

  /**
   * A request on this process ran past max-request-time: take the process out of rotation at
   * once, log where its JavaScript is stuck (Node apps, through the inspector), then kill it (a
   * stuck event loop finishes nothing); the usual replacement keeps the minimum. Its other
   * requests in flight get 502.
   */
  async replaceStuck(worker: WorkerProcess, requestId: string): Promise<void> {
    if (!worker.moveTo('stopping')) return; // already being stopped
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

  /** The app asked (response header) for out-of-band work on this process; see OobWork. */
  requestOobWork(worker: WorkerProcess): void {
    this.oobWork.request(worker);
  }

  /** The process this group can give up to another app: idle, beyond the minimum, longest idle first. */
  evictionCandidate(): WorkerProcess | undefined {
    if (this.lifecycle.stopping || this.processCount <= this.app.minInstances) return undefined;
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
    void this.stopWorker(worker, this.leaveDeadlineMs());
    this.ensureProcesses();
    return true;
  }

  // ---- restarts and maintenance ----

  /**
   * Replaces every process, blocking or rolling; see Restarts. The new processes get the env files
   * as they are now (`rereadEnv`, all but the per-request restarts of always_restart.txt); one
   * that cannot be read refuses the restart (CoreError), and the old processes go on.
   */
  restart(rolling: boolean, rereadEnv = true): RestartAppResponse {
    if (!this.lifecycle.mayRestart) throw new CoreError('FERRY_ERR_SHUTTING_DOWN', 'the server is shutting down or handing over to a new core');
    if (rereadEnv) {
      const changed = rereadAppEnv(this.app);
      if (changed.length > 0) {
        this.log.info('env files read again; new processes get the changed variables', { changed });
        this.envChanged();
      }
    }
    this.stats.restarts++;
    // A restart is an operator's fresh attempt: no backoff left over from earlier failures.
    this.spawning.backoff.reset();
    this.spawning.cancelRetry();
    const { generation, replacing } = this.restarts.begin(rolling);
    return { app: this.name, rolling, generation, replacing };
  }

  /** Stops processes beyond the minimum that have had no request for pool-idle-time, longest idle first. */
  private reapIdle(now = Date.now()): void {
    if (!this.lifecycle.mayRecycle) return;
    for (const worker of idleWorkers(this.workers, now, this.app.limits.poolIdleTimeMs)) {
      if (this.processCount <= this.app.minInstances) return;
      this.log.info('stopping idle app process', { appPid: worker.pid, idleMs: now - worker.lastUsedAtMs });
      void this.stopWorker(worker, now);
    }
  }

  /** Periodic checks: processes over memory-limit, and tmp/restart.txt. */
  private maintain(): void {
    if (!this.lifecycle.mayRecycle) return;
    const limit = this.app.limits.memoryLimitBytes;
    if (limit > 0) {
      const checks = this.app.limits.memoryLimitChecks;
      for (const { worker, usedBytes, overChecks, recycle } of checkMemory(this.workers, limit, checks)) {
        if (!recycle) {
          this.log.info(`app process over memory-limit (check ${overChecks} of ${checks}); replaced if it stays over`, { appPid: worker.pid, usedBytes, memoryLimitBytes: limit });
          continue;
        }
        void this.recycleOverMemory(worker, { appPid: worker.pid, usedBytes, memoryLimitBytes: limit, checks });
      }
    }
    void this.checkRestartFile();
  }

  /**
   * Out of rotation at once (a replacement keeps the minimum), its evidence kept (a heap snapshot,
   * its last lines: see DiagnosticsDir), then drained, not killed: its requests finish, then it
   * goes. The evidence waits on the inspector and the disk, never on the pool.
   */
  private async recycleOverMemory(worker: WorkerProcess, fields: Record<string, unknown>): Promise<void> {
    const diagnostics = this.diagnostics;
    const capture = async (): Promise<void> => {
      this.ensureProcesses();
      if (!diagnostics) {
        this.log.warn('app process over memory-limit; replacing it', fields);
        return;
      }
      const evidence = await diagnostics.capture(worker, 'memory-limit');
      this.lastEvidence = evidence;
      const snapshot = evidence.files.find((f) => f.endsWith('.heapsnapshot'));
      const output = evidence.files.find((f) => f.endsWith('.log'));
      this.log.warn(`app process over memory-limit; replacing it${snapshot ? ` (heap snapshot: ${snapshot})` : ''}`, {
        ...fields,
        ...(snapshot ? { heapSnapshot: snapshot } : {}),
        ...(output ? { lastOutput: output } : {}),
        ...(evidence.heapSnapshotSkipped ? { heapSnapshotSkipped: evidence.heapSnapshotSkipped } : {}),
        ...(evidence.failed ? { evidenceFailed: evidence.failed } : {}),
      });
    };
    await drainAndStop(worker, this.leaveDeadlineMs(), (pid) => this.spawner.markLeaving?.(pid), capture);
  }

  /** Watch mode: changes under the root restart the app, rolling, so no request is refused meanwhile. */
  private startWatching(): void {
    if (!this.app.watch || this.watching) return;
    const restarts = new WatchRestarts((changed) => this.restartForChanges(changed));
    const files = new AppFileWatcher(this.app.root, { onChange: (relative) => restarts.changed(relative), log: this.log, ownFiles: this.ownFiles });
    this.watching = { files, restarts };
    // Not awaited: the walk of the tree runs beside serving; it logs what it could not watch.
    void files.start().then(
      (ok) => {
        if (!ok && this.watching?.files === files) this.stopWatching();
      },
      (err: unknown) => {
        this.log.warn("cannot watch the app's files; serving without watch mode", { err });
        if (this.watching?.files === files) this.stopWatching();
      },
    );
  }

  private stopWatching(): void {
    this.watching?.files.close();
    this.watching?.restarts.close();
    this.watching = undefined;
  }

  private async restartForChanges(changed: ChangedFiles): Promise<void> {
    if (!this.lifecycle.mayRestart) return;
    this.log.info(`restarting app ${this.name}: ${changeReason(changed)}`, { files: [...changed.names].slice(0, 20), rolling: true });
    if (!this.restartOrLog(true)) return;
    await this.restarts.settled();
  }

  private async checkRestartFile(): Promise<void> {
    if (!(await this.restartFile.changed()) || !this.lifecycle.mayRestart) return;
    this.log.info('tmp/restart.txt changed; restarting', { rolling: this.app.rollingRestarts });
    this.restartOrLog(this.app.rollingRestarts);
  }

  /** A restart nobody waits on (a file changed): a refusal (an env file that cannot be read) is logged. */
  private restartOrLog(rolling: boolean): boolean {
    try {
      this.restart(rolling);
      return true;
    } catch (err) {
      if (!(err instanceof CoreError)) throw err;
      this.log.error(err.message, { code: err.code, suggestions: err.suggestions });
      return false;
    }
  }

  // ---- what status shows ----

  get state(): GroupState {
    if (this.lifecycle.stopping) return 'stopping';
    if (this.restarts.inProgress) return 'restarting';
    if (this.spawning.backoff.backingOff) return 'backoff';
    return 'running';
  }

  /**
   * The app can serve requests now or shortly: a process takes requests (or is doing out-of-band
   * work and will again), or one is being spawned and the last spawn did not fail.
   */
  canServe(): boolean {
    if (this.workers.some((w) => holdsPoolSlot(w.state))) return true;
    return this.spawning.inFlight > 0 && !this.spawning.backoff.lastSpawnError;
  }

  get waiting(): number {
    return this.waitList.length;
  }

  /** A request this group's process had was answered with `status` (the proxy calls it only for 5xx). */
  countServerError(worker: WorkerProcess | undefined): void {
    // A process already gone keeps no entry (its 502 comes after its exit was seen).
    if (!worker || worker.state === 'dead') return;
    this.serverErrors.set(worker.pid, (this.serverErrors.get(worker.pid) ?? 0) + 1);
  }

  inspect(nowMs = Date.now()): GroupSnapshot {
    const snapshot: GroupSnapshot = {
      name: this.name,
      root: this.app.root,
      state: this.state,
      generation: this.restarts.generation,
      minInstances: this.app.minInstances,
      waiting: this.waitList.length,
      // Not yet listening; those waiting for their readiness check are listed as 'starting' processes.
      spawning: Math.max(0, this.spawning.inFlight - this.workers.filter((w) => w.state === 'starting').length),
      processes: this.workers.map((w) => ({ ...w.inspect(nowMs), errors5xx: this.serverErrors.get(w.pid) ?? 0 })),
      restarts: this.stats.restarts,
      crashes: this.stats.crashes,
    };
    const spawnError = this.spawning.backoff.lastSpawnError;
    if (spawnError) snapshot.lastSpawnError = { code: spawnError.code, message: spawnError.message, at: new Date(this.spawning.backoff.lastSpawnErrorAtMs).toISOString() };
    const restart = this.restarts.snapshot();
    if (restart) snapshot.restart = restart;
    if (this.lastEvidence) snapshot.lastEvidence = this.lastEvidence;
    return snapshot;
  }
}
