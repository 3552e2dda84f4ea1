// Evidence kept before Ferry recycles a process over --memory-limit, in `<instance>/diagnostics`
// (0700): a heap snapshot of a Node process, and its last lines of output, as
// `<app>-<pid>-<time>.heapsnapshot` and `.log` (0600). Bounded: the newest EVIDENCE_KEPT_PER_APP
// of each app are kept, a process too big for a snapshot gets none, and a snapshot that takes too
// long is given up. Never in the way of a recycle: every failure is a reason, not an exception.

import fs from 'node:fs';
import path from 'node:path';
import type { EvidenceSnapshot } from '../../lib/admin-api-contract.js';
import { captureHeapSnapshot } from '../../lib/diagnostics/heap-snapshot.js';
import { readProcessMetrics } from '../../lib/diagnostics/process-metrics.js';
import { INSTANCE_FILES } from '../../lib/instance-registry.js';
import type { WorkerProcess } from './worker.js';

/** Recycles of one app whose evidence is kept; older ones are removed. */
export const EVIDENCE_KEPT_PER_APP = 3;
/** V8 needs about as much memory again to write a snapshot, and a bigger file takes long: none above this RSS. */
export const SNAPSHOT_MAX_RSS_BYTES = 1024 ** 3;
/** After this the snapshot is given up and the process recycled anyway. */
export const SNAPSHOT_TIMEOUT_MS = 30_000;
/** A snapshot file is cut off (and removed) past this. */
const SNAPSHOT_MAX_BYTES = 2 * 1024 ** 3;

/** `<app>-<pid>-<UTC time to the millisecond>`: sorts by time within one pid, and names what it holds. */
export function evidenceBase(app: string, pid: number, at: Date): string {
  return `${app}-${pid}-${at.toISOString().replace(/[-:]/g, '').replace('.', '')}`;
}

/** The files in the directory (names) that go so that only the newest `keep` recycles of `app` stay (pure). */
export function evidenceToRemove(names: readonly string[], app: string, keep = EVIDENCE_KEPT_PER_APP): string[] {
  const escaped = app.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  // The pid and the time: another app's name that starts with this one's never matches.
  const ours = new RegExp(`^${escaped}-\\d+-(\\d{8}T\\d{9}Z)\\.(?:heapsnapshot|log)$`);
  const byBase = new Map<string, { time: string; names: string[] }>();
  for (const name of names) {
    const match = ours.exec(name);
    if (!match) continue;
    const base = name.slice(0, name.lastIndexOf('.'));
    const entry = byBase.get(base) ?? { time: match[1] as string, names: [] };
    entry.names.push(name);
    byBase.set(base, entry);
  }
  const newestFirst = [...byBase.values()].sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
  return newestFirst.slice(keep).flatMap((entry) => entry.names);
}

/** Why a process gets no heap snapshot, or undefined if it gets one (pure). */
export function snapshotSkipReason(nodeApp: boolean, rssBytes: number | null, maxRssBytes = SNAPSHOT_MAX_RSS_BYTES): string | undefined {
  if (!nodeApp) return 'not a Node app';
  if (rssBytes !== null && rssBytes > maxRssBytes) {
    return `its RSS (${Math.round(rssBytes / 1024 ** 2)} MB) is over ${Math.round(maxRssBytes / 1024 ** 2)} MB: writing a snapshot would need as much again and take too long`;
  }
  return undefined;
}

export class DiagnosticsDir {
  private constructor(readonly dir: string) {}

  /** Creates `<instance>/diagnostics` (0700); what earlier cores kept there stays. */
  static prepare(instanceDir: string): DiagnosticsDir {
    const dir = path.join(instanceDir, INSTANCE_FILES.diagnosticsDir);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    return new DiagnosticsDir(dir);
  }

  /** Takes the evidence of a process about to be recycled for its memory; never throws. */
  async capture(worker: WorkerProcess, reason: EvidenceSnapshot['reason'], now = new Date()): Promise<EvidenceSnapshot> {
    const base = path.join(this.dir, evidenceBase(worker.app, worker.pid, now));
    const evidence: EvidenceSnapshot = { pid: worker.pid, reason, at: now.toISOString(), files: [] };
    const lines = worker.recentOutput?.();
    if (lines && lines.length > 0) {
      const failed = writeNew(`${base}.log`, `${lines.join('\n')}\n`);
      if (failed) evidence.failed = [failed];
      else evidence.files.push(`${base}.log`);
    }
    const skipped = snapshotSkipReason(worker.inspectorUrl !== undefined, readProcessMetrics(worker.pid).rssBytes);
    if (skipped) {
      evidence.heapSnapshotSkipped = skipped;
    } else {
      const snapshot = await captureHeapSnapshot(worker.pid, worker.inspectorUrl as () => string | undefined, `${base}.heapsnapshot`, { timeoutMs: SNAPSHOT_TIMEOUT_MS, maxBytes: SNAPSHOT_MAX_BYTES });
      if (snapshot.ok) evidence.files.push(`${base}.heapsnapshot`);
      else evidence.failed = [...(evidence.failed ?? []), `heap snapshot: ${snapshot.reason}`];
    }
    this.prune(worker.app);
    return evidence;
  }

  /** Keeps the newest EVIDENCE_KEPT_PER_APP recycles' files of the app. */
  private prune(app: string): void {
    try {
      for (const name of evidenceToRemove(fs.readdirSync(this.dir), app)) fs.rmSync(path.join(this.dir, name), { force: true });
    } catch {
      // the instance directory is going away
    }
  }
}

/** Writes a file that must not exist yet (0600, no link followed); the reason it failed, or undefined. */
function writeNew(file: string, text: string): string | undefined {
  try {
    const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    try {
      fs.writeSync(fd, text);
    } finally {
      fs.closeSync(fd);
    }
    return undefined;
  } catch (err) {
    return `cannot write ${file}: ${(err as Error).message}`;
  }
}
