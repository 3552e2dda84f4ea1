import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DiagnosticsDir, evidenceBase, evidenceToRemove, SNAPSHOT_MAX_RSS_BYTES, snapshotSkipReason } from '../../../../src/core/pool/evidence.js';
import type { WorkerProcess } from '../../../../src/core/pool/worker.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

describe('evidenceBase', () => {
  it('names the app, the pid and the UTC time to the millisecond, without characters a shell or another system minds', () => {
    expect(evidenceBase('demo', 4242, new Date('2026-12-06T21:30:49.007Z'))).toBe('demo-4242-20261206T213049007Z');
  });
});

describe('evidenceToRemove', () => {
  const at = (s: number): string => evidenceBase('demo', 100 + s, new Date(Date.UTC(2026, 11, 6, 21, 0, s)));

  it('keeps the newest three recycles of the app, each with its snapshot and its log', () => {
    const names = [at(1), at(4), at(2), at(3)].flatMap((base) => [`${base}.heapsnapshot`, `${base}.log`]);
    expect(evidenceToRemove(names, 'demo').sort()).toEqual([`${at(1)}.heapsnapshot`, `${at(1)}.log`]);
    expect(evidenceToRemove(names.slice(0, 6), 'demo')).toEqual([]);
  });

  it("orders by time, not by pid, and never touches another app's files or anything else", () => {
    const names = [
      `${evidenceBase('demo', 9, new Date(Date.UTC(2026, 0, 1)))}.log`,
      `${evidenceBase('demo', 10, new Date(Date.UTC(2026, 0, 2)))}.log`,
      `${evidenceBase('demo', 8, new Date(Date.UTC(2026, 0, 3)))}.log`,
      `${evidenceBase('demo', 7, new Date(Date.UTC(2026, 0, 4)))}.log`,
      `${evidenceBase('demo-2', 1, new Date(Date.UTC(2025, 0, 1)))}.log`,
      `${evidenceBase('demo.x', 1, new Date(Date.UTC(2025, 0, 1)))}.log`,
      'demo-notes.txt',
    ];
    expect(evidenceToRemove(names, 'demo')).toEqual([names[0]]);
    expect(evidenceToRemove(names, 'demo-2')).toEqual([]);
  });
});

describe('snapshotSkipReason', () => {
  it('takes a snapshot of a Node process up to the RSS cap, and says why not otherwise', () => {
    expect(snapshotSkipReason(true, 200 * 1024 ** 2)).toBeUndefined();
    expect(snapshotSkipReason(true, null)).toBeUndefined();
    expect(snapshotSkipReason(true, SNAPSHOT_MAX_RSS_BYTES + 1)).toMatch(/^its RSS \(1024 MB\) is over 1024 MB/);
    expect(snapshotSkipReason(false, 1)).toBe('not a Node app');
  });
});

describe('DiagnosticsDir', () => {
  it('writes the last lines of a process that is not a Node app, 0600 in a 0700 directory, and prunes to three', async () => {
    const instance = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-evidence-'));
    dirs.push(instance);
    const diagnostics = DiagnosticsDir.prepare(instance);
    expect(fs.statSync(diagnostics.dir).mode & 0o777).toBe(0o700);
    const worker = { app: 'demo', pid: process.pid, inspectorUrl: undefined, recentOutput: () => ['stdout: one', 'stderr: two'] } as unknown as WorkerProcess;
    let evidence;
    for (let s = 0; s < 5; s++) evidence = await diagnostics.capture(worker, 'memory-limit', new Date(Date.UTC(2026, 11, 6, 21, 0, s)));
    const file = path.join(diagnostics.dir, `demo-${process.pid}-20261206T210004000Z.log`);
    expect(evidence).toEqual({ pid: process.pid, reason: 'memory-limit', at: '2026-12-06T21:00:04.000Z', files: [file], heapSnapshotSkipped: 'not a Node app' });
    expect(fs.readFileSync(file, 'utf8')).toBe('stdout: one\nstderr: two\n');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(diagnostics.dir)).toHaveLength(3);
  });
});
