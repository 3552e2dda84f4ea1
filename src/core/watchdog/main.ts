// The watchdog process: owns the instance directory and (as an inherited fd it never polls) the
// listening socket; starts and restarts the core; on stop, guarantees nothing is left running.

import fs from 'node:fs';
import { appUserIds, describeListenAddress, type ListenAddress } from '../../lib/config.js';
import { METRICS_FD, type CliToWatchdog, type LaunchMessage, type WatchdogToCli } from '../../lib/ipc-messages.js';
import type { ErrorPayload } from '../../lib/error-codes.js';
import { openOwnFile, UnsafeFileError } from '../../lib/own-files.js';
import { FERRY_VERSION } from '../../lib/paths.js';
import { processStartTicks, type CoreRestartStatus } from '../../lib/instance-registry.js';
import { InstanceDirectory } from '../instance-registry/instance-dir.js';
import { createLogger, ReopenableFileSink, type Logger } from '../log.js';
import { OOM_ENV, protectFromOomKiller } from '../oom-score.js';
import { CoreWatcher, LISTEN_FD } from './core-watcher.js';

function send(message: WatchdogToCli): void {
  if (process.connected) process.send?.(message);
}

/** Removes the public unix socket at stop, but only if the path is still the file ferry start bound. */
function removeOwnUnixSocket(listen: ListenAddress, inode: number | undefined): void {
  if (listen.kind !== 'unix' || inode === undefined) return;
  try {
    const there = fs.lstatSync(listen.path);
    if (there.isSocket() && there.ino === inode) fs.rmSync(listen.path, { force: true });
  } catch {
    // Gone already: nothing to do.
  }
}

/** The pid file often sits beside the app (APP/tmp/pids/), where its user could plant a link. */
function writePidFile(file: string, appUids: readonly number[]): void {
  const { fd } = openOwnFile(file, 'pid', appUids);
  try {
    fs.writeSync(fd, `${process.pid}\n`);
  } finally {
    fs.closeSync(fd);
  }
}

function run(launch: LaunchMessage): void {
  const { config } = launch;
  // ferry start opened and checked the log file (openOwnFile) and handed it over as stdout.
  const logSink = config.logFile ? new ReopenableFileSink(config.logFile, appUserIds(config), 1) : undefined;
  const log: Logger = createLogger({ level: config.logLevel, format: launch.logFormat, sink: logSink }, { component: 'watchdog' });
  let detached = false;
  let stopping: Promise<void> | undefined;

  const originalOomScore = protectFromOomKiller();
  if (originalOomScore !== undefined) process.env[OOM_ENV] = originalOomScore;

  let instance: InstanceDirectory;
  try {
    instance = InstanceDirectory.create(launch.registryDir);
    instance.writeConfig(config);
    instance.createAdminTokens();
  } catch (err) {
    send({ type: 'failed', error: { code: 'FERRY_ERR_INTERNAL', message: `could not create the instance directory in ${launch.registryDir}: ${(err as Error).message}` } });
    process.exit(1);
  }
  const addresses = [describeListenAddress(config.listen)];
  const writeProperties = (corePid: number | null): void =>
    instance.writeProperties({
      name: instance.name,
      version: FERRY_VERSION,
      watchdog_pid: process.pid,
      watchdog_start_ticks: processStartTicks(process.pid),
      core_pid: corePid,
      addresses,
      apps: config.apps.map((a) => ({ name: a.name, root: a.root })),
      created_at: new Date().toISOString(),
      log_file: config.logFile ?? null,
      ...(config.accessLog ? { access_log: config.accessLog.path } : {}),
    });
  writeProperties(null);
  if (launch.pidFile) {
    try {
      writePidFile(launch.pidFile, appUserIds(config));
    } catch (err) {
      instance.remove();
      send({ type: 'failed', error: err instanceof UnsafeFileError ? err.toPayload() : { code: 'FERRY_ERR_CONFIG_INVALID', message: `cannot write the pid file ${launch.pidFile}: ${(err as Error).message}` } });
      process.exit(1);
    }
  }

  const watcher = new CoreWatcher(instance, log, { format: launch.logFormat, level: () => log.level, fileFd: () => logSink?.fd }, config.shutdownTimeoutMs, config.metricsListen ? METRICS_FD : undefined);

  // Log rotation: SIGUSR1 (logrotate's postrotate) reopens here and in the core; the admin API
  // (ferry reopen-logs) reopens in the core, which then asks here.
  const reopenLog = (by: string): void => {
    if (!logSink) return;
    try {
      logSink.reopen();
      log.info('log file reopened', { logFile: logSink.path, by });
    } catch (err) {
      log.error('could not reopen the log file; still writing to the old one', { logFile: logSink.path, err });
    }
  };
  process.on('SIGUSR1', () => {
    reopenLog('SIGUSR1');
    watcher.tellCore({ type: 'reopen-logs' });
  });
  watcher.on('reopen-logs', () => reopenLog('core'));
  watcher.on('log-level', (level) => {
    log.setLevel(level);
    log.info('log level changed', { logLevel: level });
  });

  // Stopping: our copies of the listening sockets go, so that once the core closes its own, new
  // connections are refused at once (a load balancer retries them elsewhere) instead of waiting in
  // the backlog for a core that will never accept them.
  let socketsClosed = false;
  const closeListeningSockets = (): void => {
    // Once only: a closed fd number may be reused by a file opened since.
    if (socketsClosed) return;
    socketsClosed = true;
    for (const fd of config.metricsListen ? [LISTEN_FD, METRICS_FD] : [LISTEN_FD]) {
      try {
        fs.closeSync(fd);
      } catch {
        // closed already
      }
    }
  };

  const cleanupAndExit = (code: number): never => {
    instance.remove();
    removeOwnUnixSocket(config.listen, launch.unixSocketInode);
    if (launch.pidFile) fs.rmSync(launch.pidFile, { force: true });
    log.info('stopped', { instance: instance.name });
    process.exit(code);
  };

  const stop = (reason: string, exitCode = 0, force = false): Promise<void> => {
    if (stopping && !force) return stopping;
    log.info(force ? 'stopping now (forced)' : 'stopping', { reason });
    send({ type: 'stopping' });
    const deadlineMs = force ? Date.now() : Date.now() + config.shutdownTimeoutMs;
    closeListeningSockets();
    stopping = watcher.stop(deadlineMs, force).then(() => cleanupAndExit(exitCode));
    return stopping;
  };

  const fail = (error: ErrorPayload): void => {
    send({ type: 'failed', error });
    void stop('start-up failed', 1);
  };

  let signalsSeen = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signalsSeen++;
    // A second signal means the operator will not wait: kill everything now.
    void stop(signal, 0, signalsSeen > 1);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // SIGHUP (and `ferry restart`, which sends it): a new core takes over without dropping a request.
  let restartSeq = 0;
  let restartRunning = false;
  process.on('SIGHUP', () => {
    if (stopping || restartRunning) {
      log.warn('SIGHUP: a core restart or a stop is already under way; ignored');
      return;
    }
    restartRunning = true;
    restartSeq++;
    const startedAt = new Date().toISOString();
    const seq = restartSeq;
    const write = (status: Omit<CoreRestartStatus, 'seq' | 'started_at'>): void => {
      try {
        instance.writeCoreRestartStatus({ seq, started_at: startedAt, ...status });
      } catch (err) {
        log.warn('could not write the core restart status', { err });
      }
    };
    write({ state: 'running', old_core_pid: watcher.pid ?? null, new_core_pid: null, duration_ms: null });
    send({ type: 'core-restart', state: 'running' });
    void watcher
      .handOver()
      .then((result) => {
        send({ type: 'core-restart', state: result.ok ? 'done' : 'failed' });
        if (result.ok) write({ state: 'done', old_core_pid: result.oldPid, new_core_pid: result.newPid, duration_ms: result.durationMs, adopted_by: result.adoptedBy });
        else write({ state: 'failed', old_core_pid: result.oldPid ?? null, new_core_pid: null, duration_ms: null, error: { code: result.error.code, message: result.error.message } });
      })
      .catch((err: unknown) => {
        log.error('core restart failed', { err });
        send({ type: 'core-restart', state: 'failed' });
        write({ state: 'failed', old_core_pid: null, new_core_pid: null, duration_ms: null, error: { code: 'FERRY_ERR_INTERNAL', message: String(err) } });
      })
      .finally(() => {
        restartRunning = false;
      });
  });

  process.on('message', (message: CliToWatchdog) => {
    if (message.type === 'detach') {
      detached = true;
      process.disconnect?.();
    }
  });
  process.on('disconnect', () => {
    // The foreground ferry start went away without detaching (killed, terminal closed): stop too.
    if (!detached) void stop('ferry start exited');
  });

  watcher.once('ready', (pid) => {
    writeProperties(pid);
    log.info('instance ready', { instance: instance.name, dir: instance.dir, address: addresses[0], corePid: pid });
    send({ type: 'ready', instance: { name: instance.name, dir: instance.dir, watchdogPid: process.pid, corePid: pid, addresses } });
    watcher.on('ready', (newPid) => {
      // A full or failing disk must not take the watchdog (and so the instance) down; the CLI
      // then sees the old core pid until the next write succeeds.
      try {
        writeProperties(newPid);
      } catch (err) {
        log.error('could not record the new core pid in properties.json', { corePid: newPid, err });
      }
    });
  });
  watcher.on('startup-failed', fail);
  watcher.on('gave-up', () => void stop('core crash loop', 1));
  log.info('starting', { version: FERRY_VERSION, instance: instance.name, address: addresses[0] });
  watcher.start();
}

process.stdout.on('error', () => undefined);
process.stderr.on('error', () => undefined);
process.once('message', (message: CliToWatchdog) => {
  if (message.type !== 'launch') {
    process.stderr.write('ferry watchdog: expected a launch message first\n');
    process.exit(2);
  }
  run(message);
});
if (!process.connected) {
  process.stderr.write('ferry watchdog: this process is started by `ferry start`, not by hand.\n');
  process.exit(2);
}
