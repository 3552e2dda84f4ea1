// Counters one app group keeps for the metrics endpoint: plain numbers and fixed-bucket
// histograms updated on the hot path (no allocation, no library), read only at scrape time.

/** Upper bounds (seconds) of the request latency buckets: Prometheus' defaults. */
export const LATENCY_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** Upper bounds (seconds) of the queue wait buckets: waits are short, or the queue is the problem. */
export const QUEUE_WAIT_BUCKETS_S = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30] as const;

/** Status classes as labels: a fixed set of five, whatever codes an app chooses to send. */
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];

/** Index into STATUS_CLASSES; anything outside 100..599 counts as 5xx (a broken answer). */
export function statusClassIndex(status: number): number {
  const index = Math.floor(status / 100) - 1;
  return index >= 0 && index <= 4 ? index : 4;
}

/** A histogram with fixed bounds: per-bucket (not cumulative) counts, a sum and a count. */
export class FixedHistogram {
  /** counts[i]: observations <= bounds[i] and > bounds[i-1]; the last slot is +Inf. */
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(seconds: number): void {
    const { bounds } = this;
    let i = 0;
    while (i < bounds.length && seconds > (bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += seconds;
    this.count++;
  }

  /** Cumulative counts per bound, then +Inf: the shape of Prometheus' `_bucket` series. */
  cumulative(): { le: string; count: number }[] {
    let running = 0;
    return this.counts.map((n, i) => {
      running += n;
      return { le: i < this.bounds.length ? String(this.bounds[i]) : '+Inf', count: running };
    });
  }
}

/** Answers given for requests routed to one app (or refused before routing), by status class. */
export class ResponseCounts {
  readonly byClass = [0, 0, 0, 0, 0];

  count(status: number): void {
    const i = statusClassIndex(status);
    this.byClass[i] = (this.byClass[i] as number) + 1;
  }
}

export class AppStats {
  readonly responses = new ResponseCounts();
  /** Requests forwarded to an app process: from routing to the end of the response. */
  readonly latency = new FixedHistogram(LATENCY_BUCKETS_S);
  /** Requests that had to wait for a process: how long they waited. */
  readonly queueWait = new FixedHistogram(QUEUE_WAIT_BUCKETS_S);
  spawns = 0;
  spawnFailures = 0;
  restarts = 0;
  /** Processes that exited without being asked to. */
  crashes = 0;
}
