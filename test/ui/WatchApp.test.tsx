import React from 'react';
import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import type { ConfigResponse, PoolResponse } from '../../src/lib/admin-api-contract.js';
import { WatchApp, type WatchSource } from '../../src/cli/ui/WatchApp.js';
import { POOL, SERVER } from '../helpers/snapshots.js';
import { waitFor } from '../helpers/ferry.js';

/** A source whose pool advances by 1 s, 300 ms of CPU and 50 requests per process on every fetch. */
function fakeSource(overrides: Partial<WatchSource> = {}): WatchSource & { fetches: number; logAsked: string[] } {
  const source = {
    instance: 'k3x9ab12',
    fetches: 0,
    logAsked: [] as string[],
    async fetchFrame() {
      const n = source.fetches++;
      const pool: PoolResponse = {
        ...POOL,
        groups: POOL.groups.map((g) => ({ ...g, processes: g.processes.map((p) => ({ ...p, uptimeMs: p.uptimeMs + n * 1000, cpuTimeMs: (p.cpuTimeMs ?? 0) + n * 300, processed: p.processed + n * 50 })) })),
      };
      return { pool, server: SERVER };
    },
    async fetchConfig(): Promise<ConfigResponse> {
      return { logLevel: 'info', maxPoolSize: 3, logFile: '/var/log/ferry.log', apps: [] };
    },
    readLog(_file: string, app: string) {
      source.logAsked.push(app);
      return [{ app, msg: `a line of ${app}` }];
    },
    goneReason: () => undefined,
    ...overrides,
  };
  return source;
}

const DOWN = '\u001b[B';

describe('WatchApp', () => {
  it('shows recent rates from its second refresh on', async () => {
    const source = fakeSource();
    const { lastFrame, unmount } = render(<WatchApp source={source} intervalMs={30} />);
    await waitFor(() => /› 9106\s+ready\s+30%/.test(lastFrame() ?? ''), 'a frame with the recent CPU', 3000);
    expect(lastFrame()).toMatch(/› 9106\s+ready\s+30%\s+9M\s+50\s/);
    unmount();
  });

  it('moves the selection with the arrow keys and quits on q', async () => {
    const source = fakeSource();
    const { lastFrame, stdin, unmount, frames } = render(<WatchApp source={source} intervalMs={30} />);
    await waitFor(() => (lastFrame() ?? '').includes('› 9106'), 'the first process selected');
    stdin.write(DOWN);
    await waitFor(() => (lastFrame() ?? '').includes('› 12889'), 'the second process selected');
    stdin.write('q');
    const before = source.fetches;
    await new Promise((r) => setTimeout(r, 150));
    // Quit: no more refreshes.
    expect(source.fetches - before).toBeLessThanOrEqual(1);
    expect(frames.length).toBeGreaterThan(1);
    unmount();
  });

  it('quits on Ctrl-C, which raw mode delivers as a key', async () => {
    const source = fakeSource();
    const { lastFrame, stdin, unmount } = render(<WatchApp source={source} intervalMs={30} />);
    await waitFor(() => (lastFrame() ?? '').includes('› 9106'), 'a first frame');
    stdin.write('\u0003');
    await new Promise((r) => setTimeout(r, 100));
    const before = source.fetches;
    await new Promise((r) => setTimeout(r, 150));
    expect(source.fetches).toBe(before);
    unmount();
  });

  it('replaces the numbers with "has stopped" once the instance is gone, and says why', async () => {
    let stoppedWith: string | undefined;
    const source = fakeSource();
    const { lastFrame, unmount } = render(<WatchApp source={source} intervalMs={30} onStopped={(reason) => (stoppedWith = reason)} />);
    await waitFor(() => (lastFrame() ?? '').includes('› 9106'), 'a first frame');
    source.fetchFrame = () => Promise.reject(new Error('instance k3x9ab12 is registered but its core is not running (ECONNREFUSED)'));
    source.goneReason = () => 'Its watchdog has exited.';
    await waitFor(() => (lastFrame() ?? '').includes('ferry k3x9ab12 has stopped'), 'the stopped frame');
    expect(lastFrame()).not.toContain('9106');
    expect(lastFrame()).toContain('Its watchdog has exited.');
    expect(stoppedWith).toBe('Its watchdog has exited.');
    unmount();
  });

  it('keeps the last numbers while the core is down but the instance lives', async () => {
    const source = fakeSource();
    const { lastFrame, unmount } = render(<WatchApp source={source} intervalMs={30} />);
    await waitFor(() => (lastFrame() ?? '').includes('› 9106'), 'a first frame');
    source.fetchFrame = () => Promise.reject(new Error('core restarting'));
    await waitFor(() => (lastFrame() ?? '').includes('refresh failed: core restarting'), 'the error line');
    expect(lastFrame()).toContain('9106');
    unmount();
  });

  it("reads the log lines of the selected process's app", async () => {
    const source = fakeSource();
    const { lastFrame, unmount } = render(<WatchApp source={source} intervalMs={30} />);
    await waitFor(() => (lastFrame() ?? '').includes('a line of demo'), 'the log pane');
    expect(source.logAsked).toContain('demo');
    unmount();
  });
});
