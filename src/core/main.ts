// The core process: serves the inherited listening socket, runs the pool, reports readiness to
// the watchdog, and stops gracefully when told. Started only by the watchdog.

import fs from 'node:fs';
import type http from 'node:http';
import { appUserIds, describeListenAddress, LOG_LEVELS, type LogLevel } from '../lib/config.js';
import type { CoreToWatchdog } from '../lib/ipc-messages.js';
import { isMessageOfType, METRICS_FD } from '../lib/ipc-messages.js';
import { readWorkerRecords } from '../lib/instance-registry.js';
import { UnsafeFileError } from '../lib/own-files.js';
import { signalQuietly } from '../lib/units.js';
import { CoreError, toErrorPayload } from './errors.js';
import { FaultInjector, faultPlanFromEnv, type FaultPlan } from './faults.js';
import { InstanceDirectory } from './instance-registry/instance-dir.js';
import { AccessLog } from './access-log/access-log.js';
import { createLogger, ReopenableFileSink, throttledWarn } from './log.js';
import { OOM_ENV, restoreOomScore } from './oom-score.js';
import { Pool } from './pool/pool.js';
import { BufferDir } from './proxy/buffer-dir.js';
import { DiagnosticsDir } from './pool/evidence.js';
import { createFrontProxyServer } from './proxy/stages/front-proxy.js';
import { requestClientAddress } from './proxy/error-page-audience.js';
import { HealthState } from './proxy/health-check.js';
import { DirectSpawner } from './spawn/direct-spawner.js';
import { CacheFront } from './turbocache/cache-front.js';
import { Turbocache } from './turbocache/turbocache.js';

/** sd_listen_fds(3): inherited sockets start at fd 3. */
const LISTEN_FDS_START = 3;

function send(message: CoreToWatchdog): void {
  if (process.connected) process.send?.(message);
}

/** The fault injection seed of this core, once known: crash lines carry it so a run can be replayed. */
let faultsSeed: number | undefined;

/** Reports a start-up failure and exits once the message is on its way. */
function failStartup(message: CoreToWatchdog): void {
  if (!process.connected || !process.send) process.exit(1);
  process.send(message, () => process.exit(1));
}

/** The admin socket lives in the 0700 instance directory and is itself 0600: owner and root only. */
async function listenAdminSocket(server: http.Server, socketPath: string): Promise<void> {
  fs.rmSync(socketPath, { force: true }); // left by a core that crashed
  const previousUmask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(previousUmask);
  }
}

async function main(): Promise<void> {
  process.stdout.on('error', () => undefined);
  const instanceDirPath = process.env.FERRY_INSTANCE_DIR;
  if (!instanceDirPath) {
    process.stderr.write('ferry core: FERRY_INSTANCE_DIR is not set; the core is started by the watchdog (ferry start).\n');
    process.exit(2);
  }
  restoreOomScore(process.env[OOM_ENV]);
  delete process.env[OOM_ENV];
  const config = InstanceDirectory.open(instanceDirPath).readConfig();
  // The watchdog hands the core its log file, opened and checked, as stdout: no second open by path.
  const logSink = config.logFile ? new ReopenableFileSink(config.logFile, appUserIds(config), 1) : undefined;
  // The level set through the admin API outlives this core: the watchdog passes it on.
  const inheritedLevel = process.env.FERRY_LOG_LEVEL;
  if (LOG_LEVELS.includes(inheritedLevel as LogLevel)) config.logLevel = inheritedLevel as LogLevel;
  const log = createLogger({ level: config.logLevel, format: process.env.FERRY_LOG_FORMAT === 'pretty' ? 'pretty' : 'json', sink: logSink }, { component: 'core' });
  // Set once the front exists; reopened with the log file.
  let accessLog: AccessLog | undefined;
  const reopenOne = (what: 'log file' | 'access log', file: string, reopen: () => void, by: string): void => {
    try {
      reopen();
    } catch (err) {
      log.error(`could not reopen the ${what}; still writing to the old one`, { logFile: file, err });
      throw new CoreError('FERRY_ERR_LOG_REOPEN_FAILED', `could not reopen ${file}: ${(err as Error).message}`, {
        cause: err,
        suggestions: err instanceof UnsafeFileError ? err.suggestions : [],
      });
    }
    log.info(`${what} reopened`, { logFile: file, by });
  };
  const reopenLog = (by: string): void => {
    let failure: unknown;
    if (logSink) {
      try {
        reopenOne('log file', logSink.path, () => logSink.reopen(), by);
      } catch (err) {
        failure = err;
      }
    }
    // Tried even when the log file failed: each file is rotated on its own.
    const access = accessLog;
    if (access && access.path !== '-') reopenOne('access log', access.path, () => access.reopen(), by);
    if (failure) throw failure;
  };

  let faultPlan: FaultPlan | undefined;
  try {
    faultPlan = faultPlanFromEnv(process.env);
  } catch (err) {
    log.error('fault injection settings are invalid; not starting', { err: (err as Error).message });
    failStartup({ type: 'startup-failed', error: toErrorPayload(err) });
    return;
  }
  faultsSeed = faultPlan?.seed;
  const faults = faultPlan ? new FaultInjector(faultPlan, log.child({ component: 'faults' })) : undefined;
  // The seed goes with every line that may be all that is left of a run, so the run can be replayed.
  const seedFields = faultPlan ? { faultsSeed: faultPlan.seed } : {};
  if (faultPlan) {
    log.warn('fault injection is on: operations will fail on purpose once the core serves', { faults: faultPlan.probabilities, ...seedFields, seedChosen: faultPlan.seedChosen });
  }
  const instance = InstanceDirectory.open(instanceDirPath, faults);

  const fatal = (what: string) => (err: unknown) => {
    log.error(`${what}; exiting so the watchdog restarts the core`, { err, ...seedFields });
    process.exit(1);
  };
  process.on('uncaughtException', fatal('uncaught exception'));
  process.on('unhandledRejection', fatal('unhandled promise rejection'));

  const fd = Number(process.env.LISTEN_FDS ?? '0') >= 1 ? LISTEN_FDS_START : undefined;
  const spawner = new DirectSpawner(instance, log.child({ component: 'app' }), faults, config.direct ? fd : undefined);
  // A restart that read an app's env files again: a core started later (ferry restart, a crash) spawns with them too.
  const pool = new Pool(config, spawner, log, DiagnosticsDir.prepare(instance.dir), () => {
    try {
      instance.writeConfig(config);
    } catch (err) {
      log.warn('could not save the changed app variables; a core started later spawns with the earlier ones', { err });
    }
  });
  const trustForwarded = config.listen.kind === 'unix';
  const { turbocache } = config;
  const cache = turbocache.enabled
    ? new CacheFront(new Turbocache({ maxBytes: turbocache.maxBytes, maxEntryBytes: turbocache.maxEntryBytes, varyByCookie: turbocache.varyByCookie, staleOnErrorMs: turbocache.staleOnErrorMs }), { debugHeader: turbocache.debugHeader })
    : undefined;
  const bufferDir = BufferDir.prepare(instance.dir);
  const health = config.healthCheck ? { ...config.healthCheck, state: new HealthState() } : undefined;
  if (config.accessLog) {
    const warnAccess = throttledWarn(log, 60_000);
    try {
      accessLog = new AccessLog({
        target: { path: config.accessLog.path, appUids: appUserIds(config) },
        format: config.accessLog.format,
        clientOf: (address, forwardedFor) => requestClientAddress(address, forwardedFor, trustForwarded),
        onError: (err) => warnAccess('could not write the access log; lines lost', { logFile: config.accessLog?.path, code: err.code, err: err.message }),
        onDropped: (lines) => warnAccess('the access log could not keep up; lines dropped', { logFile: config.accessLog?.path, lines }),
      });
    } catch (err) {
      log.error('could not open the access log; not starting', { logFile: config.accessLog.path, err });
      failStartup({ type: 'startup-failed', error: err instanceof UnsafeFileError ? err.toPayload() : { code: 'FERRY_ERR_FILE_UNWRITABLE', message: `cannot open access log ${config.accessLog.path}: ${(err as Error).message}` } });
      return;
    }
  }
  const proxyOptions = { pool, log, trustForwarded, cache, limits: config.clientLimits, faults, buffering: config.buffering, bufferDir, health, websocketIdleTimeoutMs: config.websocketIdleTimeoutMs, accessLog, compression: config.compression === true };
  const proxy = createFrontProxyServer(proxyOptions);
  const { server, tracker, handOver, closeTunnels, closeIdle, closeAll } = proxy;
  // The exposition code (and prom-client after it) is loaded on the first scrape.
  let metricsRenderer: Promise<() => Promise<string>> | undefined;
  const renderMetrics = async (): Promise<string> => {
    metricsRenderer ??= import('./metrics/exposition.js').then((m) => m.createMetricsRenderer({ pool, tracker, cache: cache?.cache }));
    return (await metricsRenderer)();
  };

  // Created after the public socket; a stop that comes earlier must not trip over them.
  let adminServer: http.Server | undefined;
  let metricsServer: http.Server | undefined;
  let shuttingDown = false;
  const shutdown = async (reason: string): Promise<void> => {
    if (shuttingDown) return;
    shuttingDown = true;
    const deadlineMs = Date.now() + Math.max(1000, config.shutdownTimeoutMs - 2000);
    if (health && health.drainTimeMs > 0) {
      // Behind a load balancer: fail the health check while still serving as usual (kept-alive
      // connections too, so the balancer opens few new ones), so that it moves traffic elsewhere
      // before this host stops accepting.
      health.state.draining = true;
      log.info('draining: the health check reports 503 while requests are still served', { reason, drainTimeMs: health.drainTimeMs });
      await new Promise((resolve) => setTimeout(resolve, health.drainTimeMs));
      // Then stop accepting (new connections are refused, which a balancer retries elsewhere, POSTs
      // too), answer what still comes on open connections with `Connection: close`, and close a
      // connection only once it has been idle for a while: closing every idle one at once would
      // also cut those the balancer is writing a request into, a POST it cannot send again.
      log.info('drained: accepting no more connections; finishing the open ones', { connections: tracker.connectionsActive, inFlight: tracker.inFlight });
      await handOver(deadlineMs);
    }
    log.info('shutting down gracefully', { reason, inFlight: tracker.inFlight });
    server.close();
    closeIdle();
    // A tunnel has no end of its own to wait for: closed now, it does not hold the stop to its deadline.
    closeTunnels();
    adminServer?.close();
    metricsServer?.close();
    const poolStopped = pool.stop(deadlineMs);
    while (tracker.inFlight > 0 && Date.now() < deadlineMs) await new Promise((r) => setTimeout(r, 20));
    closeAll();
    await poolStopped;
    bufferDir.removeOwn();
    log.info('core stopped');
    process.exit(0);
  };

  // A handover to a new core (ferry restart): see WatchdogToCore.
  const handover = async (): Promise<void> => {
    if (shuttingDown) return;
    shuttingDown = true;
    const deadlineMs = Date.now() + Math.max(1000, config.shutdownTimeoutMs - 2000);
    log.info('handing over to the new core: finishing requests, leaving the app processes running', { inFlight: tracker.inFlight });
    // The admin server stays open until exit: closing it would unlink the socket path, which is
    // the new core's socket now.
    await handOver(deadlineMs);
    await pool.release(deadlineMs);
    cache?.close();
    bufferDir.removeOwn();
    log.info('core handed over and stopped');
    process.exit(0);
  };

  process.on('message', (message) => {
    if (isMessageOfType(message, 'shutdown')) void shutdown('asked by the watchdog');
    else if (isMessageOfType(message, 'handover-prepare')) {
      pool.freeze();
      spawner.pauseForHandover();
      send({ type: 'handover-prepared' });
    } else if (isMessageOfType(message, 'handover-abort')) {
      log.warn('the new core did not start; this core manages its app processes again');
      spawner.resumeAfterHandover();
      pool.thaw();
    } else if (isMessageOfType(message, 'handover-finish')) void handover();
    else if (isMessageOfType(message, 'reopen-logs')) {
      try {
        reopenLog('watchdog');
      } catch {
        // Logged; the watchdog's SIGUSR1 has nobody to answer.
      }
    }
  });
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('disconnect', () => {
    // The watchdog is gone: nobody will clean up after us, so take every app process down now.
    log.error('watchdog connection lost; stopping every app process and removing the instance directory', seedFields);
    for (const record of readWorkerRecords(instance.dir)) signalQuietly(-record.pgid, 'SIGKILL');
    // The watchdog would have removed it; left behind, the tools would find a stale instance.
    fs.rmSync(instance.dir, { recursive: true, force: true });
    process.exit(2);
  });

  if (fd === undefined) {
    send({ type: 'startup-failed', error: { code: 'FERRY_ERR_CORE_START_FAILED', message: 'no listening socket was passed to the core (LISTEN_FDS)' } });
    process.exit(1);
  }
  // Direct mode: the app processes accept on the socket; the core must not take connections from them.
  if (!config.direct) {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ fd, backlog: 2048 }, () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
  }

  // A core restarted after a crash has clients waiting in the backlog: the takeover of the app
  // processes comes first; the admin API and the metrics endpoint, loaded only now, are set up
  // while it waits for their sockets to answer (and at a first start while the apps spawn).
  const poolStarted = pool.start().then(
    () => ({ ok: true as const }),
    (err: unknown) => ({ ok: false as const, err }),
  );
  const { createAdminServer } = await import('./admin-api/server.js');
  adminServer = createAdminServer({
    pool,
    tracker,
    cache: cache?.cache,
    config,
    log: log.child({ component: 'admin-api' }),
    instanceName: instance.name,
    addresses: [describeListenAddress(config.listen)],
    startedAtMs: Date.now(),
    tokens: instance.readAdminTokens(),
    renderMetrics,
    reopenLogs: () => {
      reopenLog('admin-api');
      send({ type: 'reopen-logs' });
    },
    logLevelChanged: (level) => send({ type: 'log-level', level }),
  });
  await listenAdminSocket(adminServer, instance.adminSocketPath);
  if (config.metricsListen) {
    const server = (await import('./metrics/metrics-server.js')).createMetricsServer(renderMetrics, log.child({ component: 'metrics' }));
    metricsServer = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ fd: METRICS_FD }, () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
  }

  const started = await poolStarted;
  if (!started.ok) {
    send({ type: 'startup-failed', error: toErrorPayload(started.err) });
    await pool.stop(Date.now(), true);
    process.exit(1);
  }
  log.info(config.direct ? 'serving in direct mode: the app processes accept connections themselves' : 'serving', {
    address: describeListenAddress(config.listen),
    apps: config.apps.map((a) => a.name),
    ...seedFields,
  });
  if (health) health.state.serving = true;
  send({ type: 'ready' });
  // Armed only now: start-up (and so `ferry start`) fails only for real reasons.
  faults?.arm();
}

main().catch((err: unknown) => {
  send({ type: 'startup-failed', error: toErrorPayload(err) });
  const seed = faultsSeed === undefined ? '' : ` (FERRY_FAULTS_SEED=${faultsSeed})`;
  process.stderr.write(`ferry core${seed}: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
