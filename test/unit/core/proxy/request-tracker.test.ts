import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RequestTracker } from '../../../../src/core/proxy/request-tracker.js';
import type { WorkerProcess } from '../../../../src/core/pool/worker.js';

// A whole second plus a little, so that each step below lands in a known second.
const NOW = new Date('2026-01-02T03:04:05.100Z');

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOW);
});

afterEach(() => {
  vi.useRealTimers();
});

/** Moves the fake clock forward by `ms`. */
function advance(ms: number): void {
  vi.setSystemTime(Date.now() + ms);
}

/** Begins and ends `count` requests at the current fake time. */
function complete(tracker: RequestTracker, count: number): void {
  for (let i = 0; i < count; i++) tracker.end(tracker.begin(`r${i}`, 'GET', '/', 'hello'));
}

describe('RequestTracker', () => {
  it('counts the requests that are tunnels now', () => {
    const tracker = new RequestTracker();
    const ws = tracker.begin('ws', 'GET', '/ws', 'hello');
    tracker.begin('plain', 'GET', '/', 'hello');
    expect(tracker.tunnelsOpen).toBe(0);
    ws.state = 'tunnel';
    expect(tracker.tunnelsOpen).toBe(1);
    tracker.end(ws);
    expect(tracker.tunnelsOpen).toBe(0);
  });

  it('counts a request as in flight from begin to end, and in the total from begin on', () => {
    const tracker = new RequestTracker();
    const a = tracker.begin('a', 'GET', '/a', 'hello');
    const b = tracker.begin('b', 'POST', '/b', 'hello');
    expect(tracker.inFlight).toBe(2);
    expect(tracker.requestsTotal).toBe(2);

    tracker.end(a);
    expect(tracker.inFlight).toBe(1);
    tracker.end(b);
    expect(tracker.inFlight).toBe(0);
    expect(tracker.requestsTotal).toBe(2);
  });

  it('keeps two requests apart when a client reuses the same request id', () => {
    const tracker = new RequestTracker();
    const first = tracker.begin('same', 'GET', '/1', 'hello');
    const second = tracker.begin('same', 'GET', '/2', 'hello');
    expect(first.key).not.toBe(second.key);

    tracker.end(first);
    expect(tracker.inspect().map((r) => r.path)).toEqual(['/2']);
  });

  it('shows each request in flight with its state, worker pid and age', () => {
    // Given one request still queued and one forwarded to a worker a little later,
    const tracker = new RequestTracker();
    tracker.begin('q1', 'GET', '/queued?x=1', 'hello');
    advance(250);
    const forwarded = tracker.begin('f1', 'POST', '/upload', 'hello');
    forwarded.worker = { pid: 4242 } as WorkerProcess;
    forwarded.state = 'forwarding';
    advance(750);

    // then inspect lists both, oldest first, with their ages now.
    expect(tracker.inspect()).toEqual([
      { id: 'q1', method: 'GET', path: '/queued?x=1', app: 'hello', pid: null, state: 'queued', ageMs: 1000, bufferedMemoryBytes: 0, bufferedDiskBytes: 0 },
      { id: 'f1', method: 'POST', path: '/upload', app: 'hello', pid: 4242, state: 'forwarding', ageMs: 750, bufferedMemoryBytes: 0, bufferedDiskBytes: 0 },
    ]);
  });

  it('adds up what a request holds in buffers, body and response', () => {
    const tracker = new RequestTracker();
    const request = tracker.begin('b1', 'POST', '/upload', 'hello');
    request.requestBody = { memoryBytes: 0, diskBytes: 2_000_000 };
    request.responseBuffer = { memoryBytes: 1_048_576, diskBytes: 5_000 };
    expect(tracker.inspect()[0]).toMatchObject({ bufferedMemoryBytes: 1_048_576, bufferedDiskBytes: 2_005_000 });
  });

  it('measures ages from the time given to inspect', () => {
    const tracker = new RequestTracker();
    tracker.begin('a', 'GET', '/', 'hello');
    expect(tracker.inspect(NOW.getTime() + 5000)[0]?.ageMs).toBe(5000);
  });

  it('forgets a request once it ends', () => {
    const tracker = new RequestTracker();
    const request = tracker.begin('a', 'GET', '/', 'hello');
    tracker.end(request);
    expect(tracker.inspect()).toEqual([]);
  });

  it('reports no rate before any request has completed', () => {
    expect(new RequestTracker().perSecond()).toBe(0);
  });

  it('does not count the current second, which is still filling', () => {
    const tracker = new RequestTracker();
    complete(tracker, 50);
    expect(tracker.perSecond()).toBe(0);
  });

  it('averages completed requests over the nine full seconds before the current one', () => {
    // Given 9 requests in one second and 18 in the next,
    const tracker = new RequestTracker();
    complete(tracker, 9);
    advance(1000);
    complete(tracker, 18);

    // once both seconds are over, the rate is 27 requests over 9 seconds;
    advance(1000);
    expect(tracker.perSecond()).toBe(3);

    // it stays while they are within the window,
    advance(7000);
    expect(tracker.perSecond()).toBe(3);

    // the first second leaves the window first,
    advance(1000);
    expect(tracker.perSecond()).toBe(2);

    // and then the second.
    advance(1000);
    expect(tracker.perSecond()).toBe(0);
  });

  it('rounds the rate to one decimal', () => {
    const tracker = new RequestTracker();
    complete(tracker, 1);
    advance(1000);
    expect(tracker.perSecond()).toBe(0.1);
  });

  it('forgets everything after a pause longer than the window', () => {
    const tracker = new RequestTracker();
    complete(tracker, 100);
    advance(60_000);
    expect(tracker.perSecond()).toBe(0);
    complete(tracker, 9);
    advance(1000);
    expect(tracker.perSecond()).toBe(1);
  });

  it('counts requests that start in one second and end in a later one in the second they end', () => {
    const tracker = new RequestTracker();
    const slow = tracker.begin('slow', 'GET', '/slow', 'hello');
    advance(3000);
    tracker.end(slow);
    advance(1000);
    expect(tracker.perSecond()).toBe(0.1);
  });

  it('counts 502, 503 and 504 responses and ignores every other status', () => {
    const tracker = new RequestTracker();
    for (const status of [200, 404, 500, 502, 502, 503, 504, 504, 504, 501, 505]) tracker.countStatus(status);
    expect(tracker.failed).toEqual({ '502': 2, '503': 1, '504': 3 });
  });
});
