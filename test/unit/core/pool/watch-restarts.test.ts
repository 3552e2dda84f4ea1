import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChangedFiles, changeReason, WATCH_QUIET_MS, WatchRestarts } from '../../../../src/core/pool/watch-restarts.js';

function files(...names: string[]): ChangedFiles {
  const changed = new ChangedFiles();
  for (const name of names) changed.add(name);
  return changed;
}

describe('changeReason', () => {
  it('names the first file changed and counts the others', () => {
    expect(changeReason(files('src/app.js'))).toBe('files changed (src/app.js)');
    expect(changeReason(files('src/app.js', 'src/db.js', 'views/index.html'))).toBe('files changed (src/app.js, +2 more)');
  });

  it('counts a file changed twice (an editor writes it twice) once', () => {
    expect(changeReason(files('app.js', 'app.js', 'lib.js', 'app.js'))).toBe('files changed (app.js, +1 more)');
  });

  it('keeps at most 1000 names, and says when there were more', () => {
    const changed = files(...Array.from({ length: 5000 }, (_, i) => `f${i}.js`));
    expect(changed.names.size).toBe(1000);
    expect(changeReason(changed)).toBe('files changed (f0.js, +999 at least more)');
  });

  it('quotes a name with a control character, so that it cannot forge a log line', () => {
    expect(changeReason(files('evil\nINFO core: forged'))).toBe('files changed ("evil\\nINFO core: forged")');
  });
});

describe('WatchRestarts', () => {
  let restarts: string[][];
  let finishRestart: (() => void) | undefined;
  let scheduler: WatchRestarts;

  beforeEach(() => {
    vi.useFakeTimers();
    restarts = [];
    finishRestart = undefined;
    scheduler = new WatchRestarts(
      (changed) =>
        new Promise<void>((resolve) => {
          restarts.push([...changed.names]);
          finishRestart = resolve;
        }),
    );
  });

  afterEach(() => {
    scheduler.close();
    vi.useRealTimers();
  });

  /** Ends the restart under way and lets its promise settle. */
  async function endRestart(): Promise<void> {
    expect(finishRestart).toBeDefined();
    finishRestart?.();
    finishRestart = undefined;
    await vi.advanceTimersByTimeAsync(0);
  }

  it('restarts once, 300 ms after the last of a burst of changes, with every file of the burst', async () => {
    scheduler.changed('src/app.js');
    await vi.advanceTimersByTimeAsync(200);
    scheduler.changed('src/db.js');
    await vi.advanceTimersByTimeAsync(200);
    scheduler.changed('src/app.js');
    // 400 ms after the first change, 0 after the last: nothing yet.
    expect(restarts).toEqual([]);
    await vi.advanceTimersByTimeAsync(WATCH_QUIET_MS - 1);
    expect(restarts).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(restarts).toEqual([['src/app.js', 'src/db.js']]);
    expect(scheduler.state).toBe('restarting');
  });

  it('runs one more restart after the one under way for changes made during it, however many', async () => {
    scheduler.changed('a.js');
    await vi.advanceTimersByTimeAsync(WATCH_QUIET_MS);
    expect(restarts).toHaveLength(1);
    // While it runs (say the new process takes seconds to start), three saves come.
    for (const name of ['b.js', 'c.js', 'b.js']) {
      scheduler.changed(name);
      await vi.advanceTimersByTimeAsync(1000);
    }
    expect(restarts).toHaveLength(1);
    await endRestart();
    // They settle like any change, then make one restart.
    expect(restarts).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(WATCH_QUIET_MS);
    expect(restarts).toEqual([['a.js'], ['b.js', 'c.js']]);
    await endRestart();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(restarts).toHaveLength(2);
    expect(scheduler.state).toBe('idle');
  });

  it('goes back to idle after a restart with no change during it, and restarts again on the next change', async () => {
    scheduler.changed('a.js');
    await vi.advanceTimersByTimeAsync(WATCH_QUIET_MS);
    await endRestart();
    expect(scheduler.state).toBe('idle');
    scheduler.changed('a.js');
    await vi.advanceTimersByTimeAsync(WATCH_QUIET_MS);
    expect(restarts).toEqual([['a.js'], ['a.js']]);
  });

  it('takes a restart that rejects as ended', async () => {
    const failing = new WatchRestarts(() => Promise.reject(new Error('shutting down')));
    failing.changed('a.js');
    await vi.advanceTimersByTimeAsync(WATCH_QUIET_MS);
    expect(failing.state).toBe('idle');
    failing.close();
  });

  it('cancels a pending restart when closed, and ignores changes from then on', async () => {
    scheduler.changed('a.js');
    scheduler.close();
    scheduler.changed('b.js');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(restarts).toEqual([]);
    expect(scheduler.state).toBe('closed');
    expect(vi.getTimerCount()).toBe(0);
  });
});
