// Ferry under load and injected faults (spawn, upstream-connect, accept, fs-write at once): the
// core never dies, every request gets an answer (a 5xx that fails carries its request id), and a
// run with the same seed and the same sequence of requests fails the same requests.
//
// FERRY_SOAK_SECONDS sets the soak's length (default 20); FERRY_FAULTS_SEED in the environment
// replays a soak with that seed (the seed of each run is printed with its numbers).

import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { FAULT_POINTS } from '../../src/core/faults.js';
import { isProcessRunning } from '../../src/lib/process-groups.js';
import { daemonLogLines, fixture, liveInstances, removeScratch, startDaemon, stopCleanly, tempDir, type TestInstance } from '../helpers/ferry.js';

const FAULTS = 'spawn=0.2,upstream-connect=0.05,accept=0.01,fs-write=0.05';
const SOAK_SECONDS = Number(process.env.FERRY_SOAK_SECONDS ?? 20);
/** A request without an answer by then is a hang, and fails the test. */
const CLIENT_TIMEOUT_MS = 30_000;

const instances: TestInstance[] = [];
const roots: string[] = [];

afterEach(() => {
  for (const instance of instances.splice(0)) instance.forceCleanup();
  for (const root of roots.splice(0)) {
    removeScratch(root);
  }
});

async function startWithFaults(args: string[], env: Record<string, string>): Promise<TestInstance> {
  const root = tempDir('ferry-soak-');
  roots.push(root);
  const instance = await startDaemon(fixture('pid-app'), ['--environment', 'production', ...args], root, { env: { FERRY_FAULTS: FAULTS, ...env } });
  instances.push(instance);
  return instance;
}


/** The points of the injected faults, in the order they fired. */
function faultSequence(inst: TestInstance): string[] {
  return daemonLogLines(inst).flatMap((l) => (typeof l.fault === 'string' ? [l.fault] : []));
}

function countBy(items: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[item] = (counts[item] ?? 0) + 1;
  return counts;
}

/** The core is the one that started, it is alive, and the watchdog never had to restart it. */
function expectSameCore(inst: TestInstance, corePid: number): void {
  expect(isProcessRunning(corePid)).toBe(true);
  expect(liveInstances(inst.registryDir).find((i) => i.name === inst.info.name)?.properties.core_pid).toBe(corePid);
  expect(daemonLogLines(inst).filter((l) => l.component === 'watchdog' && /crash/i.test(l.msg))).toEqual([]);
}

describe('under load with injected faults', () => {
  it(`keeps the core up for ${SOAK_SECONDS} s and answers every request, failures with a 5xx and a request id`, async () => {
    const seed = process.env.FERRY_FAULTS_SEED;
    const inst = await startWithFaults(['--min-instances', '2', '--max-pool-size', '4'], seed ? { FERRY_FAULTS_SEED: seed } : {});
    const corePid = inst.info.properties.core_pid as number;

    // 8 clients, each alternating a kept-alive connection and a fresh one (so the accept point is
    // consulted often), a GET and a POST whose echo is checked.
    const agent = new Agent({ connections: 8, headersTimeout: CLIENT_TIMEOUT_MS, bodyTimeout: CLIENT_TIMEOUT_MS });
    const outcomes: string[] = [];
    const badAnswers: string[] = [];
    const deadline = Date.now() + SOAK_SECONDS * 1000;
    await Promise.all(
      Array.from({ length: 8 }, async (_, client) => {
        for (let i = 0; Date.now() < deadline; i++) {
          const post = i % 2 === 0;
          const sent = `c${client}-${i}`;
          try {
            const res = await request(`${inst.url}${post ? '/echo' : '/pid'}`, { dispatcher: agent, method: post ? 'POST' : 'GET', body: post ? sent : undefined, reset: i % 4 < 2 });
            const body = await res.body.text();
            // Failures are told apart by their reason (the line after the status), for the summary.
            outcomes.push(res.statusCode === 200 ? '200' : `${res.statusCode} ${(body.split('\n')[2] ?? '').replace(/[(.].*$/, '').trim()}`);
            const id = res.headers['x-request-id'];
            if (res.statusCode === 200 && post && body !== sent) badAnswers.push(`echo of ${sent} was ${body.slice(0, 40)}`);
            if (res.statusCode !== 200 && (res.statusCode < 500 || typeof id !== 'string' || !body.includes(`Request id: ${id}`))) {
              badAnswers.push(`${res.statusCode} without its request id: ${body.slice(0, 80)}`);
            }
          } catch (err) {
            // A hang (client timeout), a reset or a broken answer: every request must get a whole answer.
            outcomes.push(`error ${(err as { code?: string }).code ?? String(err)}`);
          }
        }
      }),
    );
    await agent.close();

    const faults = countBy(faultSequence(inst));
    const seedUsed = daemonLogLines(inst).find((l) => l.msg.startsWith('fault injection is on'))?.faultsSeed;
    const summary = { seconds: SOAK_SECONDS, seed: seedUsed, requests: outcomes.length, outcomes: countBy(outcomes), faults };
    console.log(`fault soak: ${JSON.stringify(summary)}`);

    expect(badAnswers.slice(0, 5), JSON.stringify(summary)).toEqual([]);
    expect(outcomes.filter((o) => o.startsWith('error')), JSON.stringify(summary)).toEqual([]);
    // The app kept serving between faults. (The share of 503s says little: these clients do not
    // wait for Retry-After, so a backoff after a failed spawn answers them as fast as they ask.)
    expect(outcomes.filter((o) => o === '200').length).toBeGreaterThan(100);
    // The faults were really there (upstream-connect alone fires on 5% of the requests).
    expect(faults['upstream-connect']).toBeGreaterThan(0);
    expect(Object.keys(faults).every((point) => (FAULT_POINTS as readonly string[]).includes(point))).toBe(true);
    expectSameCore(inst, corePid);
    await stopCleanly(inst);
  }, (SOAK_SECONDS + 60) * 1000);

  it('fails the same requests with the same statuses in two runs with the same seed', async () => {
    // One client, one request at a time, each on a connection of its own, 300 in all, against
    // one process. The client honours Retry-After (and a little more), as a polite client does:
    // then each spawn the backoff timer starts is decided before the next request arrives, and the
    // sequence of operations at every point is the same in both runs.
    const run = async (): Promise<{ failed: string[]; faults: string[] }> => {
      const inst = await startWithFaults(['--min-instances', '1', '--max-pool-size', '1'], { FERRY_FAULTS_SEED: '42' });
      const corePid = inst.info.properties.core_pid as number;
      const failed: string[] = [];
      for (let i = 0; i < 300; i++) {
        const res = await getOnNewConnection(inst.port, '/pid');
        if (res.status !== 200) {
          failed.push(`${i}:${res.status}`);
          expect(res.status).toBeGreaterThanOrEqual(500);
          expect(res.body).toContain(`Request id: ${res.requestId}`);
        }
        if (res.retryAfterS !== undefined) await new Promise((resolve) => setTimeout(resolve, res.retryAfterS! * 1000 + 500));
      }
      expectSameCore(inst, corePid);
      await stopCleanly(inst);
      return { failed, faults: faultSequence(inst) };
    };

    const first = await run();
    const second = await run();

    // Every point fired (so each took part), and some requests failed: the comparison means something.
    expect(Object.keys(countBy(first.faults)).sort()).toEqual([...FAULT_POINTS].sort());
    expect(first.failed.length).toBeGreaterThan(0);
    expect(second.faults).toEqual(first.faults);
    expect(second.failed).toEqual(first.failed);
  }, 240_000);
});

/** GET on a fresh connection (closed after the answer), so each request consults the accept point once. */
function getOnNewConnection(port: number, urlPath: string): Promise<{ status: number; body: string; requestId?: string; retryAfterS?: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, agent: false, headers: { Connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        const retryAfter = res.headers['retry-after'];
        const requestId = res.headers['x-request-id'];
        resolve({
          status: res.statusCode ?? 0,
          body,
          ...(typeof requestId === 'string' ? { requestId } : {}),
          ...(retryAfter !== undefined ? { retryAfterS: Number(retryAfter) } : {}),
        });
      });
      res.on('error', reject);
    });
    req.setTimeout(CLIENT_TIMEOUT_MS, () => req.destroy(new Error(`no answer to GET ${urlPath} within ${CLIENT_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
}
