// The on-disk format of an instance directory, and the read-only side of the registry:
// list live instances, pick one, clean stale ones. The watchdog writes (core/instance-registry).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fsx from 'fs-native-extensions';
import { isProcessRunning } from './process-groups.js';

export const INSTANCE_DIR_PREFIX = 'ferry.';

/** File names inside an instance directory, in one place so writer and reader agree. */
export const INSTANCE_FILES = {
  properties: 'properties.json',
  /** The watchdog holds an exclusive flock on this file for as long as it lives. */
  lock: 'lock',
  config: 'config.json',
  /** One JSON file per live app process, named `<pid>.json`, so cleanup works even with the core dead. */
  workersDir: 'workers',
  /** Unix sockets of app processes. */
  appSocketsDir: 'apps.s',
} as const;

/** properties.json: snake_case, as DESIGN.md fixes it. */
export interface InstanceProperties {
  name: string;
  version: string;
  watchdog_pid: number;
  core_pid: number | null;
  addresses: string[];
  apps: { name: string; root: string }[];
  created_at: string;
}

/** A record of one app process, written by the core when it spawns it. */
export interface WorkerRecord {
  pid: number;
  /** Process group id; equal to pid, since every app process leads its own group. */
  pgid: number;
  app: string;
  socketPath: string;
  corePid: number;
  startedAt: string;
}

export interface InstanceInfo {
  name: string;
  dir: string;
  properties: InstanceProperties;
}

export function defaultRegistryDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.FERRY_INSTANCE_REGISTRY_DIR || env.TMPDIR || os.tmpdir() || '/tmp';
}

/**
 * An instance is alive while its watchdog holds the lock: the kernel drops a flock when its
 * holder dies, however it dies, so this never mistakes a reused pid for a live watchdog.
 */
export function isInstanceLocked(dir: string): boolean {
  let fd: number;
  try {
    // An exclusive (OFD) lock needs a descriptor open for writing.
    fd = fs.openSync(path.join(dir, INSTANCE_FILES.lock), 'r+');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EACCES') return false;
    // Another user's instance: we cannot test the lock, so trust the watchdog pid.
    const properties = readProperties(dir);
    return properties !== undefined && isProcessRunning(properties.watchdog_pid);
  }
  try {
    const acquired = fsx.tryLock(fd);
    if (acquired) fsx.unlock(fd);
    return !acquired;
  } finally {
    fs.closeSync(fd);
  }
}

export function readProperties(dir: string): InstanceProperties | undefined {
  try {
    const parsed = JSON.parse(fs.readFileSync(path.join(dir, INSTANCE_FILES.properties), 'utf8')) as InstanceProperties;
    if (typeof parsed.name !== 'string' || typeof parsed.watchdog_pid !== 'number') return undefined;
    return parsed;
  } catch {
    return undefined;
  }
}

export function readWorkerRecords(dir: string): WorkerRecord[] {
  const workersDir = path.join(dir, INSTANCE_FILES.workersDir);
  let names: string[];
  try {
    names = fs.readdirSync(workersDir);
  } catch {
    return [];
  }
  const records: WorkerRecord[] = [];
  for (const name of names) {
    if (!name.endsWith('.json')) continue;
    try {
      records.push(JSON.parse(fs.readFileSync(path.join(workersDir, name), 'utf8')) as WorkerRecord);
    } catch {
      // A record being written or removed right now; the next read sees it settled.
    }
  }
  return records;
}

/** Directories younger than this may still be being created; leave them alone. */
const UNFINISHED_GRACE_MS = 60_000;

export interface RegistryScan {
  live: InstanceInfo[];
  /** Stale directories this scan removed. */
  cleaned: string[];
}

/** Lists live instances in a registry directory, removing stale ones (unlocked, finished or old). */
export function scanRegistry(registryDir: string, now = Date.now()): RegistryScan {
  const scan: RegistryScan = { live: [], cleaned: [] };
  let entries: string[];
  try {
    entries = fs.readdirSync(registryDir);
  } catch {
    return scan;
  }
  for (const entry of entries) {
    if (!entry.startsWith(INSTANCE_DIR_PREFIX)) continue;
    const dir = path.join(registryDir, entry);
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(dir);
    } catch {
      continue;
    }
    if (!stat.isDirectory()) continue;
    const properties = readProperties(dir);
    if (isInstanceLocked(dir)) {
      if (properties) scan.live.push({ name: properties.name, dir, properties });
      continue;
    }
    // Unlocked: the watchdog is gone (or never finished starting).
    if (properties || now - stat.mtimeMs > UNFINISHED_GRACE_MS) {
      try {
        fs.rmSync(dir, { recursive: true, force: true });
        scan.cleaned.push(dir);
      } catch {
        // Someone else's directory we may not remove; it stays listed as nothing.
      }
    }
  }
  scan.live.sort((a, b) => a.name.localeCompare(b.name));
  return scan;
}
