import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AppFileWatcher, ignoredChange, type WatchFunction } from '../../../../src/core/pool/file-watcher.js';
import { Logger } from '../../../../src/core/log.js';

describe('ignoredChange', () => {
  it.each([
    'node_modules/express/index.js',
    'node_modules',
    'packages/web/node_modules/x/y.js',
    '.git/index',
    'log/development.log',
    'tmp/cache/x',
    'src/tmp/x.js',
    'lib/__pycache__/app.cpython-311.pyc',
    'src/.app.js.swp',
    'src/.app.js.swx',
    'src/app.js~',
    'src/.#app.js',
    'src/4913',
    'src/#app.js#',
  ])('ignores %s', (relative) => {
    expect(ignoredChange(relative)).toBe(true);
  });

  it.each(['app.js', 'src/app.js', 'views/index.html', 'package.json', 'logs/x.js', 'src/tmpl/x.html', 'my-node_modules/x.js', 'src/4913.js', '#', 'public/app.css'])('watches %s', (relative) => {
    expect(ignoredChange(relative)).toBe(false);
  });
});

/** inotify watches this process holds (every fs.watch of the process shares one inotify instance). */
function inotifyWatches(): number {
  let count = 0;
  for (const fd of fs.readdirSync('/proc/self/fdinfo')) {
    let info: string;
    try {
      info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    } catch {
      continue;
    }
    count += info.split('\n').filter((line) => line.startsWith('inotify wd:')).length;
  }
  return count;
}

describe('AppFileWatcher', () => {
  let scratch: string;
  let root: string;
  let changes: string[];
  let lines: string[];
  let watcher: AppFileWatcher | undefined;
  const log = (): Logger => new Logger({ level: 'debug', format: 'json', sink: { write: (line) => lines.push(line) } });

  beforeEach(() => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-watch-'));
    root = path.join(scratch, 'app');
    fs.mkdirSync(path.join(root, 'src', 'deep'), { recursive: true });
    fs.mkdirSync(path.join(root, 'node_modules', 'dep'), { recursive: true });
    fs.mkdirSync(path.join(root, 'log'));
    fs.writeFileSync(path.join(root, 'app.js'), '1');
    changes = [];
    lines = [];
  });

  afterEach(() => {
    watcher?.close();
    watcher = undefined;
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  function start(opts: { ownFiles?: string[]; watch?: WatchFunction; maxDirs?: number } = {}): Promise<boolean> {
    watcher = new AppFileWatcher(root, { onChange: (relative) => changes.push(relative), log: log(), ...opts });
    return watcher.start();
  }

  function logged(level: number): string[] {
    return lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((r) => r.level === level).map((r) => r.msg);
  }

  it('reports changes anywhere under the root, relative to it, and watches no ignored directory', async () => {
    expect(await start()).toBe(true);
    // The root, src, src/deep: not node_modules, node_modules/dep or log.
    expect(watcher?.watchedDirs).toBe(3);
    fs.writeFileSync(path.join(root, 'src', 'deep', 'x.js'), '1');
    fs.writeFileSync(path.join(root, 'app.js'), '2');
    await vi.waitFor(() => expect(changes).toContain('app.js'));
    expect(changes).toContain('src/deep/x.js');
    changes.length = 0;
    fs.writeFileSync(path.join(root, 'node_modules', 'dep', 'index.js'), '1');
    fs.writeFileSync(path.join(root, 'log', 'dev.log'), '1');
    fs.writeFileSync(path.join(root, 'src', '.x.js.swp'), '1');
    fs.mkdirSync(path.join(root, 'tmp'));
    fs.writeFileSync(path.join(root, 'tmp', 'restart.txt'), '');
    fs.writeFileSync(path.join(root, 'src', 'y.js'), '1'); // a marker: events come in order
    await vi.waitFor(() => expect(changes).toContain('src/y.js'));
    expect(changes.filter((c) => c !== 'src/y.js')).toEqual([]);
  });

  it('watches a directory created after the start, and what is written into it', async () => {
    await start();
    fs.mkdirSync(path.join(root, 'views'));
    await vi.waitFor(() => expect(watcher?.watchedDirs).toBe(4));
    fs.writeFileSync(path.join(root, 'views', 'index.html'), '1');
    await vi.waitFor(() => expect(changes).toContain('views/index.html'));
    // Removed, it is no longer watched.
    fs.rmSync(path.join(root, 'views'), { recursive: true });
    await vi.waitFor(() => expect(watcher?.watchedDirs).toBe(3));
  });

  it('stops watching a directory moved out of the root', async () => {
    await start();
    fs.renameSync(path.join(root, 'src'), path.join(scratch, 'src-moved'));
    await vi.waitFor(() => expect(watcher?.watchedDirs).toBe(1));
    changes.length = 0;
    fs.writeFileSync(path.join(scratch, 'src-moved', 'x.js'), '1');
    fs.writeFileSync(path.join(root, 'marker.js'), '1');
    await vi.waitFor(() => expect(changes).toContain('marker.js'));
    expect(new Set(changes)).toEqual(new Set(['marker.js']));
  });

  // The core runs as root; the app's user can plant links to what only root may read.
  it('follows no symlink: changes behind a link to a file or a directory outside the root are not seen', async () => {
    const outside = path.join(scratch, 'secret');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'shadow'), 'x');
    fs.symlinkSync(path.join(outside, 'shadow'), path.join(root, 'link-to-file'));
    fs.symlinkSync(outside, path.join(root, 'src', 'link-to-dir'));
    await start();
    expect(watcher?.watchedDirs).toBe(3);
    fs.appendFileSync(path.join(outside, 'shadow'), 'y');
    fs.writeFileSync(path.join(outside, 'new'), 'y');
    fs.writeFileSync(path.join(root, 'marker.js'), '1');
    await vi.waitFor(() => expect(changes).toContain('marker.js'));
    expect(new Set(changes)).toEqual(new Set(['marker.js']));
    // A link created later is a change of its own name, and is not entered either.
    fs.symlinkSync(outside, path.join(root, 'later-link'));
    await vi.waitFor(() => expect(changes).toContain('later-link'));
    await new Promise((r) => setTimeout(r, 50));
    expect(watcher?.watchedDirs).toBe(3);
  });

  it("ignores the instance's own files under the root (its log), by absolute path", async () => {
    await start({ ownFiles: [path.join(root, 'ferry.3000.log')] });
    fs.writeFileSync(path.join(root, 'ferry.3000.log'), 'a line');
    fs.writeFileSync(path.join(root, 'marker.js'), '1');
    await vi.waitFor(() => expect(changes).toContain('marker.js'));
    expect(new Set(changes)).toEqual(new Set(['marker.js']));
  });

  it('closes every watch it made', async () => {
    const before = inotifyWatches();
    await start();
    expect(inotifyWatches()).toBe(before + 3);
    watcher?.close();
    expect(inotifyWatches()).toBe(before);
    fs.writeFileSync(path.join(root, 'app.js'), '3');
    await new Promise((r) => setTimeout(r, 50));
    expect(changes).toEqual([]);
  });

  it('warns how to raise the limit when the system has no inotify watch left (ENOSPC), and watches nothing', async () => {
    let made = 0;
    const watch: WatchFunction = (file, listener) => {
      if (++made === 2) throw Object.assign(new Error('ENOSPC: System limit for number of file watchers reached'), { code: 'ENOSPC' });
      return fs.watch(file, listener);
    };
    const before = inotifyWatches();
    expect(await start({ watch })).toBe(false);
    expect(watcher?.watchedDirs).toBe(0);
    expect(inotifyWatches()).toBe(before);
    const [warning] = logged(40);
    expect(warning).toContain('fs.inotify.max_user_watches');
    expect(warning).toContain('sysctl fs.inotify.max_user_watches=524288');
    expect(warning).toContain('serving without watch mode');
  });

  it('gives up, with a warning, on a tree of more directories than it watches', async () => {
    expect(await start({ maxDirs: 2 })).toBe(false);
    expect(watcher?.watchedDirs).toBe(0);
    expect(logged(40)[0]).toMatch(/more than 2 directories under .* serving without watch mode/);
  });
});
