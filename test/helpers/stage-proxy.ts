// The stage proxy in the test process, for test/unit/core/proxy/stages: a real Pool and AppGroup
// over the FakeSpawner, whose processes "listen" on an in-process app's unix socket, a
// StageContext with test defaults, and the front harness in front of it wired as
// createFrontProxyServer wires it. One StageProxies per test file; stopAll() in afterEach.

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Logger } from '../../src/core/log.js';
import { Pool } from '../../src/core/pool/pool.js';
import { RequestTracker } from '../../src/core/proxy/request-tracker.js';
import type { StageContext } from '../../src/core/proxy/stages/context.js';
import { acceptFault, countRefusal, stageHandler } from '../../src/core/proxy/stages/front-proxy.js';
import { FakeSpawner } from '../../src/core/spawn/fake-spawner.js';
import { DEFAULT_LIMITS, type AppConfig, type FerryConfig, type PoolLimits } from '../../src/lib/config.js';
import { TEST_APP, TEST_BUFFERING, TEST_CLIENT_LIMITS, TEST_TURBOCACHE } from './app-config.js';
import { closeClients, closeFronts, startFront, type Front, type StartOptions } from './front-harness.js';

export interface StageProxySetup {
  /** The app's settings over TEST_APP (its limits over DEFAULT_LIMITS). */
  app?: Partial<Omit<AppConfig, 'limits'>> & { limits?: Partial<PoolLimits> };
  /** The rest of the configuration over the test one (maxPoolSize 4, websocketIdleTimeoutMs 60 s). */
  config?: Partial<FerryConfig>;
  /** Context fields to set or replace (cache, health, buffering, statics, ...), given the pool and log. */
  context?: (pool: Pool, log: Logger) => Partial<StageContext>;
  /** The front's options (unix, handoverIdleCloseMs, ...). */
  front?: Omit<StartOptions, 'onRefused' | 'onConnection'>;
  /** Where the core's log lines go; dropped otherwise. */
  logLines?: string[];
}

export interface StageProxy {
  front: Front;
  /** The front's port on 127.0.0.1 (not for a unix front). */
  port: number;
  url: string;
  ctx: StageContext;
  pool: Pool;
}

export class StageProxies {
  readonly spawner = new FakeSpawner();
  private readonly pools: Pool[] = [];

  /** `socketPath`: the in-process app's socket, where every fake process "listens". */
  constructor(private readonly socketPath: () => string) {
    this.resetAddress();
  }

  /** Back to every process on the app's socket (a test may point the spawner elsewhere). */
  resetAddress(): void {
    this.spawner.addressFor = () => ({ socketPath: this.socketPath() });
  }

  async start(setup: StageProxySetup = {}): Promise<StageProxy> {
    const { limits, ...app } = setup.app ?? {};
    const config: FerryConfig = {
      listen: { kind: 'tcp', address: '127.0.0.1', port: 0 },
      maxPoolSize: 4,
      logLevel: 'info',
      shutdownTimeoutMs: 1000,
      apps: [{ ...TEST_APP, name: 'hello', ...app, limits: { ...DEFAULT_LIMITS, ...limits } }],
      turbocache: TEST_TURBOCACHE,
      clientLimits: TEST_CLIENT_LIMITS,
      buffering: TEST_BUFFERING,
      websocketIdleTimeoutMs: 60_000,
      ...setup.config,
    };
    const lines = setup.logLines;
    const log = new Logger({ level: 'info', format: 'json', sink: { write: (line) => void lines?.push(line) } });
    const pool = new Pool(config, this.spawner, log);
    this.pools.push(pool);
    await pool.start();
    const ctx: StageContext = {
      pool,
      log,
      tracker: new RequestTracker(),
      trustForwarded: false,
      cache: undefined,
      health: undefined,
      maxBodyBytes: 0,
      statics: undefined,
      websocketIdleTimeoutMs: config.websocketIdleTimeoutMs,
      tunnels: new Set(),
      ...setup.context?.(pool, log),
    };
    const front = await startFront(stageHandler(ctx), {
      ...setup.front,
      onRefused: (status, exchange, refusal) => countRefusal(ctx, status, exchange, refusal),
      onConnection: acceptFault(ctx),
    });
    const port = typeof front.to === 'number' ? front.to : 0;
    return { front, port, url: `http://127.0.0.1:${port}`, ctx, pool };
  }

  /** Closes the clients, the fronts and the pools (their fake processes exit), and resets the spawner's address. */
  async stopAll(): Promise<void> {
    closeClients();
    await closeFronts();
    for (const pool of this.pools.splice(0)) {
      const stopped = pool.stop(Date.now() + 500);
      this.spawner.exitAll();
      await stopped;
    }
    this.resetAddress();
  }
}

/** The in-process app goes, with its temp dir (afterAll). */
/** An in-process app for the stage proxy to forward to: `handler` on a unix socket in a temp dir of its own. */
export interface AppServer {
  app: http.Server;
  dir: string;
  socket: string;
}

export async function listenAppServer(prefix: string, handler: http.RequestListener): Promise<AppServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const socket = path.join(dir, 'app.sock');
  const app = http.createServer(handler);
  await new Promise<void>((resolve) => app.listen(socket, resolve));
  return { app, dir, socket };
}

export async function stopAppServer(app: http.Server, dir: string): Promise<void> {
  app.closeAllConnections();
  await new Promise((resolve) => app.close(resolve));
  fs.rmSync(dir, { recursive: true, force: true });
}
