// Watch mode (--watch): which files under an app's root changed, told by inotify through
// node:fs.watch, one watch per directory.
//
// Not fs.watch(root, { recursive: true }): on Linux, Node 20 builds that in JavaScript by walking
// the whole tree synchronously (420 ms of a blocked core for a node_modules of 20,000 files) and
// putting a watch on every file, node_modules included (the system's limit of watches runs out),
// with no way to leave a directory out; it stats and watches the target of every symlink, so root
// would hear of changes to files outside the root, even ones only root may read; and it swallows
// a running-out of watches during its walk. Here each directory is opened from the root down
// without following a link (O_NOFOLLOW), the watch goes on the opened directory itself (through
// /proc/self/fd, so a link swapped in after the check leads nowhere), ignored directories
// (node_modules, .git, ...) are never entered, and a symlink is never followed: a change behind
// one (its target) is not seen. That is what makes it safe for a core running as root on a tree
// the app's user controls: it reads no file, only the names that change in the root's own
// directories, which that user could list anyway.

import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../log.js';
import { openedPath, pathInDir } from '../../lib/proc-fd.js';

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = fs.constants;

/**
 * Directories never watched, as a path segment at any depth: dependencies, version control,
 * Ferry's log/ and tmp/ (tmp/restart.txt has its own check), and Python's bytecode cache, which
 * the app writes itself when it imports a module (else every change would restart twice).
 */
const IGNORED_DIRS = new Set(['node_modules', '.git', 'log', 'tmp', '__pycache__']);

/**
 * Files editors write beside the one being edited: vim's swap files (.swp, and .swx, its probe),
 * its write test (4913), backups (name~), Emacs's lock files (.#name) and auto-saves (#name#).
 */
function isEditorFile(name: string): boolean {
  return name.endsWith('.swp') || name.endsWith('.swx') || name.endsWith('~') || name.startsWith('.#') || name === '4913' || (name.length > 1 && name.startsWith('#') && name.endsWith('#'));
}

/** Whether a change to `relative` (a path under the app's root, with /) is ignored (pure). */
export function ignoredChange(relative: string): boolean {
  const steps = relative.split('/');
  if (steps.some((step) => IGNORED_DIRS.has(step))) return true;
  return isEditorFile(steps[steps.length - 1] ?? '');
}

/** Directories watched at most per app: more is not a project being edited, and root's watches are shared. */
export const MAX_WATCHED_DIRS = 10_000;
/** Deeper directories are not watched: each level holds a descriptor while the tree is walked. */
export const MAX_WATCH_DEPTH = 64;

export type WatchFunction = (file: string, listener: (event: string, name: string | null) => void) => fs.FSWatcher;

export interface AppFileWatcherOptions {
  /** A change to a file or directory not ignored, relative to the root. */
  onChange(relative: string): void;
  log: Logger;
  /** Files Ferry itself writes under the root (its log file), absolute: ignored. */
  ownFiles?: readonly string[];
  /** For tests: fs.watch. */
  watch?: WatchFunction;
  maxDirs?: number;
}

interface WatchedDir {
  watcher: fs.FSWatcher;
  dev: number;
  ino: number;
}

const openAsync = promisify(fs.open) as (file: string, flags: number) => Promise<number>;
const closeAsync = promisify(fs.close);

/** Watches the directories under an app's root (see the top of this file); close() ends every watch. */
export class AppFileWatcher {
  /** By path relative to the root ('' for the root). */
  private readonly dirs = new Map<string, WatchedDir>();
  private readonly ownFiles = new Set<string>();
  private readonly watch: WatchFunction;
  private readonly maxDirs: number;
  private realRoot = '';
  private closed = false;
  private warnedDepth = false;

  constructor(
    private readonly root: string,
    private readonly opts: AppFileWatcherOptions,
  ) {
    this.watch = opts.watch ?? ((file, listener) => fs.watch(file, listener));
    this.maxDirs = opts.maxDirs ?? MAX_WATCHED_DIRS;
  }

  get watchedDirs(): number {
    return this.dirs.size;
  }

  /** Walks the tree and watches it; resolves true when watching, false when it could not (logged). */
  async start(): Promise<boolean> {
    try {
      this.realRoot = await fs.promises.realpath(this.root);
    } catch (err) {
      this.giveUp((err as Error).message);
      return false;
    }
    for (const file of this.opts.ownFiles ?? []) {
      for (const base of [this.root, this.realRoot]) {
        const relative = path.relative(base, path.resolve(file));
        if (relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative)) this.ownFiles.add(relative.split(path.sep).join('/'));
      }
    }
    let rootFd: number;
    try {
      rootFd = await openAsync(this.realRoot, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    } catch (err) {
      this.giveUp((err as Error).message);
      return false;
    }
    try {
      // Opened where its real path was taken: a directory above it swapped for a link since would lead elsewhere.
      if (openedPath(rootFd) !== this.realRoot) {
        this.giveUp('its directory moved while Ferry looked at it');
        return false;
      }
      await this.watchTree('', rootFd, 0);
    } finally {
      await closeAsync(rootFd);
    }
    if (this.closed) return false;
    this.opts.log.info('watching the app\'s files for changes', { root: this.realRoot, directories: this.dirs.size });
    return true;
  }

  close(): void {
    this.closed = true;
    for (const dir of this.dirs.values()) dir.watcher.close();
    this.dirs.clear();
  }

  /** Watches the directory open as `fd` (at `relative`) and, depth first, every directory below it not ignored. */
  private async watchTree(relative: string, fd: number, depth: number): Promise<void> {
    if (this.closed) return;
    const stat = fs.fstatSync(fd);
    const known = this.dirs.get(relative);
    if (known && known.dev === stat.dev && known.ino === stat.ino) return; // seen twice (two events for one new directory)
    if (known) this.unwatch(relative);
    if (this.dirs.size >= this.maxDirs) {
      this.giveUp(`more than ${this.maxDirs} directories under ${this.realRoot} (outside node_modules, .git, log, tmp)`, 'Watch a smaller tree: start Ferry on the app itself, or move data directories into tmp/.');
      return;
    }
    let watcher: fs.FSWatcher;
    try {
      // "/." : the watch is on the directory open as fd; and an event about the directory itself
      // (removed, moved) is named "." rather than after the descriptor.
      watcher = this.watch(pathInDir(fd, '.'), (event, name) => this.onEvent(relative, event, name));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC') {
        this.giveUp(
          'the system limit of inotify watches (fs.inotify.max_user_watches) is reached',
          'Raise it, e.g. sysctl fs.inotify.max_user_watches=524288 (and in /etc/sysctl.d/ to keep it), then restart Ferry.',
        );
      } else {
        this.opts.log.debug('cannot watch a directory of the app', { dir: relative || '.', code });
      }
      return;
    }
    watcher.on('error', () => this.unwatch(relative));
    // The watches never keep the core alive; stop closes them anyway.
    watcher.unref();
    this.dirs.set(relative, { watcher, dev: stat.dev, ino: stat.ino });
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(pathInDir(fd, '.'), { withFileTypes: true });
    } catch {
      return; // removed meanwhile: its parent's event says so
    }
    for (const entry of entries) {
      // A symlink is not a directory here (its own type is read, not its target's).
      if (!entry.isDirectory()) continue;
      const child = relative ? `${relative}/${entry.name}` : entry.name;
      if (ignoredChange(child)) continue;
      if (depth + 1 > MAX_WATCH_DEPTH) {
        if (!this.warnedDepth) this.opts.log.warn(`directories deeper than ${MAX_WATCH_DEPTH} levels are not watched`, { dir: child });
        this.warnedDepth = true;
        continue;
      }
      let childFd: number;
      try {
        // openat(fd, name) with O_NOFOLLOW: a link swapped in since readdir fails here.
        childFd = await openAsync(pathInDir(fd, entry.name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      } catch {
        continue;
      }
      try {
        await this.watchTree(child, childFd, depth + 1);
      } finally {
        await closeAsync(childFd);
      }
      if (this.closed) return;
    }
  }

  private onEvent(dir: string, event: string, name: string | null): void {
    // "." is the directory itself, removed or moved: its parent tells of that.
    if (this.closed || name === null || name === '.') return;
    const relative = dir ? `${dir}/${name}` : name;
    if (ignoredChange(relative) || this.ownFiles.has(relative)) return;
    this.opts.onChange(relative);
    // A new, removed or moved entry ("rename") may be a directory: watch it, or stop watching it.
    if (event === 'rename') void this.recheck(relative).catch((err: unknown) => this.opts.log.debug('cannot watch a directory of the app', { dir: relative, err }));
  }

  /** After an entry appeared or went: a directory there is watched (with its tree), one gone is not. */
  private async recheck(relative: string): Promise<void> {
    const fd = await this.openBelowRoot(relative);
    if (fd === undefined) {
      this.unwatch(relative);
      return;
    }
    try {
      await this.watchTree(relative, fd, relative.split('/').length);
    } finally {
      await closeAsync(fd);
    }
  }

  /** The directory at `relative`, opened from the root down one step at a time, no link followed; undefined if it is none. */
  private async openBelowRoot(relative: string): Promise<number | undefined> {
    if (this.closed || relative.split('/').length > MAX_WATCH_DEPTH) return undefined;
    let current: number;
    try {
      current = await openAsync(this.realRoot, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    } catch {
      return undefined;
    }
    try {
      // The root must still be where it was: a directory above it swapped for a link would lead elsewhere.
      if (openedPath(current) !== this.realRoot) return undefined;
      for (const step of relative.split('/')) {
        const next = await openAsync(pathInDir(current, step), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        await closeAsync(current);
        current = next;
      }
      const fd = current;
      current = -1;
      return fd;
    } catch {
      return undefined; // gone, a file, or a link
    } finally {
      if (current >= 0) await closeAsync(current);
    }
  }

  /** Stops watching `relative` and every directory below it. */
  private unwatch(relative: string): void {
    for (const [dir, watched] of this.dirs) {
      if (dir === relative || dir.startsWith(`${relative}/`) || relative === '') {
        watched.watcher.close();
        this.dirs.delete(dir);
      }
    }
  }

  /** Watch mode cannot work for this app: every watch goes, the app is served as usual. */
  private giveUp(why: string, suggestion?: string): void {
    if (this.closed) return;
    this.close();
    this.opts.log.warn(`cannot watch the app's files: ${why}; serving without watch mode${suggestion ? `. ${suggestion}` : ''}`, { root: this.root });
  }
}
