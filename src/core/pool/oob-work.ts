// Out-of-band work: the app asked (response header) for time on a process outside of requests
// (a garbage collection, say). The process leaves rotation, finishes its requests, gets the
// out-of-band request, and comes back. One process per app at a time; others wait their turn.
// It keeps its place in the pool meanwhile (holdsPoolSlot), so no extra process is spawned for
// it beyond max-pool-size.

import type { Logger } from '../log.js';
import type { WorkerProcess } from './worker.js';
import { pollUntil } from './worker-stop.js';
import { sendOobWorkRequest } from './worker-upstream.js';

export interface OobWorkHost {
  readonly log: Logger;
  /** Stopping: no more out-of-band work begins. */
  isStopping(): boolean;
  /** The process is out of rotation: requests that find none may need another spawned. */
  ensureProcesses(): void;
  /** The process is back in rotation: hand it waiting requests. */
  serveWaiters(): void;
}

export class OobWork {
  private readonly queue: WorkerProcess[] = [];
  private running: WorkerProcess | undefined;

  constructor(private readonly host: OobWorkHost) {}

  request(worker: WorkerProcess): void {
    if (worker.state !== 'ready' || this.queue.includes(worker) || this.running === worker) return;
    this.queue.push(worker);
    void this.runNext();
  }

  private async runNext(): Promise<void> {
    if (this.running || this.host.isStopping()) return;
    const worker = this.queue.shift();
    if (!worker) return;
    if (!worker.moveTo('oob-work')) return void this.runNext(); // left rotation while queued
    this.running = worker;
    this.host.ensureProcesses();
    try {
      const draining = pollUntil(() => worker.sessions === 0 || worker.state !== 'oob-work');
      if (draining) await draining;
      if (worker.state !== 'oob-work') return;
      const startedMs = Date.now();
      const status = await sendOobWorkRequest(worker);
      this.host.log.info('out-of-band work done', { appPid: worker.pid, status, durationMs: Date.now() - startedMs });
    } catch (err) {
      this.host.log.warn('out-of-band work failed', { appPid: worker.pid, err });
    } finally {
      worker.moveTo('ready'); // only from oob-work: a process that left rotation meanwhile stays out
      this.running = undefined;
      this.host.serveWaiters();
      void this.runNext();
    }
  }
}
