// Test harness for real runs: the built CLI as a subprocess, a private instance registry per
// test, free ports, polling with deadlines, and teardown that proves nothing was left running.

import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { expect } from 'vitest';
import { AdminClient } from '../../src/cli/admin-client.js';
import type { RequestSnapshot, RequestsResponse } from '../../src/lib/admin-api-contract.js';
import { readWorkerRecords, scanRegistry, type InstanceInfo } from '../../src/lib/instance-registry.js';
import { isProcessRunning, listGroupMembers } from '../../src/lib/process-groups.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = path.join(ROOT, 'bin/run.js');
export const FIXTURES = path.join(ROOT, 'test/fixtures/apps');

export function fixture(name: string): string {
  return path.join(FIXTURES, name);
}

/**
 * A private copy of a fixture app in a fresh temp dir (with the package.json that makes its .js
 * CommonJS), for tests that change the app's files or need its path to be theirs alone.
 */
export function copyFixture(name: string, parent = tempDir('ferry-app-')): string {
  const dir = path.join(parent, name);
  fs.cpSync(fixture(name), dir, { recursive: true });
  fs.writeFileSync(path.join(parent, 'package.json'), '{"type":"commonjs"}');
  return dir;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Every directory tempDir made in this test file's worker, removed after the file (test/helpers/setup.ts). */
const madeTempDirs = new Set<string>();

export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  madeTempDirs.add(dir);
  return dir;
}

/** Removes what tempDir made and the test did not remove itself. */
export function removeTempDirs(): void {
  for (const dir of madeTempDirs) fs.rmSync(dir, { recursive: true, force: true });
  madeTempDirs.clear();
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 10_000, intervalMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * CI runs the suite as root on a root-owned checkout, so every fixture app is "owned by root, run
 * as root", which `ferry start` refuses without --user. The tests say --user root here, once, for
 * all of them (FERRY_USER is --user's environment variable); a test that wants the refusal passes
 * FERRY_USER: '' in its env.
 */
export const AS_ROOT_ENV: Record<string, string> = process.getuid?.() === 0 ? { FERRY_USER: 'root' } : {};

export interface FerryRun {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

/** Runs `ferry ARGS` to completion with a private registry; never throws on a non-zero exit. */
export async function runFerry(registryDir: string, args: string[], opts: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<FerryRun> {
  const result = await execa(process.execPath, [BIN, ...args], {
    reject: false,
    timeout: opts.timeoutMs ?? 60_000,
    env: { FERRY_INSTANCE_REGISTRY_DIR: registryDir, NO_COLOR: '1', ...AS_ROOT_ENV, ...opts.env },
    stdin: 'ignore',
  });
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/** Starts `ferry start` in the foreground; the caller stops it (SIGINT) or via `ferry stop`. */
export function spawnFerry(registryDir: string, args: string[], env: Record<string, string> = {}): ResultPromise {
  return execa(process.execPath, [BIN, ...args], {
    reject: false,
    env: { FERRY_INSTANCE_REGISTRY_DIR: registryDir, NO_COLOR: '1', ...AS_ROOT_ENV, ...env },
    stdin: 'ignore',
    all: true,
  });
}

export function liveInstances(registryDir: string): InstanceInfo[] {
  return scanRegistry(registryDir).live;
}

/** The one live instance of `registryDir`, added to `list` for cleanup; throws unless there is exactly one. */
export function trackOnlyInstance(registryDir: string, port: number, list: TestInstance[]): TestInstance {
  const live = liveInstances(registryDir);
  if (live.length !== 1) throw new Error(`expected one live instance in ${registryDir}, found ${live.length}`);
  const instance = new TestInstance(registryDir, port, live[0]!);
  list.push(instance);
  return instance;
}

/** Every pid and process group that belongs to an instance right now. */
export function instanceProcesses(instance: InstanceInfo): { pids: number[]; groups: number[] } {
  const pids = [instance.properties.watchdog_pid];
  if (instance.properties.core_pid) pids.push(instance.properties.core_pid);
  for (const record of readWorkerRecords(instance.dir)) pids.push(record.pid);
  return { pids, groups: [...pids] };
}

/** Pids (from `pids`, or members of `groups`) that still run. */
export function survivors(pids: readonly number[], groups: readonly number[] = []): number[] {
  return [...new Set([...pids.filter(isProcessRunning), ...listGroupMembers(new Set(groups))])];
}

/**
 * A daemonized instance for one test. `stop()` runs `ferry stop`; `forceCleanup()` kills every
 * process it ever saw, so a failing test cannot leak processes into the next one.
 */
export class TestInstance {
  private readonly seenPids = new Set<number>();
  private readonly seenGroups = new Set<number>();

  constructor(
    readonly registryDir: string,
    readonly port: number,
    readonly info: InstanceInfo,
  ) {
    this.remember();
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Re-reads the registry (the core pid changes after a restart) and remembers every pid seen. */
  refresh(): InstanceInfo {
    const live = liveInstances(this.registryDir).find((i) => i.name === this.info.name);
    if (live) Object.assign(this.info, live);
    this.remember();
    return this.info;
  }

  remember(extraPids: number[] = []): void {
    const { pids, groups } = instanceProcesses(this.info);
    for (const pid of [...pids, ...extraPids]) this.seenPids.add(pid);
    for (const group of groups) this.seenGroups.add(group);
  }

  survivors(): number[] {
    return survivors([...this.seenPids], [...this.seenGroups]);
  }

  /**
   * Waits until the core reports a request to `path` (its path without the query) in `state`
   * (forwarding: an app process has it), for tests that need a request under way before the next
   * step. Asking beats a fixed sleep, which a loaded machine outruns.
   */
  async requestUnderWay(path: string, state: RequestSnapshot['state'] = 'forwarding', timeoutMs = 10_000): Promise<RequestSnapshot> {
    const admin = new AdminClient(this.info, 2_000);
    return waitFor(async () => (await admin.call<RequestsResponse>('requests')).requests.find((r) => r.path.split('?')[0] === path && r.state === state), `a request to ${path} in state ${state}`, timeoutMs, 25);
  }

  async stop(): Promise<FerryRun> {
    this.refresh();
    return runFerry(this.registryDir, ['stop', '--instance', this.info.name]);
  }

  forceCleanup(): void {
    // Processes spawned after the last refresh (replacements, scale-out) are in no list yet:
    // every process of the instance carries its private registry dir in its environment.
    for (const pid of processesMentioning(this.registryDir)) {
      this.seenPids.add(pid);
      this.seenGroups.add(pid);
    }
    for (const group of this.seenGroups) {
      try {
        process.kill(-group, 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (const pid of this.seenPids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    fs.rmSync(this.info.dir, { recursive: true, force: true });
  }
}

/** The log file of an instance started by startDaemon. */
export function daemonLogFile(instance: TestInstance): string {
  return path.join(instance.registryDir, `ferry.${instance.port}.log`);
}

export type LogLine = Record<string, unknown> & { msg: string };

/** The JSON lines of an instance's log file (startDaemon's). */
export function daemonLogLines(instance: TestInstance): LogLine[] {
  return fs
    .readFileSync(daemonLogFile(instance), 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
}

/** Kills every process that mentions a test's private directory, then removes the directory. */
export function removeScratch(root: string): void {
  for (const pid of processesMentioning(root)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  fs.rmSync(root, { recursive: true, force: true });
}

/** `opts.port`: a given port (an instance started again where it ran before); default a free one. */
export async function startDaemon(appDir: string, extraArgs: string[] = [], registryDir = tempDir('ferry-reg-'), opts: { env?: Record<string, string>; port?: number } = {}): Promise<TestInstance> {
  const port = opts.port ?? (await freePort());
  const logFile = path.join(registryDir, `ferry.${port}.log`);
  const run = await runFerry(registryDir, ['start', appDir, '--daemonize', '--port', String(port), '--log-file', logFile, ...extraArgs], { env: opts.env });
  if (run.exitCode !== 0) {
    const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
    throw new Error(`ferry start failed (${run.exitCode}): ${run.stderr}\n${log}`);
  }
  // The registry may hold other instances too (several daemons in one registry): pick ours by port.
  const info = liveInstances(registryDir).find((i) => i.properties.addresses.some((a) => URL.canParse(a) && new URL(a).port === String(port)));
  if (!info) throw new Error(`ferry start succeeded but no instance on port ${port} is registered`);
  return new TestInstance(registryDir, port, info);
}

/**
 * Pids of live processes (zombies and this process excepted) whose command line or environment
 * mentions `text`: a unique temp path finds whatever a test started, even processes the registry
 * never recorded (every Ferry process inherits FERRY_INSTANCE_REGISTRY_DIR from `ferry start`).
 */
export function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid || !isProcessRunning(pid)) continue;
    for (const file of ['cmdline', 'environ']) {
      let content: string;
      try {
        content = fs.readFileSync(`/proc/${pid}/${file}`, 'utf8');
      } catch {
        continue; // gone, or not ours to read
      }
      if (content.includes(text)) {
        found.push(pid);
        break;
      }
    }
  }
  return found;
}

/**
 * Stops an instance and proves it left nothing: `ferry stop` succeeded, no process it was seen
 * with survives, and no process names its registry (an app process no record named would).
 */
export async function stopCleanly(inst: TestInstance): Promise<void> {
  expect((await inst.stop()).exitCode).toBe(0);
  expect(inst.survivors()).toEqual([]);
  expect(processesMentioning(inst.registryDir)).toEqual([]);
}

/** The error line of a failed run (without "Error: "), checking that every line after it is an indented suggestion. */
export function errorLineOf(run: FerryRun): string {
  const lines = run.stderr.trimEnd().split('\n');
  const first = lines[0] ?? '';
  expect(first, run.stderr).toMatch(/^Error: /);
  for (const line of lines.slice(1)) expect(line, run.stderr).toMatch(/^ {2}\S/);
  return first.slice('Error: '.length);
}

/** The suggestions of a failed run: the indented lines after its error line. */
export function suggestionsOf(run: FerryRun): string {
  return run.stderr.split('\n').slice(1).join('\n');
}
