// WaitList: the requests of one app waiting for a process with room, in arrival order, bounded
// in length (max-request-queue-size) and, optionally, in time (max-request-queue-time).

import { CoreError } from '../errors.js';
import type { FixedHistogram } from './app-stats.js';
import { Session } from './session.js';
import type { WorkerProcess } from './worker.js';

interface Waiter {
  resolve(session: Session): void;
  reject(err: CoreError): void;
  enqueuedAtMs: number;
  /** Sheds the request when it waited longer than max-request-queue-time. */
  timer?: NodeJS.Timeout;
}

export interface WaitLimits {
  maxRequestQueueSize: number;
  maxRequestQueueTimeMs: number;
}

export class WaitList {
  private readonly waiters: Waiter[] = [];

  constructor(
    private readonly appName: string,
    private readonly limits: WaitLimits,
    /** How long served requests waited (metrics). */
    private readonly queueWait: FixedHistogram,
  ) {}

  get length(): number {
    return this.waiters.length;
  }

  /** A promise of a session, queued; throws FERRY_ERR_POOL_QUEUE_FULL when the queue is full. */
  enqueue(): Promise<Session> {
    const { maxRequestQueueSize, maxRequestQueueTimeMs } = this.limits;
    if (maxRequestQueueSize > 0 && this.waiters.length >= maxRequestQueueSize) {
      throw new CoreError('FERRY_ERR_POOL_QUEUE_FULL', `app '${this.appName}' already has ${this.waiters.length} requests waiting (max-request-queue-size)`, {
        details: { retryAfterMs: 1000 },
      });
    }
    return new Promise<Session>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, enqueuedAtMs: Date.now() };
      if (maxRequestQueueTimeMs > 0) {
        waiter.timer = setTimeout(() => {
          const index = this.waiters.indexOf(waiter);
          if (index < 0) return;
          this.waiters.splice(index, 1);
          reject(
            new CoreError('FERRY_ERR_POOL_QUEUE_TIMEOUT', `request waited ${maxRequestQueueTimeMs} ms for a process of '${this.appName}' (max-request-queue-time)`, {
              details: { retryAfterMs: 1000 },
            }),
          );
        }, maxRequestQueueTimeMs);
      }
      this.waiters.push(waiter);
    });
  }

  /** Hands the oldest waiters a session each, for as long as `choose` finds a process with room. */
  serve(choose: () => WorkerProcess | undefined, onSessionClose: (session: Session) => void): void {
    while (this.waiters.length > 0) {
      const worker = choose();
      if (!worker) return;
      const waiter = this.waiters.shift() as Waiter;
      clearTimeout(waiter.timer);
      this.queueWait.observe((Date.now() - waiter.enqueuedAtMs) / 1000);
      waiter.resolve(new Session(worker, onSessionClose));
    }
  }

  rejectAll(err: CoreError): void {
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(err);
    }
  }
}
