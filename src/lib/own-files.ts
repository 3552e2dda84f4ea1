// Files Ferry writes for itself (the log, the pid file), opened safely as root in a directory
// another user may control: the default log is APP/log/ferry.PORT.log, where the app's user can
// plant a symlink (to /etc/shadow), a hard link, a FIFO, or make log/ itself a link to a directory
// of root's. The rule: every symlink on the way to the file's directory must be owned by root or
// by the user Ferry runs as (links others planted are not followed); the directory opened must be
// the one checked; the file itself is opened without following a link (O_NOFOLLOW, relative to
// the opened directory), and must be a regular file with one link, owned by root, Ferry's user or
// an app's user (logrotate's `create 0640 APPUSER adm` makes it so), never by a third user whose
// file the app's user could have moved in.

import fs from 'node:fs';
import path from 'node:path';
import type { ErrorPayload } from './error-codes.js';
import { openedPath, pathInDir } from './proc-fd.js';

const { O_WRONLY, O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_DIRECTORY } = fs.constants;

/** Linux's limit on symlinks followed while resolving one path. */
const MAX_LINKS = 40;

/** A file Ferry would have to follow someone else's link for, or is not the plain file it writes. */
export class UnsafeFileError extends Error {
  readonly code = 'FERRY_ERR_FILE_UNSAFE' as const;

  constructor(
    message: string,
    readonly suggestions: string[],
  ) {
    super(message);
    this.name = 'UnsafeFileError';
  }

  toPayload(): ErrorPayload {
    return { code: this.code, message: this.message, suggestions: this.suggestions };
  }
}

export interface OwnFile {
  fd: number;
  /** This open created the file (a failed start removes it again if nothing was written). */
  created: boolean;
  dev: number;
  ino: number;
}

/** The users whose links and files Ferry trusts: root and itself. */
function trusted(uid: number): boolean {
  return uid === 0 || uid === (process.geteuid?.() ?? 0);
}

function whoIs(uid: number): string {
  return uid === 0 ? 'root' : `uid ${uid}`;
}

/**
 * The real path of `dir`, resolving each symlink on the way as the kernel would, but refusing one
 * owned by a user Ferry does not trust. Throws the system's error when a component is missing.
 */
function resolveTrustedDir(dir: string, refuse: (why: string) => UnsafeFileError): string {
  const pending = path.resolve(dir).split('/').filter(Boolean);
  let real = '/';
  let links = 0;
  while (pending.length > 0) {
    const step = pending.shift() as string;
    if (step === '.') continue;
    if (step === '..') {
      real = path.dirname(real); // `real` holds no link, so `..` is its parent
      continue;
    }
    const next = path.join(real, step);
    const st = fs.lstatSync(next);
    if (!st.isSymbolicLink()) {
      real = next;
      continue;
    }
    if (!trusted(st.uid)) throw refuse(`its directory is reached through ${next}, a symbolic link owned by ${whoIs(st.uid)}, which Ferry does not follow`);
    if (++links > MAX_LINKS) throw refuse(`its directory is reached through more than ${MAX_LINKS} symbolic links`);
    const target = fs.readlinkSync(next);
    pending.unshift(...target.split('/').filter(Boolean));
    if (path.isAbsolute(target)) real = '/';
  }
  return real;
}

function describeKind(st: fs.Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isDirectory()) return 'a directory';
  return 'not a regular file';
}

const OWN_FILES = {
  log: { what: 'log file', flag: '--log-file', use: 'append', mode: 0o640, rootDir: '/var/log/ferry/' },
  access: { what: 'access log', flag: '--access-log', use: 'append', mode: 0o640, rootDir: '/var/log/ferry/' },
  pid: { what: 'pid file', flag: '--pid-file', use: 'replace', mode: 0o644, rootDir: '/run/ferry/' },
} as const;

/**
 * Opens `file` for writing by the rule at the top: a log for appending, a pid file to be rewritten
 * (truncated once checked). `appUids`: the users the instance's apps run as, who may own the file
 * (not the links on the way). Throws UnsafeFileError when the rule refuses, the system's error
 * when the path cannot be opened at all.
 */
export function openOwnFile(file: string, kind: keyof typeof OWN_FILES, appUids: readonly number[] = []): OwnFile {
  const { what, flag, use, mode, rootDir } = OWN_FILES[kind];
  const absolute = path.resolve(file);
  const refuse = (why: string, fix = `Remove it (rm ${absolute}), or give ${flag} a path in a directory only root can write, such as ${rootDir}.`): UnsafeFileError =>
    new UnsafeFileError(`refusing the ${what} ${absolute}: ${why}`, [fix]);
  const realDir = resolveTrustedDir(path.dirname(absolute), refuse);
  const dirFd = fs.openSync(realDir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  try {
    // A directory on the way swapped for a link since it was checked leads elsewhere; the
    // kernel's name for what was opened says.
    if (openedPath(dirFd) !== realDir) {
      throw refuse(`its directory ${realDir} changed while Ferry checked it`, 'Start again; if it happens again, someone is replacing the directory.');
    }
    // O_NONBLOCK: a FIFO without a reader fails at once (ENXIO) instead of blocking the open.
    const flags = O_WRONLY | O_NOFOLLOW | O_NONBLOCK | (use === 'append' ? O_APPEND : 0);
    const at = pathInDir(dirFd, path.basename(absolute));
    let fd: number;
    let created = true;
    try {
      try {
        fd = fs.openSync(at, flags | O_CREAT | O_EXCL, mode);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        created = false;
        fd = fs.openSync(at, flags);
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') throw refuse('it is a symbolic link, which Ferry does not follow');
      if (code === 'ENXIO') throw refuse('it is not a regular file (a FIFO)');
      if (code === 'EISDIR') throw refuse('it is not a regular file (a directory)');
      throw err;
    }
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) throw refuse(`it is not a regular file (${describeKind(st)})`);
      if (!trusted(st.uid) && !appUids.includes(st.uid)) {
        throw refuse(`it is owned by ${whoIs(st.uid)}, neither root, nor the user Ferry runs as, nor an app's user`, `If the file is yours, give it to root (chown root ${absolute}); otherwise remove it.`);
      }
      if (st.nlink !== 1) throw refuse(`it has ${st.nlink} hard links, so it may be another file too`);
      if (use === 'replace') fs.ftruncateSync(fd, 0);
      return { fd, created, dev: st.dev, ino: st.ino };
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  } finally {
    fs.closeSync(dirFd);
  }
}

/**
 * Removes a file openOwnFile created if it is still there (the same file) and empty: a start that
 * failed before anything was logged leaves no empty root-owned log in the app's directory.
 */
export function removeIfUnused(file: string, opened: OwnFile): void {
  if (!opened.created) return;
  try {
    const st = fs.lstatSync(file);
    if (st.isFile() && st.dev === opened.dev && st.ino === opened.ino && st.size === 0) fs.unlinkSync(file);
  } catch {
    // gone already
  }
}

/**
 * Opens `file` for reading by the same rule, for a file whose content Ferry trusts (an env file
 * read as root): no link followed that another user planted, the file itself never a link, a
 * regular file with one link, owned by root or the user Ferry runs as (an app's user could have
 * put anything there). `what` and `flag` name it in refusals. Throws UnsafeFileError when the rule
 * refuses, the system's error (ENOENT, EACCES) when the path cannot be opened at all.
 */
export function openTrustedFileForReading(file: string, what: string, flag: string): { fd: number; stat: fs.Stats } {
  const absolute = path.resolve(file);
  const refuse = (why: string, fix = `Give ${flag} a regular file owned by root (or by the user Ferry runs as), reached through no link another user owns.`): UnsafeFileError =>
    new UnsafeFileError(`refusing the ${what} ${absolute}: ${why}`, [fix]);
  const realDir = resolveTrustedDir(path.dirname(absolute), refuse);
  const dirFd = fs.openSync(realDir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  try {
    if (openedPath(dirFd) !== realDir) throw refuse(`its directory ${realDir} changed while Ferry checked it`, 'Start again; if it happens again, someone is replacing the directory.');
    let fd: number;
    try {
      fd = fs.openSync(pathInDir(dirFd, path.basename(absolute)), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw refuse('it is a symbolic link, which Ferry does not follow', `Name the file itself: ${flag} $(realpath ${absolute}), if its owner is one Ferry trusts.`);
      throw err;
    }
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) throw refuse(`it is not a regular file (${describeKind(st)})`);
      if (!trusted(st.uid)) throw refuse(`it is owned by ${whoIs(st.uid)}, neither root nor the user Ferry runs as`, `If the file is yours to trust, give it to root: chown root ${absolute}`);
      if (st.nlink !== 1) throw refuse(`it has ${st.nlink} hard links, so it may be another file too`);
      return { fd, stat: st };
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  } finally {
    fs.closeSync(dirFd);
  }
}
