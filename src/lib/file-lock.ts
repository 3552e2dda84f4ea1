// flock(2) through fs-native-extensions, loaded on first use: only the watchdog takes a lock (on
// its instance directory), so the core, which must answer again fast after a crash, never loads
// the native addon. A module of its own so that the single executable's bundler can swap in the
// addon it carries (scripts/package.mjs), as for koffi.

import { createRequire } from 'node:module';
import type fsx from 'fs-native-extensions';

let addon: typeof fsx | undefined;

/** Takes an exclusive lock on the open file without waiting; false when another process holds one. */
export function tryLock(fd: number): boolean {
  addon ??= createRequire(import.meta.url)('fs-native-extensions') as typeof fsx;
  return addon.tryLock(fd);
}
