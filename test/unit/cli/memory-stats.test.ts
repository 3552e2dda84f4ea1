import { describe, expect, it } from 'vitest';
import { classifyProcesses, formatMemoryStats, type MemoryStatsResult } from '../../../src/cli/memory-stats.js';
import { readProcessMemory } from '../../../src/lib/diagnostics/memory.js';

const TABLE = [
  { pid: 10, ppid: 1, name: 'nginx', cmd: 'nginx: master process nginx' },
  { pid: 11, ppid: 10, name: 'nginx', cmd: 'nginx: worker process' },
  { pid: 20, ppid: 1, name: 'node', cmd: '/usr/bin/node /opt/ferry/dist/bundle/ferry-watchdog.mjs' },
  { pid: 21, ppid: 20, name: 'node', cmd: '/usr/bin/node /opt/ferry/dist/bundle/ferry-core.mjs' },
  { pid: 22, ppid: 21, name: 'node', cmd: '/usr/bin/node --require /opt/ferry/dist/core/spawn/node-loader.cjs app.js' },
  { pid: 30, ppid: 1, name: 'node', cmd: '/usr/bin/node /other/dist/core/watchdog/main.js' },
  { pid: 31, ppid: 1, name: 'node', cmd: '/usr/bin/node /other/dist/bundle/ferry-core.mjs' },
  { pid: 40, ppid: 1, name: 'bash', cmd: 'bash' },
];

describe('classifyProcesses', () => {
  it("names an instance's processes by role, finds front servers, and lists Ferry processes of unseen instances", () => {
    const result = classifyProcesses(TABLE, [{ name: 'k3x9', watchdogPid: 20, corePid: 21, workers: [{ pid: 22, app: 'web' }] }]);
    expect(result.nginx.map((p) => p.pid)).toEqual([10, 11]);
    expect(result.apache).toEqual([]);
    expect(result.ferry.map((f) => [f.entry.pid, f.label])).toEqual([
      [20, 'watchdog (instance k3x9)'],
      [21, 'core (instance k3x9)'],
      [22, 'app web (instance k3x9)'],
      [30, '/usr/bin/node /other/dist/core/watchdog/main.js (instance not visible)'],
      [31, '/usr/bin/node /other/dist/bundle/ferry-core.mjs (instance not visible)'],
    ]);
  });
});

describe('readProcessMemory', () => {
  it('reads real numbers for this process and says a missing one is gone', () => {
    const mine = readProcessMemory(process.pid);
    expect(mine.rssBytes).toBeGreaterThan(1024 * 1024);
    expect(mine.privateDirtyBytes).toBeGreaterThan(0);
    expect(mine.unreadable).toBeUndefined();
    expect(readProcessMemory(4_300_000).unreadable).toBe('gone');
  });
});

describe('formatMemoryStats', () => {
  it('prints each section with its totals, unknown values as "?", and the notes', () => {
    const result: MemoryStatsResult = {
      version: '0.1.0',
      sections: [
        {
          title: 'Ferry processes',
          processes: [
            { pid: 20, ppid: 1, name: 'watchdog (instance k3x9)', vmSizeBytes: 100 * 1048576, rssBytes: 40 * 1048576, privateDirtyBytes: 8 * 1048576, pssBytes: 10 * 1048576, swapBytes: 0 },
            { pid: 99, ppid: 1, name: 'app x', vmSizeBytes: null, rssBytes: null, privateDirtyBytes: null, pssBytes: null, swapBytes: null, unreadable: 'permission' },
          ],
          totalPrivateDirtyBytes: 8 * 1048576,
          totalPssBytes: 10 * 1048576,
          unreadable: 1,
        },
      ],
      instances: [{ name: 'k3x9', watchdogPid: 20, cgroup: { path: '/ferry', usageBytes: 200 * 1048576, limitBytes: null } }],
      notes: ['Could not read the memory of 1 process(es) (permission)'],
    };
    const text = formatMemoryStats(result, new Date('2026-11-22T20:00:00Z'));
    expect(text).toContain('------------- Ferry processes -------------\nPID  PPID  VMSize    RSS      Private  PSS      Swap    Name\n');
    expect(text).toContain('20   1     100.0 MB  40.0 MB  8.0 MB   10.0 MB  0.0 MB  watchdog (instance k3x9)');
    expect(text).toContain('99   1     ?         ?        ?        ?        ?       app x');
    expect(text).toContain('### Total private dirty RSS: 8.00 MB (?)');
    expect(text).toContain('### Instance k3x9: cgroup /ferry uses 200.0 MB, limit none');
    expect(text).toContain('*** Could not read the memory of 1 process(es) (permission)');
  });
});
