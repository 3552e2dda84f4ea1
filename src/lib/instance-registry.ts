// The on-disk format of an instance directory, and the read-only side of the registry:
// list live instances, pick one, clean stale ones. The watchdog writes (core/instance-registry).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const INSTANCE_DIR_PREFIX = 'ferry.';
/** Beside an instance directory: one directory per app user, ferry-apps.INSTANCE.UID (not INSTANCE_DIR_PREFIX: no instance). */
export const APP_USER_DIR_PREFIX = 'ferry-apps.';

/** Removes the app users' directories of one instance from its registry directory. */
export function removeAppUserDirs(registryDir: string, instanceName: string, entries: readonly string[] = fs.readdirSync(registryDir)): void {
  for (const entry of entries) {
    if (entry.startsWith(`${APP_USER_DIR_PREFIX}${instanceName}.`)) fs.rmSync(path.join(registryDir, entry), { recursive: true, force: true });
  }
}

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
  /** Request bodies and responses the core buffers on disk for slow clients (0600 files, one per request). */
  buffersDir: 'buffers',
  /** Evidence kept before a process is recycled over --memory-limit: heap snapshots and last output lines (0600 files, a few per app). */
  diagnosticsDir: 'diagnostics',
  /** The last core restart (`ferry restart`, SIGHUP): written by the watchdog, read by the CLI. */
  coreRestart: 'core-restart.json',
  /** The single executable's loader scripts (wsgi, rack, node), written when the core starts. */
  loadersDir: 'loaders',
} as const;

/** core-restart.json (snake_case, like properties.json). `seq` grows with every restart asked for. */
export interface CoreRestartStatus {
  seq: number;
  state: 'running' | 'done' | 'failed';
  old_core_pid: number | null;
  new_core_pid: number | null;
  started_at: string;
  duration_ms: number | null;
  /** How the processes moved: the old core handed them over, or it hung and was killed first. */
  adopted_by?: 'handover' | 'after-kill';
  error?: { code: string; message: string };
}

export function readCoreRestartStatus(dir: string): CoreRestartStatus | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, INSTANCE_FILES.coreRestart), 'utf8')) as CoreRestartStatus;
  } catch {
    return undefined;
  }
}

/** properties.json: snake_case, as DESIGN.md fixes it. */
export interface InstanceProperties {
  name: string;
  version: string;
  watchdog_pid: number;
  /** Start time of the watchdog (clock ticks since boot), so a reused pid is never taken for it. */
  watchdog_start_ticks?: number;
  core_pid: number | null;
  addresses: string[];
  apps: { name: string; root: string }[];
  created_at: string;
  /** The log file (--log-file, or the daemon's default); null when the instance logs to the stdout of its ferry start. */
  log_file?: string | null;
  /** The access log (--access-log): a file, '-' for stdout; absent when off. */
  access_log?: string;
}

/** A record of one app process, written by the core when it spawns it. */
export interface WorkerRecord {
  pid: number;
  /** Process group id; equal to pid, since every app process leads its own group. */
  pgid: number;
  app: string;
  /** Where it accepts HTTP: unix:PATH or http://127.0.0.1:PORT. */
  address: string;
  corePid: number;
  startedAt: string;
  /** Start time in clock ticks since boot, so a core adopting it never takes a reused pid for it. */
  startTicks?: number;
  /** The FIFOs its stdout and stderr go to (see core/spawn/app-output.ts). */
  stdout?: string;
  stderr?: string;
  /** Out of rotation for good (draining, stopping): a core taking over does not adopt it. */
  leaving?: boolean;
  /** Its --readiness-path has not answered 2xx yet: a core taking over does not adopt it (it would serve unready). */
  notReady?: boolean;
  /** Direct mode: it accepts from the public listening socket itself. */
  direct?: boolean;
}

export interface InstanceInfo {
  name: string;
  dir: string;
  properties: InstanceProperties;
}

export function defaultRegistryDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.FERRY_INSTANCE_REGISTRY_DIR || env.TMPDIR || os.tmpdir() || '/tmp';
}

/** "MAJ:MIN:INODE" as /proc/locks names a file (hex device numbers, decimal inode). */
function procLocksKey(stat: fs.Stats): string {
  const major = Math.floor(stat.dev / 256) & 0xfff;
  const minor = (stat.dev & 0xff) | (Math.floor(stat.dev / 4096) & 0xfff00);
  const hex = (n: number): string => n.toString(16).padStart(2, '0');
  return `${hex(major)}:${hex(minor)}:${stat.ino}`;
}

/**
 * An instance is alive while its watchdog holds the lock: the kernel drops a lock when its
 * holder dies, however it dies. Readers look the lock up in /proc/locks instead of taking it:
 * no native addon to load (~20 ms), no race with the watchdog. Reading /proc/locks costs ~12 ms
 * in a fresh Node process, so scans ask it only before removing a directory.
 */
export function isInstanceLocked(dir: string, locks: string = readProcLocks()): boolean {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(path.join(dir, INSTANCE_FILES.lock));
  } catch {
    return false;
  }
  const key = ` ${procLocksKey(stat)} `;
  return locks.includes(key);
}

/** Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot. */
export function processStartTicks(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') return undefined; // a zombie is gone
    const ticks = Number(fields[19]);
    return Number.isFinite(ticks) ? ticks : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The process recorded as `pid` (started at `startTicks`, when known) still runs: alive, not a
 * zombie, and not another process that got the pid since.
 */
export function isSameProcess(pid: number, startTicks: number | undefined): boolean {
  const ticks = processStartTicks(pid);
  return ticks !== undefined && (startTicks === undefined || ticks === startTicks);
}

/** The watchdog recorded in properties.json still runs: same pid and same start time (no pid reuse). */
export function isWatchdogRunning(properties: InstanceProperties): boolean {
  if (properties.watchdog_start_ticks === undefined) return false;
  return processStartTicks(properties.watchdog_pid) === properties.watchdog_start_ticks;
}

export function readProcLocks(): string {
  try {
    return fs.readFileSync('/proc/locks', 'utf8');
  } catch {
    return '';
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
  let locks: string | undefined;
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
    // Fast answer first: the recorded watchdog still runs (same pid, same start time).
    if (properties && isWatchdogRunning(properties)) {
      scan.live.push({ name: properties.name, dir, properties });
      continue;
    }
    // The lock has the last word before anything is removed (read lazily: it is slow to read).
    locks ??= readProcLocks();
    if (isInstanceLocked(dir, locks)) {
      if (properties) scan.live.push({ name: properties.name, dir, properties });
      continue;
    }
    // Unlocked: the watchdog is gone (or never finished starting).
    if (properties || now - stat.mtimeMs > UNFINISHED_GRACE_MS) {
      try {
        fs.rmSync(dir, { recursive: true, force: true });
        removeAppUserDirs(registryDir, entry.slice(INSTANCE_DIR_PREFIX.length), entries);
        scan.cleaned.push(dir);
      } catch {
        // Someone else's directory we may not remove; it stays listed as nothing.
      }
    }
  }
  scan.live.sort((a, b) => a.name.localeCompare(b.name));
  return scan;
}
