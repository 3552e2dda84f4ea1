// The pool's only calls on a worker's upstream client, in one place: the out-of-band work
// request, and closing (handover) or destroying (exit) its connections. The proxy's own
// forwarding lives in src/core/proxy/stages/forward.ts.

import type { WorkerProcess } from './worker.js';

/** Where the core sends the out-of-band work request an app asked for. */
export const OOB_WORK_PATH = '/ferry/oob-work';

/** Sends the out-of-band work request and waits for its whole answer; resolves to its status. */
export async function sendOobWorkRequest(worker: WorkerProcess): Promise<number> {
  const { status } = await worker.upstream.request({ method: 'POST', path: OOB_WORK_PATH, headers: ['Host', 'localhost', 'X-Ferry-Oob-Work', '1'] });
  return status;
}

/** Handover: lets its idle connections close; the process stays up for the new core. */
export function closeUpstream(worker: WorkerProcess): Promise<void> {
  return worker.upstream.close().catch(() => undefined);
}

/** The process exited: its connections are dead. */
export function destroyUpstream(worker: WorkerProcess): void {
  void worker.upstream.destroy().catch(() => undefined);
}
