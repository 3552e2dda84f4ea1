// ferry status --watch in a real terminal (a pty): the loop against a real instance, the keys as
// a terminal sends them, colour and NO_COLOR, and the end when the instance stops.

import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { PoolResponse } from '../../src/lib/admin-api-contract.js';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { readProcessMetrics } from '../../src/lib/diagnostics/process-metrics.js';
import { AS_ROOT_ENV, copyFixture, runFerry, startDaemon, tempDir, waitFor, type TestInstance } from '../helpers/ferry.js';
import { ferryInPty, type PtyRun } from '../helpers/pty.js';

const ESC = '\u001b';

let instance: TestInstance | undefined;
let view: PtyRun | undefined;

afterEach(async () => {
  if (view && view.process.exitCode === undefined && !view.process.killed) {
    view.process.kill('SIGKILL');
    await view.process;
  }
  view = undefined;
  instance?.forceCleanup();
  instance = undefined;
});

/** A foreground colour (SGR 30-39), and any colour, bold or inverse at all. */
const COLOUR = new RegExp(`${ESC}\\[3[0-9]m`);
const ANY_STYLE = new RegExp(`${ESC}\\[(1|7|3[0-9]|4[0-9]|9[0-7])m`);

/** The last frame the view drew: from its last header line on. */
function lastFrame(run: PtyRun, name: string): string {
  const text = run.text();
  const at = text.lastIndexOf(`ferry ${name}:`);
  return at < 0 ? '' : text.slice(at);
}

async function pids(inst: TestInstance): Promise<number[]> {
  const run = await runFerry(inst.registryDir, ['status', '--json']);
  return (JSON.parse(run.stdout) as PoolResponse).groups[0]!.processes.map((p) => p.pid);
}

function watchEnv(inst: TestInstance, extra: Record<string, string> = {}): Record<string, string> {
  return { FERRY_INSTANCE_REGISTRY_DIR: inst.registryDir, ...AS_ROOT_ENV, ...extra };
}

describe('ferry status --watch in a terminal', () => {
  it('shows recent CPU, req/s, 5xx and log lines per process; the arrows select; Ctrl-C quits', async () => {
    const registry = tempDir('ferry-reg-');
    instance = await startDaemon(copyFixture('pid-app'), ['--min-instances', '2', '--max-pool-size', '2'], registry);
    const [first, second] = await pids(instance);
    view = ferryInPty(['status', '--watch'], watchEnv(instance));
    const name = instance.info.name;
    await waitFor(() => lastFrame(view!, name).includes(`› ${first}`), 'a first frame with the first process selected', 15_000);

    // A spin of 3 s on one process: its recent CPU shows what it got (measured here from /proc,
    // as a loaded machine gives a spinning process less than a core), and drops back once it is
    // done. A lifetime average cannot do both: after a peak it falls only as the uptime grows.
    const cpuTimes = (): number[] => [first!, second!].map((pid) => readProcessMetrics(pid).cpuTimeMs ?? 0);
    const before = cpuTimes();
    const startedAt = Date.now();
    let spinDone = false;
    const spin = request(`${instance.url}/spin?ms=3000`).then(async (res) => {
      const body = await res.body.text();
      spinDone = true;
      return body;
    });
    const busy = new RegExp(`(${first}|${second})\\s+ready\\s+(\\d+)%`, 'g');
    let peak = { pid: 0, percent: 0 };
    await waitFor(() => {
      for (const m of lastFrame(view!, name).matchAll(busy)) if (Number(m[2]) > peak.percent) peak = { pid: Number(m[1]), percent: Number(m[2]) };
      return spinDone;
    }, 'the spin to end', 15_000);
    const got = cpuTimes().map((t, i) => ((t - (before[i] as number)) / (Date.now() - startedAt)) * 100);
    const spinner = got[0]! >= got[1]! ? first! : second!;
    const share = Math.max(...got);
    expect(share, 'the spinning process got some CPU at all').toBeGreaterThan(15);
    expect(peak.pid).toBe(spinner);
    expect(peak.percent, `peak shown ${peak.percent} %, the process got ${share.toFixed(0)} % over the spin`).toBeGreaterThanOrEqual(Math.min(60, share * 0.6));
    expect(await spin).toBe('spun');
    await waitFor(() => new RegExp(`${spinner}\\s+ready\\s+[0-5]%`).test(lastFrame(view!, name)), 'its CPU back near 0 % after the spin', 10_000);

    // 5xx answers of one process are counted on its row; a line it wrote to stderr is in the pane.
    for (let i = 0; i < 3; i++) await (await request(`${instance.url}/status-code?code=503`)).body.text();
    await (await request(`${instance.url}/write?stream=stderr&text=${encodeURIComponent('boom on stderr')}&nl=1`)).body.text();
    const pool = JSON.parse((await runFerry(instance.registryDir, ['status', '--json'])).stdout) as PoolResponse;
    expect(pool.groups[0]!.processes.reduce((sum, p) => sum + (p.errors5xx ?? 0), 0)).toBe(3);
    await waitFor(() => /\d\d:\d\d:\d\d \d+ err boom on stderr/.test(lastFrame(view!, name)), 'the stderr line in the log pane');
    // PID STATE CPU MEM REQ/S 5XX: the rows add up to the three 503s.
    const fiveXx = (): number => [...lastFrame(view!, name).matchAll(/^[› ] (\d+)\s+ready\s+\S+\s+\S+\s+\S+\s+(\d+)\s/gm)].reduce((sum, m) => sum + Number(m[2]), 0);
    await waitFor(() => fiveXx() === 3, 'the 5XX column adding up to 3');
    expect(lastFrame(view!, name)).toMatch(new RegExp(`log\\s+${path.join(registry, `ferry.${instance.port}.log`).replace(/[.]/g, '\\.')}`));

    // The down arrow selects the second process.
    view.press('\u001b[B');
    await waitFor(() => lastFrame(view!, name).includes(`› ${second}`), 'the second process selected');

    // Colour on a terminal that did not ask for none.
    expect(view.raw()).toMatch(COLOUR);

    // Ctrl-C, as a terminal in raw mode sends it, ends the view at once with 0.
    view.press('\u0003');
    const ended = await view.process;
    expect(ended.exitCode).toBe(0);
    expect((await instance.stop()).exitCode).toBe(0);
  });

  it('honours NO_COLOR and fits 40 columns', async () => {
    instance = await startDaemon(copyFixture('pid-app'));
    view = ferryInPty(['status', '--watch'], watchEnv(instance, { NO_COLOR: '1' }), { cols: 40, rows: 30 });
    const name = instance.info.name;
    await waitFor(() => lastFrame(view!, name).includes('q or Ctrl-C quit'), 'a whole frame', 15_000);
    const frame = lastFrame(view, name);
    expect(frame).toMatch(/^ {2}PID\s+CPU\s+MEM\s+REQ\/S\s+5XX\s+SESS$/m);
    for (const line of frame.split(/\r?\n/)) expect(line.length, line).toBeLessThanOrEqual(40);
    // No colour, bold or inverse: the selection shows as a marker.
    expect(view.raw()).not.toMatch(ANY_STYLE);
    expect(frame).toMatch(/^› \d+/m);
    view.press('q');
    expect((await view.process).exitCode).toBe(0);
    expect((await instance.stop()).exitCode).toBe(0);
  });

  it('says the instance stopped, instead of a stale frame, and exits 3 after ferry stop', async () => {
    instance = await startDaemon(copyFixture('pid-app'));
    view = ferryInPty(['status', '--watch'], watchEnv(instance));
    const name = instance.info.name;
    await waitFor(() => lastFrame(view!, name).includes('q or Ctrl-C quit'), 'a whole frame', 15_000);
    expect((await instance.stop()).exitCode).toBe(0);
    const ended = await view.process;
    expect(ended.exitCode).toBe(EXIT_CODES.notRunning);
    const text = view.text();
    const tail = text.slice(text.lastIndexOf(`ferry ${name} has stopped`));
    expect(tail).toContain('has exited: the instance was stopped (ferry stop)');
    expect(tail).not.toContain('PID');
  });
});
