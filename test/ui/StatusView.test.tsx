import React from 'react';
import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import { StatusView } from '../../src/cli/ui/StatusView.js';
import { POOL, SERVER, processSnapshot } from '../helpers/snapshots.js';

describe('StatusView', () => {
  it('shows totals, each process with its numbers, and how to quit', () => {
    const { lastFrame, unmount } = render(<StatusView instance="k3x9ab12" pool={POOL} server={SERVER} />);
    const frame = lastFrame() ?? '';
    expect(frame).toContain('ferry k3x9ab12 — 2/3 processes, 42.5 req/s, 2 in flight, 1 queued');
    expect(frame).toMatch(/PID\s+STATE\s+SESSIONS\s+PROCESSED\s+CPU\s+MEMORY\s+UPTIME/);
    expect(frame).toMatch(/9106\s+ready\s+0\s+4\s+1%\s+9M\s+9s/);
    expect(frame).toMatch(/12889\s+draining\s+1\s+0\s+0%\s+10M\s+1m 11s/);
    expect(frame).toContain('q or Ctrl-C to quit');
    unmount();
  });

  it('updates the numbers when it is rendered with a new snapshot', () => {
    const { lastFrame, rerender, unmount } = render(<StatusView instance="k3x9ab12" pool={POOL} server={SERVER} />);
    const busier = { ...POOL, groups: [{ ...POOL.groups[0]!, processes: [processSnapshot({ processed: 999, sessions: 7 })] }] };
    rerender(<StatusView instance="k3x9ab12" pool={busier} server={{ ...SERVER, requests: { ...SERVER.requests, perSecond: 100 } }} />);
    const frame = lastFrame() ?? '';
    expect(frame).toMatch(/9106\s+ready\s+7\s+999/);
    expect(frame).toContain('100 req/s');
    expect(frame).not.toContain('12889');
    unmount();
  });

  it('keeps the last numbers and says so when a refresh failed', () => {
    const { lastFrame, unmount } = render(<StatusView instance="k3x9ab12" pool={POOL} server={SERVER} error="core not responding" />);
    expect(lastFrame()).toContain('refresh failed: core not responding');
    expect(lastFrame()).toContain('9106');
    unmount();
  });
});
