// Session: one request's checked-out slot on a worker. Closing it twice is harmless.

import type { WorkerProcess } from './worker.js';

export class Session {
  private closed = false;

  constructor(
    readonly worker: WorkerProcess,
    private readonly onClose: (session: Session) => void,
  ) {
    worker.sessions++;
    worker.lastUsedAtMs = Date.now();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.worker.sessions--;
    this.worker.processed++;
    this.worker.lastUsedAtMs = Date.now();
    this.onClose(this);
  }
}
