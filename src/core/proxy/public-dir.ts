// The file under an app's public/ that a request names, opened the way root may open it for a
// client: the core runs as root, and public/ belongs to the app's user, who can plant symlinks
// there (or a checkout can hold one). The rule, like nginx's `disable_symlinks` but letting links
// inside public/ work: a file is served only if its real path (every symlink resolved) lies under
// the real public/, it is opened from public/ down one component at a time without following any
// link (so a link swapped in after the check fails the open instead of leading elsewhere), it is a
// regular file, and, when the app runs as another user, that user could read it and enter every
// directory on the way from public/ (decided on the opened descriptors, not on paths).

import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { userMay, type FileUser } from '../../lib/file-access.js';
import { openedPath, pathInDir } from '../../lib/proc-fd.js';

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;

/** An app's public/ directory as it was when the core started or the app last restarted. */
export interface PublicDir {
  /** Its real path: no symlink in it. */
  readonly realPath: string;
  /** The user the app runs as, when not Ferry's own (the kernel checks Ferry's own access). */
  readonly user?: FileUser;
}

/** The app's public/ directory, resolved to its real path, if it has one. */
export function resolvePublicDir(appRoot: string, user?: FileUser): PublicDir | undefined {
  try {
    const realPath = fs.realpathSync(path.join(appRoot, 'public'));
    if (!fs.statSync(realPath).isDirectory()) return undefined;
    return user ? { realPath, user: { uid: user.uid, gid: user.gid } } : { realPath };
  } catch {
    return undefined;
  }
}

/**
 * The path below public/ that a request path names, or undefined when it names nothing Ferry
 * serves: the app answers those (public/ itself, a path ending in `/`, dotfiles and `.`/`..`
 * segments anywhere, an undecodable path, a NUL).
 */
export function requestedFile(pathname: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  if (decoded.endsWith('/') || decoded.includes('\0')) return undefined;
  const steps = decoded.split('/').filter((step) => step !== '');
  if (steps.length === 0 || steps.some((step) => step.startsWith('.'))) return undefined;
  return steps.join('/');
}

export type PublicFile =
  /** Open, checked; the caller closes `fd` (or streams it with autoClose). */
  | { kind: 'file'; fd: number; stat: fs.Stats }
  /** No such file, or a directory: the app answers. */
  | { kind: 'absent' }
  /** There is something, and it may not be served (403); `reason` is for the log only. */
  | { kind: 'refused'; reason: string };

const ABSENT: PublicFile = { kind: 'absent' };

function refused(reason: string): PublicFile {
  return { kind: 'refused', reason };
}

// Lookups may wait for the disk, so they go to the thread pool; fstat and close of an open
// descriptor do not, and run inline (each trip to the pool costs more than the call).
const openAsync = promisify(fs.open) as (file: string, flags: number) => Promise<number>;
const realpathAsync = promisify(fs.realpath.native) as (file: string) => Promise<string>;

/**
 * Opens `relative` (from requestedFile) under `dir` by the rule at the top of this file. O_NONBLOCK:
 * a FIFO planted in public/ must not hold a thread of the pool until someone writes to it.
 */
export async function openPublicFile(dir: PublicDir, relative: string): Promise<PublicFile> {
  let real: string;
  try {
    real = await realpathAsync(path.join(dir.realPath, relative));
  } catch {
    return ABSENT; // missing, a dangling or looping link, a file used as a directory
  }
  const inside = path.relative(dir.realPath, real);
  if (inside === '') return ABSENT; // public/ itself, through a link
  if (inside === '..' || inside.startsWith('../') || path.isAbsolute(inside)) return refused(`its real path ${real} is outside public/`);
  const steps = inside.split('/');
  if (steps.some((step) => step.startsWith('.'))) return refused(`its real path ${real} is a dotfile`);

  let current: number;
  try {
    current = await openAsync(dir.realPath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch {
    return refused('public/ cannot be opened (moved or replaced by a link since the app started?)');
  }
  let handedOver = false;
  try {
    // The directory opened must be at its real path still: a component above public/ swapped for
    // a link since would lead somewhere else (the kernel's own name for the descriptor says).
    if (openedPath(current) !== dir.realPath) return refused('public/ is no longer at its real path');
    for (const [index, step] of steps.entries()) {
      if (dir.user && !userMay(dir.user, 'search', fs.fstatSync(current))) return refused(`the app's user may not enter the directory holding ${step}`);
      const last = index === steps.length - 1;
      let next: number;
      try {
        // openat(current, step) with O_NOFOLLOW: a link swapped in since realpath fails here.
        next = await openAsync(pathInDir(current, step), O_NOFOLLOW | (last ? O_RDONLY | O_NONBLOCK : O_RDONLY | O_DIRECTORY));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return ABSENT; // removed since
        return refused(code === 'ELOOP' || code === 'ENOTDIR' ? `${step} changed (a link, or not a directory) since its real path was taken` : `${step} cannot be opened (${code})`);
      }
      fs.closeSync(current);
      current = next;
    }
    const stat = fs.fstatSync(current);
    if (stat.isDirectory()) return ABSENT;
    if (!stat.isFile()) return refused('it is not a regular file');
    if (dir.user && !userMay(dir.user, 'read', stat)) return refused("the app's user may not read it");
    handedOver = true;
    return { kind: 'file', fd: current, stat };
  } finally {
    if (!handedOver) fs.closeSync(current);
  }
}
