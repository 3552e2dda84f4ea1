// The lifecycle of an app group: one phase at a time, changed only through moveTo(), which
// knows the allowed moves. What a phase permits (spawning, reaping, restarting) is asked of it
// here too, so the group's modules never combine flags themselves.

/**
 * serving: manages its processes (spawns, reaps, recycles, restarts). adopting: taking over the
 * processes an earlier core left; serves them but spawns nothing, or it would overshoot the pool
 * size. frozen: handing over to a new core; serves only, changes nothing the new core adopts.
 * stopping: shutting down or released to a new core; final.
 */
export type GroupPhase = 'serving' | 'adopting' | 'frozen' | 'stopping';

export const GROUP_TRANSITIONS: Readonly<Record<GroupPhase, readonly GroupPhase[]>> = {
  serving: ['adopting', 'frozen', 'stopping'],
  // A handover that begins while adoption is still under way stays frozen once it ends.
  adopting: ['serving', 'frozen', 'stopping'],
  frozen: ['serving', 'stopping'],
  stopping: [],
};

export class GroupLifecycle {
  private current: GroupPhase = 'serving';

  get phase(): GroupPhase {
    return this.current;
  }

  /** Moves to `next` if that move is allowed from here; false (and no change) otherwise. */
  moveTo(next: GroupPhase): boolean {
    if (!GROUP_TRANSITIONS[this.current].includes(next)) return false;
    this.current = next;
    return true;
  }

  get stopping(): boolean {
    return this.current === 'stopping';
  }

  /** May spawn processes: not while adopting, handing over or stopping. */
  get maySpawn(): boolean {
    return this.current === 'serving';
  }

  /** May stop or replace processes of its own accord (idle, max-requests, memory, restarts). */
  get mayRecycle(): boolean {
    return this.current === 'serving' || this.current === 'adopting';
  }

  /** An operator's restart is accepted (refused while handing over or stopping). */
  get mayRestart(): boolean {
    return this.current === 'serving' || this.current === 'adopting';
  }
}
