// The writer side of an instance directory: create it (0700), hold its lock while the watchdog
// lives, keep properties.json current, record app processes, remove it all at shutdown.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { FerryConfig } from '../../lib/config.js';
import { APP_USER_DIR_PREFIX, INSTANCE_DIR_PREFIX, INSTANCE_FILES, removeAppUserDirs, type CoreRestartStatus, type InstanceProperties, type WorkerRecord } from '../../lib/instance-registry.js';
import { ADMIN_FILES } from '../../lib/admin-api-contract.js';
import { tryLock } from '../../lib/file-lock.js';
import { injectedIoError, type FaultInjector } from '../faults.js';

const NAME_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

export function randomName(length = 8): string {
  const bytes = crypto.randomBytes(length);
  let out = '';
  for (const byte of bytes) out += NAME_ALPHABET[byte % NAME_ALPHABET.length];
  return out;
}

/** Writes a file so that readers see the old or the new content, never half of it. */
export function writeFileAtomic(file: string, data: string, mode = 0o600): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data, { mode });
  fs.renameSync(tmp, file);
}

export class InstanceDirectory {
  private lockFd: number | undefined;

  private constructor(
    readonly dir: string,
    readonly name: string,
    /** The core's fault injection (fs-write); the watchdog has none. */
    private readonly faults?: FaultInjector,
  ) {}

  /** Creates a fresh directory under the registry and takes its lock. */
  static create(registryDir: string): InstanceDirectory {
    fs.mkdirSync(registryDir, { recursive: true });
    for (let attempt = 0; attempt < 50; attempt++) {
      const name = randomName();
      const dir = path.join(registryDir, INSTANCE_DIR_PREFIX + name);
      try {
        fs.mkdirSync(dir, { mode: 0o700 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw err;
      }
      fs.chmodSync(dir, 0o700); // mkdir's mode is filtered by the umask
      const instance = new InstanceDirectory(dir, name);
      instance.lock();
      fs.mkdirSync(path.join(dir, INSTANCE_FILES.workersDir), { mode: 0o700 });
      fs.mkdirSync(path.join(dir, INSTANCE_FILES.appSocketsDir), { mode: 0o700 });
      return instance;
    }
    throw new Error(`could not create a unique instance directory in ${registryDir}`);
  }

  /** Opens an existing directory (the core's view; it never locks or removes it). */
  static open(dir: string, faults?: FaultInjector): InstanceDirectory {
    return new InstanceDirectory(dir, path.basename(dir).slice(INSTANCE_DIR_PREFIX.length), faults);
  }

  /** The fs-write fault point: every write and removal of a file in the directory passes here. */
  private injectWriteFault(syscall: string, file: string): void {
    if (this.faults?.fails('fs-write', { file: path.relative(this.dir, file) })) throw injectedIoError(syscall, file);
  }

  private writeFile(file: string, data: string): void {
    this.injectWriteFault('write', file);
    writeFileAtomic(file, data);
  }

  private lock(): void {
    const fd = fs.openSync(this.path(INSTANCE_FILES.lock), 'w', 0o600);
    if (!tryLock(fd)) {
      fs.closeSync(fd);
      throw new Error(`instance directory ${this.dir} is locked by another process`);
    }
    this.lockFd = fd;
  }

  path(...parts: string[]): string {
    return path.join(this.dir, ...parts);
  }

  writeConfig(config: FerryConfig): void {
    this.writeFile(this.path(INSTANCE_FILES.config), JSON.stringify(config, null, 2) + '\n');
  }

  readConfig(): FerryConfig {
    return JSON.parse(fs.readFileSync(this.path(INSTANCE_FILES.config), 'utf8')) as FerryConfig;
  }

  writeProperties(properties: InstanceProperties): void {
    this.writeFile(this.path(INSTANCE_FILES.properties), JSON.stringify(properties, null, 2) + '\n');
  }

  /** Creates the two admin tokens (0600): read-only, and full admin. */
  createAdminTokens(): void {
    fs.writeFileSync(this.path(ADMIN_FILES.readOnlyToken), crypto.randomBytes(24).toString('base64url') + '\n', { mode: 0o600 });
    fs.writeFileSync(this.path(ADMIN_FILES.fullToken), crypto.randomBytes(24).toString('base64url') + '\n', { mode: 0o600 });
  }

  readAdminTokens(): { readOnly: string; full: string } {
    return {
      readOnly: fs.readFileSync(this.path(ADMIN_FILES.readOnlyToken), 'utf8').trim(),
      full: fs.readFileSync(this.path(ADMIN_FILES.fullToken), 'utf8').trim(),
    };
  }

  get adminSocketPath(): string {
    return this.path(ADMIN_FILES.socket);
  }

  appSocketPath(appName: string): string {
    // Short random names keep us under the 107-byte limit of a unix socket path.
    return this.path(INSTANCE_FILES.appSocketsDir, `${appName.slice(0, 24)}.${randomName(6)}`);
  }

  /**
   * The directory where an app running as another user binds its socket: one per user, owned by
   * it (0700), beside the instance directory, which stays root-only (admin socket, tokens, FIFOs).
   */
  appUserDir(uid: number, gid: number): string {
    const dir = path.join(path.dirname(this.dir), `${APP_USER_DIR_PREFIX}${this.name}.${uid}`);
    try {
      fs.mkdirSync(dir, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    // Never follow a symlink someone planted, nor use a directory another user owns.
    const stat = fs.lstatSync(dir);
    if (!stat.isDirectory() || (stat.uid !== uid && stat.uid !== 0)) throw new Error(`${dir} exists and is not a directory Ferry made for uid ${uid}`);
    fs.chmodSync(dir, 0o700);
    fs.chownSync(dir, uid, gid);
    return dir;
  }

  writeCoreRestartStatus(status: CoreRestartStatus): void {
    writeFileAtomic(this.path(INSTANCE_FILES.coreRestart), JSON.stringify(status, null, 2) + '\n');
  }

  recordWorker(record: WorkerRecord): void {
    this.writeFile(this.path(INSTANCE_FILES.workersDir, `${record.pid}.json`), JSON.stringify(record) + '\n');
  }

  forgetWorker(pid: number): void {
    const file = this.path(INSTANCE_FILES.workersDir, `${pid}.json`);
    this.injectWriteFault('unlink', file);
    fs.rmSync(file, { force: true });
  }

  /** Removes the directory; the lock goes with the last descriptor. */
  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
    removeAppUserDirs(path.dirname(this.dir), this.name);
    if (this.lockFd !== undefined) {
      fs.closeSync(this.lockFd);
      this.lockFd = undefined;
    }
  }
}
