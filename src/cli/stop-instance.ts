// ferry stop's work: signal the watchdog, then wait until every process of the instance
// (watchdog, core, app processes and whatever they spawned) is gone and the directory removed.

import fs from 'node:fs';
import { readWorkerRecords, scanRegistry, defaultRegistryDir, type InstanceInfo } from '../lib/instance-registry.js';
import { isProcessRunning, listGroupMembers } from '../lib/process-groups.js';
import { sleep } from '../lib/units.js';
import { CliError } from './errors.js';
import { locateInstance } from './locate-instance.js';

export interface StopOptions {
  registryDir?: string;
  name?: string;
  pidFile?: string;
  timeoutMs: number;
}

export interface StopResult {
  name: string;
  watchdogPid: number;
  /** Every pid of the instance seen when the stop began; all are gone now. */
  stoppedPids: number[];
  durationMs: number;
}

function readPidFile(pidFile: string): number {
  let text: string;
  try {
    text = fs.readFileSync(pidFile, 'utf8');
  } catch {
    throw new CliError('FERRY_ERR_INSTANCE_NOT_RUNNING', `no Ferry instance is running: pid file ${pidFile} does not exist`, [
      'Check the --pid-file path you gave to ferry start.',
    ]);
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) {
    throw new CliError('FERRY_ERR_CONFIG_INVALID', `pid file ${pidFile} does not hold a pid`, ['Remove the file if no instance runs.']);
  }
  if (!isProcessRunning(pid)) {
    throw new CliError('FERRY_ERR_INSTANCE_NOT_RUNNING', `no Ferry instance is running: pid ${pid} from ${pidFile} is gone`, ['Remove the stale pid file.']);
  }
  return pid;
}

function findInstance(opts: StopOptions): InstanceInfo {
  if (!opts.pidFile) return locateInstance({ registryDir: opts.registryDir, name: opts.name });
  const pid = readPidFile(opts.pidFile);
  const registryDir = opts.registryDir ?? defaultRegistryDir();
  const found = scanRegistry(registryDir).live.find((i) => i.properties.watchdog_pid === pid);
  if (!found) {
    throw new CliError('FERRY_ERR_INSTANCE_NOT_RUNNING', `pid ${pid} from ${opts.pidFile} is not a Ferry watchdog registered in ${registryDir}`, [
      'Pass the --instance-registry-dir the instance was started with.',
    ]);
  }
  return found;
}

/** Signals an instance's watchdog; says clearly when that is not allowed. False if it is gone. */
export function signalWatchdog(instance: InstanceInfo, signal: NodeJS.Signals, command: string): boolean {
  const pid = instance.properties.watchdog_pid;
  try {
    process.kill(pid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EPERM') {
      throw new CliError('FERRY_ERR_LISTEN_PERMISSION', `not allowed to signal the watchdog (pid ${pid}) of instance ${instance.name}`, [
        `Run ${command} as the user that started the instance, or as root.`,
      ]);
    }
    return false;
  }
}

export async function stopInstance(opts: StopOptions): Promise<StopResult> {
  const started = Date.now();
  const instance = findInstance(opts);
  const watchdogPid = instance.properties.watchdog_pid;
  const pids = new Set<number>([watchdogPid]);
  if (instance.properties.core_pid) pids.add(instance.properties.core_pid);
  // Every process leads its own group; a group outlives its leader while its children live.
  const groups = new Set<number>(pids);
  for (const record of readWorkerRecords(instance.dir)) {
    pids.add(record.pid);
    groups.add(record.pgid);
  }

  signalWatchdog(instance, 'SIGTERM', 'ferry stop');

  const deadline = started + opts.timeoutMs;
  for (;;) {
    // Records of processes spawned while we wait count too.
    for (const record of readWorkerRecords(instance.dir)) {
      pids.add(record.pid);
      groups.add(record.pgid);
    }
    const alive = [...pids].filter(isProcessRunning);
    const members = listGroupMembers(groups);
    if (alive.length === 0 && members.length === 0 && !fs.existsSync(instance.dir)) break;
    if (Date.now() > deadline) {
      throw new CliError('FERRY_ERR_STOP_TIMEOUT', `instance ${instance.name} did not stop within ${Math.round(opts.timeoutMs / 1000)}s; still running: ${[...new Set([...alive, ...members])].join(', ') || 'none (directory left)'}`, [
        `Kill them with: kill -9 ${[...new Set([...alive, ...members])].join(' ')}`,
      ]);
    }
    await sleep(50);
  }
  return { name: instance.name, watchdogPid, stoppedPids: [...pids].sort((a, b) => a - b), durationMs: Date.now() - started };
}
