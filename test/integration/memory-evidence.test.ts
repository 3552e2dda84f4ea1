// --memory-limit on a real Node app: the recycle waits for a sustained excess
// (--memory-limit-checks), and before it Ferry keeps evidence in the instance's diagnostics
// directory (a heap snapshot, the last output lines), named in the log and in `ferry status`.

import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { PoolResponse } from '../../src/lib/admin-api-contract.js';
import { isProcessRunning } from '../../src/lib/process-groups.js';
import { daemonLogLines, fixture, runFerry, startDaemon, waitFor, type TestInstance } from '../helpers/ferry.js';

let instance: TestInstance | undefined;

afterEach(() => {
  instance?.forceCleanup();
  instance = undefined;
});

describe('memory-limit evidence', () => {
  it('replaces a Node process only after 3 checks over the limit, keeping a heap snapshot and its last lines first', async () => {
    instance = await startDaemon(fixture('grow-app'), ['--memory-limit', '60']);
    const grown = Number(await (await request(`${instance.url}/grow?mb=80`)).body.text());
    const overMsg = (k: number): string => `app process over memory-limit (check ${k} of 3); replaced if it stays over`;
    const lines = () => daemonLogLines(instance!).filter((l) => l.appPid === grown);

    // The second check over the limit is logged while the process still runs and serves.
    await waitFor(() => lines().some((l) => l.msg === overMsg(2)), 'the second check over the limit', 10_000);
    expect(lines().some((l) => l.msg === overMsg(1))).toBe(true);
    expect(isProcessRunning(grown)).toBe(true);
    expect(lines().some((l) => l.msg.startsWith('app process over memory-limit; replacing it'))).toBe(false);

    await waitFor(() => !isProcessRunning(grown), 'the grown process to be replaced', 40_000);
    const recycle = lines().find((l) => l.msg.startsWith('app process over memory-limit; replacing it'));
    expect(recycle).toMatchObject({ level: 40, checks: 3, memoryLimitBytes: 60 * 1024 * 1024 });
    const snapshot = recycle!.heapSnapshot as string;
    expect(recycle!.msg).toContain(snapshot);
    const diagnostics = path.join(instance.info.dir, 'diagnostics');
    expect(path.dirname(snapshot)).toBe(diagnostics);
    expect(path.basename(snapshot)).toMatch(new RegExp(`^grow-app-${grown}-\\d{8}T\\d{9}Z\\.heapsnapshot$`));
    expect(fs.statSync(diagnostics).mode & 0o777).toBe(0o700);
    const stat = fs.statSync(snapshot);
    expect(stat.mode & 0o777).toBe(0o600);
    expect(stat.size).toBeGreaterThan(0);
    const fd = fs.openSync(snapshot, 'r');
    const start = Buffer.alloc(12);
    fs.readSync(fd, start, 0, 12, 0);
    fs.closeSync(fd);
    expect(start.toString()).toBe('{"snapshot":');
    expect(fs.readFileSync(snapshot, 'utf8')).toContain(`grew-${grown}`);

    const output = recycle!.lastOutput as string;
    expect(output).toBe(snapshot.replace(/\.heapsnapshot$/, '.log'));
    expect(fs.statSync(output).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(output, 'utf8')).toContain(`stdout: grew by 80 MB, pid ${grown}`);

    // A new process serves, and status names the evidence.
    const next = await request(`${instance.url}/pid`);
    expect(await next.body.text()).not.toBe(String(grown));
    const json = JSON.parse((await runFerry(instance.registryDir, ['status', '--json'])).stdout) as PoolResponse;
    expect(json.groups[0]!.lastEvidence).toMatchObject({ pid: grown, reason: 'memory-limit', files: [output, snapshot] });
    const text = (await runFerry(instance.registryDir, ['status', '--no-header'])).stdout;
    expect(text).toContain(`Last recycle over memory-limit: PID ${grown}`);
    expect(text).toContain(snapshot);

    instance.refresh();
    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  }, 90_000);
});
