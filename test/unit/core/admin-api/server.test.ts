import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createAdminServer, type AdminContext } from '../../../../src/core/admin-api/server.js';
import { Logger } from '../../../../src/core/log.js';
import { Pool } from '../../../../src/core/pool/pool.js';
import { createMetricsRenderer } from '../../../../src/core/metrics/exposition.js';
import { RequestTracker } from '../../../../src/core/proxy/request-tracker.js';
import { FakeSpawner } from '../../../../src/core/spawn/fake-spawner.js';
import { MAX_ADMIN_BODY_BYTES, routePath, type ConfigResponse, type ErrorBody, type PoolResponse, type ServerResponse } from '../../../../src/lib/admin-api-contract.js';
import type { FerryConfig } from '../../../../src/lib/config.js';
import { TEST_APP, TEST_BUFFERING, TEST_CLIENT_LIMITS, TEST_TURBOCACHE } from '../../../helpers/app-config.js';

const TOKENS = { readOnly: 'read-only-token-abc', full: 'full-admin-token-xyz' };

function newConfig(): FerryConfig {
  return {
    listen: { kind: 'tcp', address: '127.0.0.1', port: 3000 },
    maxPoolSize: 4,
    logLevel: 'info',
    shutdownTimeoutMs: 5_000,
    apps: [{ ...TEST_APP }],
    turbocache: TEST_TURBOCACHE,
    clientLimits: TEST_CLIENT_LIMITS,
    buffering: TEST_BUFFERING,
    websocketIdleTimeoutMs: 60_000,
  };
}

interface Harness {
  ctx: AdminContext;
  spawner: FakeSpawner;
  lines: string[];
  socketPath: string;
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: unknown;
}

let dir: string;
let servers: http.Server[];
let pools: { pool: Pool; spawner: FakeSpawner }[];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-admin-unit-'));
  servers = [];
  pools = [];
});

afterEach(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  // Fake processes obey a stop at once; stopping the pool clears every drain and respawn timer.
  for (const { pool, spawner } of pools) {
    const stopped = pool.stop(0);
    spawner.exitAll();
    await stopped;
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

/** An admin server over a started pool of one fake process, listening on a socket in `dir`. */
async function startAdmin(): Promise<Harness> {
  const lines: string[] = [];
  const log = new Logger({ level: 'info', format: 'json', sink: { write: (line) => lines.push(line) } });
  const config = newConfig();
  const spawner = new FakeSpawner();
  const pool = new Pool(config, spawner, log);
  pools.push({ pool, spawner });
  await pool.start();
  const tracker = new RequestTracker();
  const ctx: AdminContext = {
    pool,
    tracker,
    renderMetrics: createMetricsRenderer({ pool, tracker }),
    config,
    log: log.child({ component: 'admin-api' }),
    instanceName: 'unit',
    addresses: ['http://127.0.0.1:3000/'],
    startedAtMs: Date.now(),
    tokens: TOKENS,
    reopenLogs: vi.fn(),
    logLevelChanged: vi.fn(),
  };
  const server = createAdminServer(ctx);
  servers.push(server);
  const socketPath = path.join(dir, `admin.${servers.length}.sock`);
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return { ctx, spawner, lines, socketPath };
}

/** One HTTP request over the unix socket; `token` becomes a Bearer header. */
interface CallOptions {
  token?: string;
  body?: string | Buffer;
  headers?: http.OutgoingHttpHeaders;
  /** Send the body in 16 KiB chunks with chunked encoding instead of a Content-Length. */
  chunked?: boolean;
  /** A keep-alive agent to reuse connections; a fresh connection per call by default. */
  agent?: http.Agent;
}

function call(h: Harness, method: string, urlPath: string, opts: CallOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = { ...opts.headers };
    if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
    if (opts.body !== undefined && !opts.chunked) headers['content-length'] = Buffer.byteLength(opts.body);
    const req = http.request({ socketPath: h.socketPath, method, path: urlPath, headers, agent: opts.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.chunked && opts.body !== undefined) {
      const body = Buffer.from(opts.body);
      for (let at = 0; at < body.length; at += 16 * 1024) req.write(body.subarray(at, at + 16 * 1024));
      req.end();
    } else {
      req.end(opts.body);
    }
  });
}

function errorOf(answer: Answer): ErrorBody['error'] {
  return (answer.json as ErrorBody).error;
}

function logged(h: Harness): Record<string, unknown>[] {
  return h.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('admin API authentication', () => {
  it('answers 401 with a Bearer challenge when no token is given', async () => {
    const h = await startAdmin();
    const answer = await call(h, 'GET', '/v1/pool');
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toBe('Bearer realm="ferry"');
    expect(answer.headers['content-type']).toBe('application/json');
    expect(errorOf(answer)).toEqual({ code: 'FERRY_ERR_ADMIN_UNAUTHORIZED', message: 'an admin token is required' });
  });

  it('answers 401 to a wrong token, and logs the refusal without the token', async () => {
    const h = await startAdmin();
    const answer = await call(h, 'GET', '/v1/pool', { token: 'not-the-token' });
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toBe('Bearer realm="ferry"');
    expect(errorOf(answer).code).toBe('FERRY_ERR_ADMIN_UNAUTHORIZED');
    expect(logged(h).some((r) => r.msg === 'admin API call refused: no valid token' && r.route === 'pool')).toBe(true);
    expect(h.lines.join('')).not.toContain('not-the-token');
  });

  it('refuses a token that only starts like the right one', async () => {
    const h = await startAdmin();
    expect((await call(h, 'GET', '/v1/pool', { token: TOKENS.full.slice(0, -1) })).status).toBe(401);
    expect((await call(h, 'GET', '/v1/pool', { token: `${TOKENS.full}x` })).status).toBe(401);
  });

  it('refuses a token sent with another scheme than Bearer', async () => {
    const h = await startAdmin();
    const answer = await call(h, 'GET', '/v1/pool', { headers: { authorization: `Basic ${TOKENS.full}` } });
    expect(answer.status).toBe(401);
  });

  it('lets the read-only token read the pool', async () => {
    const h = await startAdmin();
    const answer = await call(h, 'GET', '/v1/pool', { token: TOKENS.readOnly });
    expect(answer.status).toBe(200);
    expect(answer.headers['cache-control']).toBe('no-store');
    const pool = answer.json as PoolResponse;
    expect(pool).toMatchObject({ maxPoolSize: 4, processCount: 1, waiting: 0 });
    expect(pool.groups).toHaveLength(1);
    expect(pool.groups[0]).toMatchObject({ name: 'hello', root: '/srv/hello', state: 'running', generation: 0, minInstances: 1, waiting: 0, spawning: 0 });
    expect(pool.groups[0]?.processes).toEqual([
      expect.objectContaining({ pid: h.spawner.livePids[0], state: 'ready', sessions: 0, processed: 0, generation: 0 }),
    ]);
  });

  it('lets the full token read too', async () => {
    const h = await startAdmin();
    expect((await call(h, 'GET', '/v1/pool', { token: TOKENS.full })).status).toBe(200);
  });

  it('forbids the read-only token to restart an app, and restarts nothing', async () => {
    const h = await startAdmin();
    const before = h.spawner.spawnCalls;
    const answer = await call(h, 'POST', routePath('restartApp', { name: 'hello' }), { token: TOKENS.readOnly });
    expect(answer.status).toBe(403);
    expect(errorOf(answer).code).toBe('FERRY_ERR_ADMIN_FORBIDDEN');
    expect(h.spawner.spawnCalls).toBe(before);
  });

  it('forbids the read-only token every route that changes something', async () => {
    const h = await startAdmin();
    for (const [method, urlPath] of [
      ['PATCH', '/v1/config'],
      ['POST', '/v1/processes/1/detach'],
      ['POST', '/v1/logs/reopen'],
    ] as const) {
      const answer = await call(h, method, urlPath, { token: TOKENS.readOnly, body: '{}' });
      expect({ urlPath, status: answer.status }).toEqual({ urlPath, status: 403 });
    }
    expect(h.ctx.reopenLogs).not.toHaveBeenCalled();
  });
});

describe('admin API routes', () => {
  it('serves the Prometheus text format on /v1/metrics to the read-only token', async () => {
    const h = await startAdmin();
    const answer = await call(h, 'GET', '/v1/metrics', { token: TOKENS.readOnly });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(answer.text).toContain('# TYPE ferry_processes gauge');
    expect(answer.text).toMatch(/^ferry_processes\{app="[^"]+",state="ready"\} 1$/m);
    expect((await call(h, 'GET', '/v1/metrics')).status).toBe(401);
  });


  it('answers ping with the instance name and the core pid', async () => {
    const h = await startAdmin();
    const answer = await call(h, 'GET', '/v1/ping', { token: TOKENS.readOnly });
    expect(answer.json).toMatchObject({ status: 'ok', instance: 'unit', corePid: process.pid });
  });

  it('shows the request tracker counters on /v1/server', async () => {
    const h = await startAdmin();
    h.ctx.tracker.connectionsAccepted = 7;
    h.ctx.tracker.connectionsActive = 2;
    h.ctx.tracker.begin('r1', 'GET', '/', 'hello');
    h.ctx.tracker.begin('ws', 'GET', '/ws', 'hello').state = 'tunnel';
    h.ctx.tracker.countStatus(502);
    const server = (await call(h, 'GET', '/v1/server', { token: TOKENS.readOnly })).json as ServerResponse;
    expect(server).toMatchObject({
      instance: 'unit',
      corePid: process.pid,
      addresses: ['http://127.0.0.1:3000/'],
      connections: { active: 2, accepted: 7, tunnels: 1 },
      requests: { inFlight: 2, total: 2, failed: { '502': 1, '503': 0, '504': 0 } },
    });
  });

  it('lists the requests in flight on /v1/requests', async () => {
    const h = await startAdmin();
    h.ctx.tracker.begin('r1', 'GET', '/slow', 'hello');
    const answer = await call(h, 'GET', '/v1/requests', { token: TOKENS.readOnly });
    expect(answer.json).toEqual({ requests: [expect.objectContaining({ id: 'r1', method: 'GET', path: '/slow', app: 'hello', pid: null, state: 'queued' })] });
  });

  it('restarts a known app with the full token', async () => {
    const h = await startAdmin();
    const old = h.spawner.livePids;
    const answer = await call(h, 'POST', routePath('restartApp', { name: 'hello' }), { token: TOKENS.full, body: JSON.stringify({ rolling: false }) });
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ app: 'hello', rolling: false, generation: 1, replacing: old });
  });

  it('answers 404 with the known apps when the app to restart is unknown', async () => {
    const h = await startAdmin();
    const answer = await call(h, 'POST', routePath('restartApp', { name: 'nope' }), { token: TOKENS.full });
    expect(answer.status).toBe(404);
    expect(errorOf(answer)).toEqual({
      code: 'FERRY_ERR_APP_UNKNOWN',
      message: "no app named 'nope' in this instance",
      details: { known: [{ name: 'hello', root: '/srv/hello' }] },
    });
  });

  it('detaches a serving process with the full token', async () => {
    const h = await startAdmin();
    const pid = h.spawner.livePids[0] as number;
    const answer = await call(h, 'POST', routePath('detachProcess', { pid }), { token: TOKENS.full });
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ pid, app: 'hello', detached: true });
  });

  it('answers 404 with the serving pids when the pid to detach is unknown', async () => {
    const h = await startAdmin();
    const answer = await call(h, 'POST', routePath('detachProcess', { pid: 999_999_999 }), { token: TOKENS.full });
    expect(answer.status).toBe(404);
    expect(errorOf(answer).code).toBe('FERRY_ERR_PROCESS_UNKNOWN');
    expect(errorOf(answer).details).toEqual({ known: h.spawner.livePids });
  });

  it('answers 400 to a pid that is not a positive decimal number', async () => {
    const h = await startAdmin();
    for (const pid of ['abc', '12abc', '-5', '0', '1e3', '0x10', '1.5']) {
      const answer = await call(h, 'POST', `/v1/processes/${pid}/detach`, { token: TOKENS.full });
      expect({ pid, status: answer.status, code: errorOf(answer).code }).toEqual({ pid, status: 400, code: 'FERRY_ERR_ADMIN_BAD_REQUEST' });
    }
  });

  it('answers 400 to a path parameter that is not valid percent-encoding', async () => {
    const h = await startAdmin();
    const answer = await call(h, 'POST', '/v1/apps/%E0%A4%A/restart', { token: TOKENS.full });
    expect(answer.status).toBe(400);
    expect(errorOf(answer).code).toBe('FERRY_ERR_ADMIN_BAD_REQUEST');
  });

  it('answers 404 to an unknown route, even without a token', async () => {
    const h = await startAdmin();
    const answer = await call(h, 'GET', '/v1/nothing-here', { token: TOKENS.full });
    expect(answer.status).toBe(404);
    expect(errorOf(answer).code).toBe('FERRY_ERR_ADMIN_NOT_FOUND');
    expect((await call(h, 'GET', '/v1/nothing-here')).status).toBe(404);
  });

  it('answers 405 with an Allow header to a known path called with the wrong method', async () => {
    const h = await startAdmin();
    const answer = await call(h, 'DELETE', '/v1/pool', { token: TOKENS.full });
    expect(answer.status).toBe(405);
    expect(answer.headers.allow).toBe('GET');
    expect(errorOf(answer).code).toBe('FERRY_ERR_ADMIN_BAD_REQUEST');
    expect((await call(h, 'PUT', '/v1/config', { token: TOKENS.full })).headers.allow).toBe('GET, PATCH');
  });

  it('answers 413 to a body larger than 64 KiB and changes nothing', async () => {
    const h = await startAdmin();
    const body = JSON.stringify({ logLevel: 'debug', padding: 'x'.repeat(MAX_ADMIN_BODY_BYTES) });
    const answer = await call(h, 'PATCH', '/v1/config', { token: TOKENS.full, body, headers: { 'content-type': 'application/json' } });
    expect(answer.status).toBe(413);
    expect(errorOf(answer).code).toBe('FERRY_ERR_ADMIN_BAD_REQUEST');
    expect(h.ctx.config.logLevel).toBe('info');
  });

  it('answers 413 to a chunked body that grows past 64 KiB', async () => {
    const h = await startAdmin();
    const answer = await call(h, 'PATCH', '/v1/config', { token: TOKENS.full, body: 'x'.repeat(4 * MAX_ADMIN_BODY_BYTES), chunked: true });
    expect(answer.status).toBe(413);
    expect(errorOf(answer).message).toBe(`request body larger than ${MAX_ADMIN_BODY_BYTES} bytes`);
  });

  it('keeps the connection usable after refusing a body that was too large', async () => {
    // Given one kept-alive connection,
    const h = await startAdmin();
    const server = servers[servers.length - 1] as http.Server;
    let connections = 0;
    server.on('connection', () => connections++);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      // when a too large body is refused, both with and without a Content-Length,
      for (const chunked of [false, true]) {
        const refused = await call(h, 'PATCH', '/v1/config', { token: TOKENS.full, body: 'x'.repeat(MAX_ADMIN_BODY_BYTES + 1), chunked, agent });
        expect(refused.status).toBe(413);
      }
      // then the next call is answered on the same connection.
      expect((await call(h, 'GET', '/v1/ping', { token: TOKENS.full, agent })).status).toBe(200);
      expect(connections).toBe(1);
    } finally {
      agent.destroy();
    }
  });

  it('accepts a body of exactly 64 KiB', async () => {
    const h = await startAdmin();
    const prefix = '{"logLevel":"warn"}';
    const body = prefix + ' '.repeat(MAX_ADMIN_BODY_BYTES - prefix.length);
    const answer = await call(h, 'PATCH', '/v1/config', { token: TOKENS.full, body });
    expect(answer.status).toBe(200);
    expect((answer.json as ConfigResponse).logLevel).toBe('warn');
  });

  it('answers 400 to a body that is not JSON', async () => {
    const h = await startAdmin();
    const answer = await call(h, 'PATCH', '/v1/config', { token: TOKENS.full, body: '{logLevel: debug' });
    expect(answer.status).toBe(400);
    expect(errorOf(answer).code).toBe('FERRY_ERR_ADMIN_BAD_REQUEST');
    expect(errorOf(answer).message).toMatch(/^request body is not JSON/);
  });

  it('answers 400 to a JSON body that is not an object', async () => {
    const h = await startAdmin();
    for (const body of ['42', '"debug"', '[]', 'null']) {
      const answer = await call(h, 'PATCH', '/v1/config', { token: TOKENS.full, body });
      expect({ body, status: answer.status }).toEqual({ body, status: 400 });
    }
    const restart = await call(h, 'POST', routePath('restartApp', { name: 'hello' }), { token: TOKENS.full, body: '[true]' });
    expect(restart.status).toBe(400);
  });

  it('answers 400 to a restart whose rolling flag is not a boolean, and restarts nothing', async () => {
    const h = await startAdmin();
    const answer = await call(h, 'POST', routePath('restartApp', { name: 'hello' }), { token: TOKENS.full, body: JSON.stringify({ rolling: 'yes' }) });
    expect(answer.status).toBe(400);
    expect(h.ctx.pool.inspect().groups[0]?.generation).toBe(0);
  });

  it('changes the log level at run time with PATCH /v1/config and returns the config', async () => {
    // Given a logger at info, whose debug lines are dropped,
    const h = await startAdmin();
    const poolLog = h.ctx.log.child({ component: 'pool' });
    poolLog.debug('probe before');
    expect(logged(h).some((r) => r.msg === 'probe before')).toBe(false);

    // when the level is set to debug,
    const answer = await call(h, 'PATCH', '/v1/config', { token: TOKENS.full, body: JSON.stringify({ logLevel: 'debug' }) });

    // then the answer is the new config, and debug lines of every logger sharing it now appear.
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({
      logLevel: 'debug',
      maxPoolSize: 4,
      logFile: null,
      apps: [{ name: 'hello', root: '/srv/hello', minInstances: 1, environment: 'test', startTimeoutMs: 5_000, appType: 'node', startupFile: '/srv/hello/app.js', interpreter: 'node', user: null }],
    } satisfies ConfigResponse);
    expect(h.ctx.config.logLevel).toBe('debug');
    expect(h.ctx.logLevelChanged).toHaveBeenCalledWith('debug');
    poolLog.debug('probe after');
    expect(logged(h).filter((r) => r.msg === 'probe after')).toEqual([expect.objectContaining({ level: 20, component: 'pool' })]);
    expect((await call(h, 'GET', '/v1/config', { token: TOKENS.readOnly })).json).toMatchObject({ logLevel: 'debug' });
  });

  it('answers 400 to a PATCH of a setting that cannot change at run time', async () => {
    const h = await startAdmin();
    const answer = await call(h, 'PATCH', '/v1/config', { token: TOKENS.full, body: JSON.stringify({ logLevel: 'debug', maxPoolSize: 99 }) });
    expect(answer.status).toBe(400);
    expect(errorOf(answer)).toMatchObject({ code: 'FERRY_ERR_ADMIN_BAD_REQUEST', message: expect.stringContaining('maxPoolSize') });
    expect(h.ctx.config).toMatchObject({ logLevel: 'info', maxPoolSize: 4 });
  });

  it('answers 400 to an unknown log level', async () => {
    const h = await startAdmin();
    const answer = await call(h, 'PATCH', '/v1/config', { token: TOKENS.full, body: JSON.stringify({ logLevel: 'verbose' }) });
    expect(answer.status).toBe(400);
    expect(h.ctx.config.logLevel).toBe('info');
  });

  it('reopens the logs through the context on POST /v1/logs/reopen', async () => {
    const h = await startAdmin();
    const answer = await call(h, 'POST', '/v1/logs/reopen', { token: TOKENS.full });
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ status: 'ok', logFile: null });
    expect(h.ctx.reopenLogs).toHaveBeenCalledTimes(1);
  });

  it('answers 500 without details when a handler fails unexpectedly, and logs the error', async () => {
    const h = await startAdmin();
    h.ctx.reopenLogs = () => {
      throw new Error('disk on fire');
    };
    const answer = await call(h, 'POST', '/v1/logs/reopen', { token: TOKENS.full });
    expect(answer.status).toBe(500);
    expect(errorOf(answer)).toEqual({ code: 'FERRY_ERR_INTERNAL', message: 'internal error; see the core log' });
    expect(logged(h).some((r) => r.msg === 'admin API handler failed' && (r.err as { message: string }).message === 'disk on fire')).toBe(true);
  });
});
