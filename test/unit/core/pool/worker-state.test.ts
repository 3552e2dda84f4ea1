import { describe, expect, it } from 'vitest';
import { canMoveWorker, holdsPoolSlot, WORKER_TRANSITIONS, type WorkerState } from '../../../../src/core/pool/worker-state.js';
import { GROUP_TRANSITIONS, GroupLifecycle, type GroupPhase } from '../../../../src/core/pool/group-lifecycle.js';

const WORKER_STATES: WorkerState[] = ['starting', 'ready', 'oob-work', 'draining', 'stopping', 'dead'];

describe('worker states', () => {
  it('lets a process leave rotation for good only forwards: draining, then stopping, then dead', () => {
    expect(canMoveWorker('ready', 'draining')).toBe(true);
    expect(canMoveWorker('draining', 'stopping')).toBe(true);
    expect(canMoveWorker('stopping', 'dead')).toBe(true);
    expect(canMoveWorker('draining', 'ready')).toBe(false);
    expect(canMoveWorker('stopping', 'draining')).toBe(false);
    expect(canMoveWorker('draining', 'draining')).toBe(false);
  });

  it('puts a process in rotation only from starting (it listened, and passed its readiness check) or back from out-of-band work', () => {
    expect(WORKER_STATES.filter((from) => canMoveWorker(from, 'ready'))).toEqual(['starting', 'oob-work']);
    expect(WORKER_STATES.filter((from) => canMoveWorker(from, 'oob-work'))).toEqual(['ready']);
    expect(WORKER_STATES.filter((from) => canMoveWorker(from, 'starting'))).toEqual([]);
  });

  it('lets a stuck process be killed from any live state, and a dead one go nowhere', () => {
    expect(WORKER_STATES.filter((from) => canMoveWorker(from, 'stopping'))).toEqual(['starting', 'ready', 'oob-work', 'draining']);
    expect(WORKER_STATES.filter((from) => canMoveWorker(from, 'dead'))).toEqual(['starting', 'ready', 'oob-work', 'draining', 'stopping']);
    expect(WORKER_TRANSITIONS.dead).toEqual([]);
  });

  it('counts a process doing out-of-band work against the pool size, and neither a draining one nor a starting one (a spawn under way)', () => {
    expect(WORKER_STATES.filter(holdsPoolSlot)).toEqual(['ready', 'oob-work']);
  });
});

describe('GroupLifecycle', () => {
  it('starts serving, and only serving spawns', () => {
    const lifecycle = new GroupLifecycle();
    expect(lifecycle.phase).toBe('serving');
    const spawns: Record<GroupPhase, boolean> = { serving: false, adopting: false, frozen: false, stopping: false };
    for (const phase of Object.keys(spawns) as GroupPhase[]) {
      const l = new GroupLifecycle();
      if (phase !== 'serving') l.moveTo(phase);
      spawns[phase] = l.maySpawn;
    }
    expect(spawns).toEqual({ serving: true, adopting: false, frozen: false, stopping: false });
  });

  it('refuses a restart while handing over or stopping, accepts it while adopting', () => {
    const adopting = new GroupLifecycle();
    adopting.moveTo('adopting');
    expect(adopting.mayRestart).toBe(true);
    const frozen = new GroupLifecycle();
    frozen.moveTo('frozen');
    expect(frozen.mayRestart).toBe(false);
    expect(frozen.mayRecycle).toBe(false);
    const stopping = new GroupLifecycle();
    stopping.moveTo('stopping');
    expect(stopping.mayRestart).toBe(false);
  });

  it('thaws a handover back to serving, and never leaves stopping', () => {
    const lifecycle = new GroupLifecycle();
    expect(lifecycle.moveTo('frozen')).toBe(true);
    expect(lifecycle.moveTo('adopting')).toBe(false);
    expect(lifecycle.moveTo('serving')).toBe(true);
    expect(lifecycle.moveTo('stopping')).toBe(true);
    for (const next of Object.keys(GROUP_TRANSITIONS) as GroupPhase[]) expect(lifecycle.moveTo(next)).toBe(false);
    expect(lifecycle.phase).toBe('stopping');
  });

  it('stays frozen when a handover begins during adoption', () => {
    const lifecycle = new GroupLifecycle();
    lifecycle.moveTo('adopting');
    expect(lifecycle.moveTo('frozen')).toBe(true);
    expect(lifecycle.phase).toBe('frozen');
  });
});
