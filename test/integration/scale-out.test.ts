// Scale-out: three Ferry instances on loopback ports behind a real nginx upstream, as on three
// hosts behind a load balancer. A deploy restarts them one at a time (ferry stop, then ferry
// start) under continuous load, half GETs and half POSTs; no client request may fail, and every
// instance serves before and after. Each stop drains first: its health check says 503 while it
// still serves. (nginx retries a GET elsewhere whatever happens; a POST it has sent, never.)

import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { fixture, freePort, startDaemon, tempDir, waitFor, type TestInstance } from '../helpers/ferry.js';
import { Nginx, NGINX_BIN } from '../helpers/nginx.js';

const NODES = ['node-a', 'node-b', 'node-c'];
/** Clients sending requests, for the whole test. */
const CONCURRENCY = 20;
/**
 * Each client's pause between requests: load enough to keep every instance busy (a few hundred
 * requests a second), while leaving CPU for the ferry stop/start CLIs on a shared 2-core machine.
 */
const PAUSE_MS = 50;

let nginx: Nginx | undefined;
const instances: TestInstance[] = [];
let registryDir: string | undefined;
let nginxDir: string | undefined;

afterEach(async () => {
  await nginx?.stop();
  nginx = undefined;
  for (const instance of instances.splice(0)) instance.forceCleanup();
  for (const dir of [registryDir, nginxDir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
  registryDir = undefined;
  nginxDir = undefined;
});

/** What the load saw: answers by the node that gave them, per phase, and every failure. */
class Load {
  phase = 'before';
  ok = 0;
  private sent = 0;
  readonly failures: string[] = [];
  readonly servedBy = new Map<string, Set<string>>();
  private running = true;
  private readonly agent = new Agent({ connections: CONCURRENCY, keepAliveTimeout: 4_000 });
  private readonly loops: Promise<void>[];

  constructor(private readonly url: string) {
    this.loops = Array.from({ length: CONCURRENCY }, () => this.loop());
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const phase = this.phase;
      try {
        // Every other request is a POST, which nginx does not send again once it reached a server:
        // only a clean drain keeps those from failing, not nginx's retries.
        const post = this.sent++ % 2 === 1;
        const res = await request(`${this.url}/`, {
          dispatcher: this.agent,
          method: post ? 'POST' : 'GET',
          ...(post ? { body: 'order=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } } : {}),
          headersTimeout: 15_000,
          bodyTimeout: 15_000,
        });
        const body = await res.body.text();
        if (res.statusCode !== 200) {
          this.failures.push(`${phase}: HTTP ${res.statusCode} ${body.slice(0, 120)}`);
          continue;
        }
        const node = (JSON.parse(body) as { GREETING?: string }).GREETING ?? '?';
        this.ok++;
        let set = this.servedBy.get(phase);
        if (!set) this.servedBy.set(phase, (set = new Set()));
        set.add(node);
      } catch (err) {
        this.failures.push(`${phase}: ${(err as { code?: string }).code ?? ''} ${(err as Error).message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    await this.agent.close();
  }
}

async function health(port: number): Promise<{ status: number; body: string }> {
  const res = await request(`http://127.0.0.1:${port}/healthz`, { headersTimeout: 5_000 });
  return { status: res.statusCode, body: await res.body.text() };
}

describe('scale-out behind nginx', () => {
  it.skipIf(!NGINX_BIN && !process.env.CI)('restarts three instances one at a time under load without a failed request', async () => {
    registryDir = tempDir('ferry-reg-');
    const args = (node: string, metricsPort: number): string[] => [
      '--environment',
      'production',
      '--envvar',
      `GREETING=${node}`,
      '--health-check-path',
      '/healthz',
      '--health-drain-time',
      '3',
      '--metrics-address',
      `127.0.0.1:${metricsPort}`,
    ];
    const metricsPorts = await Promise.all(NODES.map(() => freePort()));
    const started = await Promise.all(NODES.map((node, i) => startDaemon(fixture('env-app'), args(node, metricsPorts[i] as number), registryDir)));
    instances.push(...started);

    // The nginx recipe of the README: retry on connection errors, timeouts and 503, keep upstream
    // connections alive, and try a failed server again after a second.
    nginxDir = tempDir('ferry-nginx-');
    nginx = new Nginx(nginxDir, await freePort(), {
      servers: started.map((s) => `127.0.0.1:${s.port} max_fails=1 fail_timeout=1s`),
      locationExtra: '      proxy_next_upstream error timeout http_503;\n      proxy_next_upstream_tries 3;\n      proxy_connect_timeout 2s;',
    });
    await nginx.start();
    for (const s of started) expect(await health(s.port)).toEqual({ status: 200, body: '{"status":"ready"}' });

    const load = new Load(nginx.url);
    try {
      await waitFor(() => load.servedBy.get('before')?.size === NODES.length, 'every node to serve before the deploy', 60_000);

      // The deploy: each node in turn stops (draining first) and starts again on its port.
      for (const [i, node] of NODES.entries()) {
        load.phase = `restart ${node}`;
        const old = instances[i] as TestInstance;
        const stopping = old.stop();
        // While it drains, its health check fails and it still serves. (ferry stop is a CLI start
        // away; on a loaded machine that alone takes seconds, hence the generous deadlines.)
        const draining = await waitFor(async () => {
          const h = await health(old.port);
          return h.status === 503 ? h : undefined;
        }, `${node} to report draining`, 60_000, 20);
        expect(JSON.parse(draining.body)).toEqual({ status: 'draining' });
        const stopped = await stopping;
        expect(stopped.exitCode, stopped.stderr).toBe(0);
        expect(old.survivors()).toEqual([]);
        const again = await startDaemon(fixture('env-app'), args(node, metricsPorts[i] as number), registryDir, { port: old.port });
        instances[i] = again;
        expect((await health(again.port)).status).toBe(200);
      }

      load.phase = 'after';
      await waitFor(() => load.servedBy.get('after')?.size === NODES.length, 'every node to serve after the deploy', 60_000);
    } finally {
      await load.stop();
    }
    expect(load.failures, nginx.errorLog().slice(-2000)).toEqual([]);
    expect(load.ok).toBeGreaterThan(100);

    // Each node's metrics, as Prometheus would scrape them: the restarted core counted its requests.
    for (const [i, port] of metricsPorts.entries()) {
      const res = await request(`http://127.0.0.1:${port}/metrics`);
      const text = await res.body.text();
      expect(res.statusCode).toBe(200);
      const served = Number(/^ferry_requests_total\{app="env-app",status="2xx"\} (\d+)$/m.exec(text)?.[1]);
      expect(served, `${NODES[i]} metrics`).toBeGreaterThan(0);
    }

    await nginx.stop();
    expect(nginx.survivors()).toEqual([]);
    for (const instance of instances) {
      const stop = await instance.stop();
      expect(stop.exitCode, stop.stderr).toBe(0);
      expect(instance.survivors()).toEqual([]);
    }
    console.log(`scale-out: ${load.ok} requests, 0 failed; served by ${[...load.servedBy].map(([phase, nodes]) => `${phase}: ${[...nodes].join(',')}`).join('; ')}`);
  }, 300_000);
});
