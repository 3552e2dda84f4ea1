// ferry restart's work: ask the watchdog for a new core (SIGHUP), then wait for the outcome it
// writes to core-restart.json: the new core serving, the old one gone, the app processes kept.

import { readCoreRestartStatus, readWorkerRecords } from '../lib/instance-registry.js';
import { sleep } from '../lib/units.js';
import { CliError } from './errors.js';
import { locateInstance } from './locate-instance.js';
import { signalWatchdog } from './stop-instance.js';

export interface RestartCoreOptions {
  registryDir?: string;
  name?: string;
  timeoutMs: number;
}

export interface RestartCoreResult {
  instance: string;
  oldCorePid: number | null;
  newCorePid: number;
  durationMs: number;
  /** 'handover': the old core finished its requests; 'after-kill': it did not answer and was killed. */
  adoptedBy: 'handover' | 'after-kill';
  /** App processes serving after the restart (the same pids as before it, unless one died meanwhile). */
  appPids: number[];
}

export async function restartCore(opts: RestartCoreOptions): Promise<RestartCoreResult> {
  const instance = locateInstance({ registryDir: opts.registryDir, name: opts.name });
  const previousSeq = readCoreRestartStatus(instance.dir)?.seq ?? 0;
  if (!signalWatchdog(instance, 'SIGHUP', 'ferry restart')) {
    throw new CliError('FERRY_ERR_INSTANCE_NOT_RUNNING', `instance ${instance.name} stopped (its watchdog, pid ${instance.properties.watchdog_pid}, is gone)`);
  }
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const status = readCoreRestartStatus(instance.dir);
    if (status && status.seq > previousSeq && status.state !== 'running') {
      if (status.state === 'failed' || status.new_core_pid === null) {
        const busy = status.error?.code === 'FERRY_ERR_CORE_RESTART_BUSY';
        throw new CliError(busy ? 'FERRY_ERR_CORE_RESTART_BUSY' : 'FERRY_ERR_CORE_RESTART_FAILED', `core restart of instance ${instance.name} failed: ${status.error?.message ?? 'unknown error'}`, [
          busy ? 'Wait for the restart under way, then try again.' : 'The old core goes on serving; the log has the new core\'s error.',
        ]);
      }
      return {
        instance: instance.name,
        oldCorePid: status.old_core_pid,
        newCorePid: status.new_core_pid,
        durationMs: status.duration_ms ?? 0,
        adoptedBy: status.adopted_by ?? 'handover',
        appPids: readWorkerRecords(instance.dir)
          .map((r) => r.pid)
          .sort((a, b) => a - b),
      };
    }
    if (Date.now() > deadline) {
      throw new CliError('FERRY_ERR_WAIT_TIMEOUT', `core restart of instance ${instance.name} did not finish within ${Math.round(opts.timeoutMs / 1000)}s`, [
        'It goes on in the background (the old core finishes its requests first); check with ferry status.',
      ]);
    }
    await sleep(25);
  }
}
