import { describe, expect, it } from 'vitest';
import { formatHeader, formatPool, formatRequests, formatServer } from '../../../../src/cli/format/status-text.js';
import { formatMegabytes, formatUptime } from '../../../../src/cli/format/units.js';
import { NOW, POOL, SERVER } from '../../../helpers/snapshots.js';

describe('formatPool', () => {
  it("lays out the pool exactly as passenger-status does, two lines per process", () => {
    expect([...formatHeader({ version: '0.1.0', instance: 'k3x9ab12', date: NOW }), ...formatPool(POOL, NOW)].join('\n')).toBe(
      [
        'Version : 0.1.0',
        'Date    : 2026-11-22 20:33:10 +0000',
        'Instance: k3x9ab12 (Ferry/0.1.0)',
        '',
        '----------- General information -----------',
        'Max pool size : 3',
        'App groups    : 1',
        'Processes     : 2',
        'Requests in top-level queue : 1',
        '',
        '----------- Application groups -----------',
        'demo:',
        '  App root: /srv/demo',
        '  Requests in queue: 1',
        '  * PID: 9106    Sessions: 0       Processed: 4       Uptime: 9s',
        '    CPU: 1%      Memory  : 9M      Last used: 0s ago',
        '  * PID: 12889   Sessions: 1       Processed: 0       Uptime: 1m 11s',
        '    CPU: 0%      Memory  : 11M     Last used: 1s ago',
        '    Draining...',
      ].join('\n'),
    );
  });

  it('says when a group is restarting, spawning, or backing off after a failed spawn', () => {
    const group = { ...POOL.groups[0]!, state: 'backoff' as const, spawning: 2, lastSpawnError: { code: 'FERRY_ERR_SPAWN_EXITED', message: "app 'demo' exited with code 1", at: '' } };
    const text = formatPool({ ...POOL, groups: [group] }, NOW).join('\n');
    expect(text).toContain('  (spawning 2 new processes...)');
    expect(text).toContain("  (cannot start, retrying: app 'demo' exited with code 1)");
    const rolling = formatPool({ ...POOL, groups: [{ ...POOL.groups[0]!, state: 'restarting', restart: { rolling: true, generation: 1, startedAt: '' } }] }, NOW);
    expect(rolling).toContain('  (rolling restart...)');
  });

  // Issue 19, item 7: a failed restart read "(restarting...)" for ever, with no reason.
  it('says a restart failed, why, and what serves meanwhile: the old processes, or nothing', () => {
    const reason = "app 'demo' exited with code 1 before it listened: Error: Cannot find module './missing.json'";
    const base = POOL.groups[0]!;
    const old = { ...base, state: 'running' as const, generation: 1, restart: { rolling: true, generation: 1, startedAt: '', failed: reason } };
    const kept = formatPool({ ...POOL, groups: [old] }, NOW).join('\n');
    expect(kept).toContain(`  (restart failed: ${reason})`);
    expect(kept).toContain('  (the old processes keep serving: PID 9106)');
    expect(kept).not.toContain('restarting...');
    const none = { ...old, state: 'backoff' as const, processes: [], lastSpawnError: { code: 'FERRY_ERR_SPAWN_EXITED', message: reason, at: '' }, restart: { ...old.restart, rolling: false } };
    const text = formatPool({ ...POOL, groups: [none] }, NOW).join('\n');
    expect(text).toContain(`  (restart failed: ${reason})`);
    expect(text).toContain('  (no process serves: requests get 503 while Ferry retries)');
    expect(text).not.toContain('cannot start, retrying'); // the same reason, once
  });

  it('names the evidence kept at the last recycle over memory-limit, and what was not kept', () => {
    const lastEvidence = {
      pid: 9105,
      reason: 'memory-limit' as const,
      at: '2026-11-22T20:30:00.000Z',
      files: ['/tmp/ferry.k3x9ab12/diagnostics/demo-9105-20261122T203000000Z.log'],
      heapSnapshotSkipped: 'its RSS (1200 MB) is over 1024 MB',
    };
    const text = formatPool({ ...POOL, groups: [{ ...POOL.groups[0]!, lastEvidence }] }, NOW);
    const at = text.indexOf('  Last recycle over memory-limit: PID 9105 at 2026-11-22T20:30:00.000Z');
    expect(at).toBeGreaterThan(0);
    expect(text.slice(at + 1, at + 3)).toEqual(['    /tmp/ferry.k3x9ab12/diagnostics/demo-9105-20261122T203000000Z.log', '    (no heap snapshot: its RSS (1200 MB) is over 1024 MB)']);
    expect(formatPool(POOL, NOW).join('\n')).not.toContain('Last recycle');
  });

  it('says a process waiting for its readiness check is starting, with what the check got last', () => {
    const p = POOL.groups[0]!.processes[0]!;
    const group = { ...POOL.groups[0]!, processes: [{ ...p, state: 'starting' as const, notReady: '503' }, { ...p, pid: 9107, state: 'starting' as const }] };
    const lines = formatPool({ ...POOL, groups: [group] }, NOW);
    expect(lines.slice(-6)).toEqual([
      expect.stringContaining('PID: 9106'),
      expect.stringContaining('CPU:'),
      '    Starting (not ready: 503)...',
      expect.stringContaining('PID: 9107'),
      expect.stringContaining('CPU:'),
      '    Starting (not ready: checking)...',
    ]);
  });

  it('shows a question mark for numbers /proc could not give', () => {
    const group = { ...POOL.groups[0]!, processes: [{ ...POOL.groups[0]!.processes[0]!, cpuPercent: null, privateDirtyBytes: null, rssBytes: null }] };
    expect(formatPool({ ...POOL, groups: [group] }, NOW).join('\n')).toContain('    CPU: ?       Memory  : ?    ');
  });
});

describe('formatRequests', () => {
  it('lists each request in flight in aligned columns', () => {
    const lines = formatRequests({
      requests: [
        { id: 'a1-1', method: 'GET', path: '/slow', app: 'demo', pid: 9106, state: 'draining', ageMs: 2500, bufferedMemoryBytes: 1024 * 1024, bufferedDiskBytes: 3.5 * 1024 * 1024 },
        { id: 'a1-22', method: 'POST', path: '/upload', app: 'demo', pid: null, state: 'receiving', ageMs: 100, bufferedMemoryBytes: 0, bufferedDiskBytes: 700 * 1024 },
        { id: 'a1-23', method: 'GET', path: '/', app: 'demo', pid: null, state: 'queued', ageMs: 0, bufferedMemoryBytes: 0, bufferedDiskBytes: 0 },
      ],
    });
    expect(lines).toEqual([
      '----------- Requests in flight: 3 -----------',
      'ID     METHOD  PATH     APP   PID   STATE      BUF MEM  BUF DISK  AGE',
      'a1-1   GET     /slow    demo  9106  draining   1.0M     3.5M      2s',
      'a1-22  POST    /upload  demo  -     receiving  0        700K      0s',
      'a1-23  GET     /        demo  -     queued     0        0         0s',
    ]);
  });
});

describe('formatServer', () => {
  it('shows connections, request counters and the turbocache', () => {
    const text = formatServer(SERVER).join('\n');
    expect(text).toContain('Connections   : 3 open, 120 accepted, 1 tunnel (WebSocket)');
    expect(text).toContain('Requests      : 2 in flight, 5000 total, 42.5/s (last 10 s)');
    expect(text).toContain('Errors        : 502: 1, 503: 0, 504: 0');
    expect(text).toContain('Uptime        : 1h 0m 0s');
  });

  it('explains the turbocache: hit ratio, where memory goes, and why requests were not cached', () => {
    const text = formatServer(SERVER).join('\n');
    expect(text).toContain('State         : enabled, varies by cookie user_id');
    expect(text).toContain('Hits / misses : 90 / 10 (hit ratio 90.0%); 4 waited for another\'s fill');
    expect(text).toContain('Revalidated   : 2 of 3 stale entries confirmed by the app (304)');
    expect(text).toContain('Served stale  : 5 while refreshing, 1 in place of an app error');
    expect(text).toContain('Entries       : 7, 2 of them variants (Vary) (3M of 64M)');
    expect(text).toContain('Compression   : 10 answers, 1.9M to 488K (75.0% saved)');
    expect(text).toContain('Not looked up : method 4, authorization 1');
    expect(text).toContain('Not stored    : set-cookie 2');
  });
});

describe('units', () => {
  it("writes durations as Passenger's distanceOfTimeInWords does", () => {
    expect(formatUptime(5_000)).toBe('5s');
    expect(formatUptime(71_000)).toBe('1m 11s');
    expect(formatUptime((2 * 3600 + 3 * 60 + 4) * 1000)).toBe('2h 3m 4s');
    expect(formatUptime((86_400 + 2 * 3600 + 3 * 60 + 4) * 1000)).toBe('1d 2h 3m 4s');
  });

  it('writes memory in whole mebibytes', () => {
    expect(formatMegabytes(9.6 * 1024 * 1024)).toBe('10M');
    expect(formatMegabytes(null)).toBe('?');
  });
});
