// A V8 heap snapshot of a running Node process, through the same inspector route as its JS stack
// (js-stack.ts: SIGUSR1, a loopback inspector, closed again at once): HeapProfiler.takeHeapSnapshot
// streams the snapshot's JSON in chunks, written to the file as they come, so the core never
// holds a whole snapshot in memory.

import fs from 'node:fs';
import { closeInspector, openSession, type InspectorSession } from './js-stack.js';

export interface HeapSnapshotLimits {
  /** The whole capture, inspector opening included; after it the file is removed. */
  timeoutMs: number;
  /** A snapshot growing past this is cut off (and its file removed). */
  maxBytes: number;
}

export type HeapSnapshotResult = { ok: true; bytes: number } | { ok: false; reason: string };

/**
 * Writes a heap snapshot of `pid` to `file`, created here (0600, never over an existing file or
 * through a link). Never throws: a failure is the reason why, and leaves no file.
 */
export async function captureHeapSnapshot(pid: number, inspectorUrl: () => string | undefined, file: string, limits: HeapSnapshotLimits): Promise<HeapSnapshotResult> {
  const deadline = Date.now() + limits.timeoutMs;
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
  } catch (err) {
    return { ok: false, reason: `cannot create ${file}: ${(err as Error).message}` };
  }
  const out = fs.createWriteStream('', { fd });
  const finished = new Promise<Error | undefined>((resolve) => {
    out.once('close', () => resolve(undefined));
    out.once('error', (err) => resolve(err));
  });
  let result: HeapSnapshotResult;
  const session = await openSession(pid, inspectorUrl, deadline);
  if (!session) {
    result = { ok: false, reason: 'the inspector could not be opened' };
  } else {
    result = await streamSnapshot(session, out, deadline, limits);
    await closeInspector(session);
  }
  out.end();
  const writeError = await finished;
  if (result.ok && writeError) result = { ok: false, reason: `cannot write ${file}: ${writeError.message}` };
  if (!result.ok) fs.rmSync(file, { force: true });
  return result;
}

/** Asks for the snapshot and writes its chunks until the answer (or the deadline, the size cap, the session's end). */
function streamSnapshot(session: InspectorSession, out: fs.WriteStream, deadline: number, { timeoutMs, maxBytes }: HeapSnapshotLimits): Promise<HeapSnapshotResult> {
  return new Promise((resolve) => {
    let bytes = 0;
    const settle = (result: HeapSnapshotResult): void => {
      clearTimeout(timer);
      stopListening();
      resolve(result);
    };
    const timer = setTimeout(() => settle({ ok: false, reason: `no whole snapshot within ${timeoutMs} ms` }), Math.max(100, deadline - Date.now()));
    void session.ended.then(() => settle({ ok: false, reason: 'the inspector session ended before the snapshot did' }));
    const stopListening = session.onMessage((message) => {
      const chunk = message.method === 'HeapProfiler.addHeapSnapshotChunk' ? message.params?.chunk : undefined;
      if (chunk !== undefined) {
        bytes += Buffer.byteLength(chunk);
        if (bytes > maxBytes) settle({ ok: false, reason: `the snapshot passed ${maxBytes} bytes` });
        else out.write(chunk);
      } else if (message.id === snapshotId) {
        settle(message.error ? { ok: false, reason: `the process refused: ${message.error.message ?? 'unknown error'}` } : { ok: true, bytes });
      }
    });
    const snapshotId = session.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  });
}
