// Paths through /proc/self/fd, for what Node's fs cannot say directly: openat(2) (open a name
// inside a directory already open, so nothing above it is looked up again) and "which file does
// this descriptor have open". Both are how root opens a file in a directory another user
// controls without a race between checking a path and using it.

import fs from 'node:fs';

/** `name` inside the directory open as `dirFd`: opening this path is openat(dirFd, name). */
export function pathInDir(dirFd: number, name: string): string {
  return `/proc/self/fd/${dirFd}/${name}`;
}

/** The kernel's path for what `fd` has open now, every link resolved (in memory: no disk access). */
export function openedPath(fd: number): string {
  return fs.readlinkSync(`/proc/self/fd/${fd}`);
}
