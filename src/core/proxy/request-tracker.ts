// The requests in flight and the front's counters: what `ferry status --show=requests|server`
// shows. Cheap on the hot path: one Map insert and delete per request.

import type { RequestSnapshot, RequestState } from '../../lib/admin-api-contract.js';
import { ResponseCounts } from '../pool/app-stats.js';
import type { WorkerProcess } from '../pool/worker.js';
import type { BufferUsage } from './request-body.js';

export class TrackedRequest {
  state: RequestState = 'queued';
  worker: WorkerProcess | undefined;
  /** Unique within the tracker (a client may reuse an X-Request-Id). */
  key = 0;
  readonly startedAtMs = Date.now();
  /** The body read ahead of the app (upload buffering), and the answer held for a slow client. */
  requestBody: BufferUsage | undefined;
  responseBuffer: BufferUsage | undefined;

  constructor(
    readonly id: string,
    readonly method: string,
    readonly path: string,
    readonly app: string,
  ) {}
}

/** Requests per second averaged over this many seconds. */
const RATE_WINDOW_S = 10;

export class RequestTracker {
  private readonly active = new Map<number, TrackedRequest>();
  private seq = 0;
  connectionsActive = 0;
  connectionsAccepted = 0;
  requestsTotal = 0;
  /** Responses with these statuses, whoever produced them (Ferry or the app). */
  readonly failed = { '502': 0, '503': 0, '504': 0 };
  /** Answers to requests refused before they reached an app (bad target, too large, unknown host). */
  readonly unrouted = new ResponseCounts();
  /** --compression: answers compressed whole, and their bytes before and after. */
  readonly compression = { responses: 0, bytesIn: 0, bytesOut: 0 };
  /** Completed requests per second, one slot per second of the window. */
  private readonly buckets = new Array<number>(RATE_WINDOW_S).fill(0);
  private bucketSecond = Math.floor(Date.now() / 1000);

  begin(id: string, method: string, path: string, app: string): TrackedRequest {
    const request = new TrackedRequest(id, method, path, app);
    request.key = ++this.seq;
    this.active.set(request.key, request);
    this.requestsTotal++;
    return request;
  }

  end(request: TrackedRequest): void {
    this.active.delete(request.key);
    const buckets = this.tick();
    buckets[0] = (buckets[0] as number) + 1;
  }

  /**
   * A request answered at once, without a process: from the turbocache (counted for its app), or
   * refused before it was routed to an app (counted in `unrouted`).
   */
  countAnswered(status: number, counts: ResponseCounts = this.unrouted): void {
    this.requestsTotal++;
    const buckets = this.tick();
    buckets[0] = (buckets[0] as number) + 1;
    this.countStatus(status);
    counts.count(status);
  }

  countStatus(status: number): void {
    if (status === 502 || status === 503 || status === 504) this.failed[status]++;
  }

  get inFlight(): number {
    return this.active.size;
  }

  /** Upgraded connections (WebSocket) open now. Counted when asked (status, metrics), not per request. */
  get tunnelsOpen(): number {
    let open = 0;
    for (const request of this.active.values()) if (request.state === 'tunnel') open++;
    return open;
  }

  /** Rotates the buckets to the current second; returns them with the current one first. */
  private tick(): number[] {
    const second = Math.floor(Date.now() / 1000);
    const elapsed = Math.min(second - this.bucketSecond, RATE_WINDOW_S);
    for (let i = 0; i < elapsed; i++) {
      this.buckets.pop();
      this.buckets.unshift(0);
    }
    this.bucketSecond = second;
    return this.buckets;
  }

  /** Average over the last full seconds of the window (the current one is still filling). */
  perSecond(): number {
    const buckets = this.tick();
    let sum = 0;
    for (let i = 1; i < buckets.length; i++) sum += buckets[i] as number;
    return Math.round((sum / (buckets.length - 1)) * 10) / 10;
  }

  inspect(nowMs = Date.now()): RequestSnapshot[] {
    const out: RequestSnapshot[] = [];
    for (const request of this.active.values()) {
      out.push({
        id: request.id,
        method: request.method,
        path: request.path,
        app: request.app,
        pid: request.worker?.pid ?? null,
        state: request.state,
        ageMs: nowMs - request.startedAtMs,
        bufferedMemoryBytes: (request.requestBody?.memoryBytes ?? 0) + (request.responseBuffer?.memoryBytes ?? 0),
        bufferedDiskBytes: (request.requestBody?.diskBytes ?? 0) + (request.responseBuffer?.diskBytes ?? 0),
      });
    }
    return out;
  }
}
