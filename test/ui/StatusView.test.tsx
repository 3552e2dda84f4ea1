import React from 'react';
import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import type { AppConfigSummary } from '../../src/lib/admin-api-contract.js';
import { StatusView } from '../../src/cli/ui/StatusView.js';
import { POOL, SERVER, processSnapshot } from '../helpers/snapshots.js';

const APP: AppConfigSummary = {
  name: 'demo',
  root: '/srv/demo',
  minInstances: 1,
  environment: 'production',
  startTimeoutMs: 90_000,
  appType: 'node',
  startupFile: '/srv/demo/app.js',
  interpreter: '/usr/bin/node',
  user: 'www-data',
};

const RATES = new Map([
  [9106, { cpuPercent: 45, requestsPerSecond: 120 }],
  [12889, { cpuPercent: 0.4, requestsPerSecond: 0 }],
]);

describe('StatusView', () => {
  it('shows totals, each process with its recent rates, and how to quit', () => {
    const pool = { ...POOL, groups: [{ ...POOL.groups[0]!, restarts: 2, crashes: 1, processes: [processSnapshot({ errors5xx: 3 }), POOL.groups[0]!.processes[1]!] }] };
    const { lastFrame, unmount } = render(<StatusView instance="k3x9ab12" pool={pool} server={SERVER} rates={RATES} width={100} />);
    const frame = lastFrame() ?? '';
    expect(frame).toContain('ferry k3x9ab12: 2/3 processes, 42.5 req/s, 2 in flight, 1 queued');
    expect(frame).toContain('demo (running) queue 1, restarts 2, crashes 1');
    expect(frame).toMatch(/PID\s+STATE\s+CPU\s+MEM\s+REQ\/S\s+5XX\s+SESS\s+DONE\s+UPTIME/);
    // The selected (first) process is marked; CPU is the recent rate, not the lifetime 1.2 %.
    expect(frame).toMatch(/› 9106\s+ready\s+45%\s+9M\s+120\s+3\s+0\s+4\s+9s/);
    expect(frame).toMatch(/ {2}12889\s+draining\s+0%\s+11M\s+0\.0\s+0\s+1\s+0\s+1m 11s/);
    expect(frame).toContain('q or Ctrl-C quit');
    unmount();
  });

  it('shows "-" for rates not known yet (the first frame)', () => {
    const { lastFrame, unmount } = render(<StatusView instance="k3x9ab12" pool={POOL} server={SERVER} width={100} />);
    expect(lastFrame()).toMatch(/› 9106\s+ready\s+-\s+9M\s+-\s+0/);
    unmount();
  });

  it("shows the selected process's app settings and its last log lines, stderr marked", () => {
    const logLines = [
      { time: Date.parse('2026-11-22T20:33:01Z'), level: 30, app: 'demo', pid: 12889, stream: 'stdout', msg: 'listening' },
      { time: Date.parse('2026-11-22T20:33:05Z'), level: 30, app: 'demo', pid: 12889, stream: 'stderr', msg: 'TypeError: x is undefined' },
    ];
    const { lastFrame, unmount } = render(<StatusView instance="k3x9ab12" pool={POOL} server={SERVER} selected={12889} apps={[APP]} logFile="/var/log/ferry.log" logLines={logLines} width={100} />);
    const frame = lastFrame() ?? '';
    expect(frame).toMatch(/› 12889/);
    expect(frame).toMatch(/process\s+12889, up 1m 11s, generation 0/);
    expect(frame).toMatch(/user\s+www-data/);
    expect(frame).toMatch(/interpreter\s+\/usr\/bin\/node/);
    expect(frame).toMatch(/startup\s+\/srv\/demo\/app\.js/);
    expect(frame).toMatch(/log\s+\/var\/log\/ferry\.log/);
    expect(frame).toContain('log: demo');
    expect(frame).toMatch(/\d\d:\d\d:01 12889 out listening/);
    expect(frame).toMatch(/\d\d:\d\d:05 12889 err TypeError: x is undefined/);
    unmount();
  });

  it('fits 40 columns: no line wider, no header split over two lines', () => {
    const { lastFrame, unmount } = render(<StatusView instance="k3x9ab12" pool={POOL} server={SERVER} rates={RATES} apps={[APP]} logFile="/var/log/a/rather/long/path/to/the/ferry.log" logLines={[]} width={40} />);
    const frame = lastFrame() ?? '';
    for (const line of frame.split('\n')) expect(line.length, line).toBeLessThanOrEqual(40);
    expect(frame).toMatch(/^ {2}PID\s+CPU\s+MEM\s+REQ\/S\s+5XX\s+SESS$/m);
    expect(frame).toMatch(/^› 9106\s+45%\s+9M\s+120\s+0\s+0$/m);
    unmount();
  });

  it('keeps the last numbers and says so when a refresh failed', () => {
    const { lastFrame, unmount } = render(<StatusView instance="k3x9ab12" pool={POOL} server={SERVER} error="core not responding" />);
    expect(lastFrame()).toContain('refresh failed: core not responding');
    expect(lastFrame()).toContain('9106');
    unmount();
  });
});
