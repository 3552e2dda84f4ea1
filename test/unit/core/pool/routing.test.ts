import { describe, expect, it } from 'vitest';
import { chooseWorker, type RoutingCandidate } from '../../../../src/core/pool/routing.js';

interface Candidate extends RoutingCandidate {
  id: string;
}

function candidate(id: string, sessions: number, spawnedAtMs: number, isRoutable = true, concurrency = 0): Candidate {
  return { id, sessions, spawnedAtMs, isRoutable, concurrency };
}

describe('chooseWorker', () => {
  it('routes to the least busy routable worker', () => {
    const workers = [candidate('a', 3, 100), candidate('b', 1, 200), candidate('c', 2, 50)];
    expect(chooseWorker(workers)?.id).toBe('b');
  });

  it('breaks a tie in sessions in favour of the oldest worker', () => {
    const workers = [candidate('young', 1, 300), candidate('old', 1, 100), candidate('middle', 1, 200)];
    expect(chooseWorker(workers)?.id).toBe('old');
  });

  it('keeps the first of two workers that are equally busy and equally old', () => {
    const workers = [candidate('first', 0, 100), candidate('second', 0, 100)];
    expect(chooseWorker(workers)?.id).toBe('first');
  });

  it('skips workers that are not routable even when they are idle', () => {
    const workers = [candidate('draining', 0, 10, false), candidate('busy', 5, 500), candidate('stopping', 0, 20, false)];
    expect(chooseWorker(workers)?.id).toBe('busy');
  });

  it('returns undefined when no worker is routable', () => {
    expect(chooseWorker([candidate('a', 0, 1, false), candidate('b', 0, 2, false)])).toBeUndefined();
  });

  it('returns undefined for an empty list', () => {
    expect(chooseWorker([])).toBeUndefined();
  });

  it('skips a process at its concurrency limit, and finds none when all are full', () => {
    const full = [candidate('a', 1, 100, true, 1), candidate('b', 1, 200, true, 1)];
    expect(chooseWorker(full)).toBeUndefined();
    expect(chooseWorker([...full, candidate('c', 0, 300, true, 1)])?.id).toBe('c');
    // Unlimited concurrency is never full.
    expect(chooseWorker([candidate('node', 500, 100, true, 0)])?.id).toBe('node');
  });
});
