// The states of a worker (one app process in the pool) and the only moves between them, so
// every state change goes through one check (WorkerProcess.moveTo) instead of guards scattered
// over the group.

import type { ProcessState } from '../../lib/admin-api-contract.js';

/**
 * starting: every process begins here, taken in by the group once it listens; it moves to ready
 * at once, or with --readiness-path once that answers 2xx. Not in rotation meanwhile; it still
 * counts as a spawn under way (Spawning.inFlight), not as a pool slot. ready: takes new requests. oob-work: out of rotation for the out-of-band work its app asked
 * for, back to ready afterwards. draining: out of rotation for good, finishing its requests.
 * stopping: asked to exit (SIGTERM sent) or killed. dead: exited; forgotten right after.
 * The same strings are the admin API's ProcessState (status shows them verbatim).
 */
export type WorkerState = ProcessState;

/** Where each state may go next. A move not listed is refused, which is how callers test "still ...?". */
export const WORKER_TRANSITIONS: Readonly<Record<WorkerState, readonly WorkerState[]>> = {
  // draining: the group stops while it waits for readiness; stopping: its readiness check failed.
  starting: ['ready', 'draining', 'stopping', 'dead'],
  ready: ['oob-work', 'draining', 'stopping', 'dead'],
  'oob-work': ['ready', 'draining', 'stopping', 'dead'],
  draining: ['stopping', 'dead'],
  stopping: ['dead'],
  dead: [],
};

export function canMoveWorker(from: WorkerState, to: WorkerState): boolean {
  return WORKER_TRANSITIONS[from].includes(to);
}

/**
 * Counts against max-pool-size (and the app's minimum): a process that serves, or will again
 * once its out-of-band work is done. Draining ones do not, as in Passenger, so their replacements
 * can start at once. Starting ones are counted with the spawns under way instead.
 */
export function holdsPoolSlot(state: WorkerState): boolean {
  return state === 'ready' || state === 'oob-work';
}
