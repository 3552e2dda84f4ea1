// Metrics and health checks on a real instance: Prometheus text on --metrics-address (no token)
// and on the admin API (read-only token), counts that match the requests sent, the health path
// answered by the core instead of the app, and the refusals of bad --metrics-address values.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { readWorkerRecords } from '../../src/lib/instance-registry.js';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { rawExchange } from '../helpers/raw-http.js';
import { fixture, freePort, liveInstances, runFerry, startDaemon, tempDir, type TestInstance } from '../helpers/ferry.js';

let instance: TestInstance | undefined;
const scratch: string[] = [];

afterEach(() => {
  instance?.forceCleanup();
  instance = undefined;
  for (const dir of scratch.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

async function get(url: string, init: { method?: 'GET' | 'HEAD'; headers?: Record<string, string> } = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const res = await request(url, { method: init.method ?? 'GET', headers: init.headers });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

/** The value of one sample, by its exact name and labels. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('metrics', () => {
  it('serves Prometheus text on --metrics-address and the admin API, with counts that match the traffic', async () => {
    const registryDir = tempDir('ferry-reg-');
    scratch.push(registryDir);
    const metricsPort = await freePort();
    instance = await startDaemon(fixture('pid-app'), ['--min-instances', '2', '--environment', 'production', '--metrics-address', `127.0.0.1:${metricsPort}`], registryDir);
    const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    const before = await get(metricsUrl);
    expect(before.status).toBe(200);
    expect(before.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');

    for (let i = 0; i < 7; i++) expect((await get(`${instance.url}/pid`)).status).toBe(200);
    // Refused before routing (a target that is no path): counted under app="".
    const refused = await rawExchange(instance.port, (socket) => socket.write('GET * HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(refused.received).toMatch(/^HTTP\/1\.1 400 /);
    const after = (await get(metricsUrl)).body;
    const okBefore = sample(before.body, 'ferry_requests_total{app="pid-app",status="2xx"}') ?? NaN;
    expect(sample(after, 'ferry_requests_total{app="pid-app",status="2xx"}')).toBe(okBefore + 7);
    expect(sample(after, 'ferry_requests_total{app="",status="4xx"}')).toBe((sample(before.body, 'ferry_requests_total{app="",status="4xx"}') ?? NaN) + 1);
    expect(sample(after, 'ferry_request_duration_seconds_count{app="pid-app"}')).toBe((sample(before.body, 'ferry_request_duration_seconds_count{app="pid-app"}') ?? NaN) + 7);
    expect(sample(after, 'ferry_processes{app="pid-app",state="ready"}')).toBe(2);
    expect(sample(after, 'ferry_spawns_total{app="pid-app"}')).toBe(2);
    // One memory series per live app process, labelled with its pid.
    const pids = readWorkerRecords(instance.info.dir).map((r) => r.pid);
    expect(pids).toHaveLength(2);
    for (const pid of pids) expect(sample(after, `ferry_process_resident_memory_bytes{app="pid-app",pid="${pid}"}`)).toBeGreaterThan(1_000_000);

    // Only /metrics, and never on the public port.
    expect((await get(`http://127.0.0.1:${metricsPort}/`)).status).toBe(404);

    // The admin API serves the same text to the read-only token (GET /v1/metrics).
    const token = fs.readFileSync(path.join(instance.info.dir, 'read_only_token'), 'utf8').trim();
    const admin = await new Promise<{ status: number; type: string | undefined; body: string }>((resolve, reject) => {
      const socket = net.connect(path.join(instance?.info.dir as string, 'admin.sock'));
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString('utf8')));
      socket.on('end', () => {
        const [head = '', body = ''] = text.split('\r\n\r\n');
        resolve({ status: Number(head.split(' ')[1]), type: /content-type: (.*)/i.exec(head)?.[1], body });
      });
      socket.on('error', reject);
      socket.write(`GET /v1/metrics HTTP/1.1\r\nHost: admin\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`);
    });
    expect(admin.status).toBe(200);
    expect(admin.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(admin.body).toContain('# TYPE ferry_requests_total counter');

    const stop = await instance.stop();
    expect(stop.exitCode, stop.stderr).toBe(0);
    expect(instance.survivors()).toEqual([]);
    // The metrics port closed with the instance.
    await expect(get(metricsUrl)).rejects.toThrow();
  });

  it('refuses a --metrics-address other hosts could reach, with a usage error, and starts nothing', async () => {
    const registryDir = tempDir('ferry-reg-');
    scratch.push(registryDir);
    const run = await runFerry(registryDir, ['start', fixture('pid-app'), '--daemonize', '--port', String(await freePort()), '--metrics-address', '0.0.0.0:9464']);
    expect(run.exitCode).toBe(EXIT_CODES.usage);
    expect(run.stderr).toContain("--metrics-address '0.0.0.0:9464' is not a loopback address");
    expect(liveInstances(registryDir)).toEqual([]);
  });

  it('says which flag to change when the metrics port is taken (exit 5)', async () => {
    const registryDir = tempDir('ferry-reg-');
    scratch.push(registryDir);
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as net.AddressInfo).port;
      const run = await runFerry(registryDir, ['start', fixture('pid-app'), '--daemonize', '--port', String(await freePort()), '--metrics-address', `127.0.0.1:${port}`]);
      expect(run.exitCode).toBe(EXIT_CODES.environment);
      expect(run.stderr).toContain(`127.0.0.1:${port} is already in use`);
      expect(run.stderr).toContain('--metrics-address');
      expect(liveInstances(registryDir)).toEqual([]);
    } finally {
      taken.close();
    }
  });
});

describe('health check', () => {
  it('is answered by the core, not the app, only on the configured path', async () => {
    const registryDir = tempDir('ferry-reg-');
    scratch.push(registryDir);
    instance = await startDaemon(fixture('pid-app'), ['--health-check-path', '/healthz'], registryDir);
    const health = await get(`${instance.url}/healthz`);
    expect(health.status).toBe(200);
    expect(health.headers['content-type']).toBe('application/json');
    expect(health.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(health.body)).toEqual({ status: 'ready' });
    expect((await get(`${instance.url}/healthz?from=lb`)).body).toBe('{"status":"ready"}');
    const head = await get(`${instance.url}/healthz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    // The app still gets every other path (its answer carries its pid), through the turbocache,
    // which marks every answer in development; the health answer came before it.
    const app = await get(`${instance.url}/pid`);
    expect(app.body).toMatch(/^\d+$/);
    expect(app.headers['x-ferry-cache']).toBeDefined();
    expect(health.headers['x-ferry-cache']).toBeUndefined();
    const stop = await instance.stop();
    expect(stop.exitCode, stop.stderr).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });

  it('is off by default: the app answers the path itself', async () => {
    const registryDir = tempDir('ferry-reg-');
    scratch.push(registryDir);
    instance = await startDaemon(fixture('pid-app'), [], registryDir);
    const res = await get(`${instance.url}/healthz`);
    expect(res.body).not.toContain('"status"');
    const stop = await instance.stop();
    expect(stop.exitCode, stop.stderr).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });
});
