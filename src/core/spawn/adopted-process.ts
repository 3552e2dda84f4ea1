// An app process this core did not spawn: a previous core did, then crashed or handed over. It is
// not our child, so there is no 'exit' event and no exit status: its end is seen by polling its
// pid (and start time, so a reused pid never passes for it), or sooner when its output FIFO ends.

import { EventEmitter } from 'node:events';
import { isSameProcess } from '../../lib/instance-registry.js';

const POLL_MS = 250;

export class AdoptedProcess extends EventEmitter<{ exit: [code: number | null, signal: NodeJS.Signals | null] }> {
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  private exited = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly pid: number,
    private readonly startTicks: number | undefined,
  ) {
    super();
    this.timer = setInterval(() => this.check(), POLL_MS);
    this.timer.unref();
  }

  /** Still the process that was recorded: alive, not a zombie, same start time. */
  isAlive(): boolean {
    return isSameProcess(this.pid, this.startTicks);
  }

  /** Looks now (its output ended, a connection failed); emits 'exit' once it is gone. */
  check(): void {
    if (this.exited || this.isAlive()) return;
    this.exited = true;
    clearInterval(this.timer);
    // Unknown status: the parent that could have reaped it is gone. -1 says "not ours to know".
    this.exitCode = -1;
    this.emit('exit', null, null);
  }
}
