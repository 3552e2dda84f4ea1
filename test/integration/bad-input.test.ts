// Bad input end to end: every mistake an operator can make gets one clear "Error: " line, the
// documented exit code, and leaves no instance, no instance directory and no process behind.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { type FerryRun, fixture, freePort, liveInstances, processesMentioning, removeScratch, runFerry, startDaemon, tempDir, type TestInstance } from '../helpers/ferry.js';

/** A private scratch root per test: the registry and any copied app live under it. */
interface Scratch {
  root: string;
  registry: string;
}

const scratches: Scratch[] = [];
const instances: TestInstance[] = [];
const servers: net.Server[] = [];

afterEach(async () => {
  for (const instance of instances.splice(0)) instance.forceCleanup();
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
  for (const { root } of scratches.splice(0)) {
    removeScratch(root);
  }
});

function scratch(): Scratch {
  const root = tempDir('ferry-bad-input-');
  const registry = path.join(root, 'registry');
  fs.mkdirSync(registry);
  const s = { root, registry };
  scratches.push(s);
  return s;
}

/** A private copy of a fixture app, so its path (in the app's command line) is this test's alone. */
function copyFixture(s: Scratch, name: string): string {
  const dir = path.join(s.root, name);
  fs.cpSync(fixture(name), dir, { recursive: true });
  return dir;
}

/** The error line of a failed run (without "Error: "); everything after it is an indented suggestion. */
function errorLine(run: FerryRun): string {
  const lines = run.stderr.trimEnd().split('\n');
  const first = lines[0] ?? '';
  expect(first, run.stderr).toMatch(/^Error: /);
  for (const line of lines.slice(1)) expect(line, run.stderr).toMatch(/^ {2}\S/);
  return first.slice('Error: '.length);
}

function suggestions(run: FerryRun): string {
  return run.stderr.split('\n').slice(1).join('\n');
}

/** No live instance, no instance directory, no process that mentions this test's scratch root. */
function expectNothingLeft(s: Scratch): void {
  // Before liveInstances: scanning the registry removes stale directories and would hide them.
  const dirs = fs.readdirSync(s.registry).filter((entry) => entry.startsWith('ferry.') && fs.statSync(path.join(s.registry, entry)).isDirectory());
  expect(dirs).toEqual([]);
  expect(liveInstances(s.registry)).toEqual([]);
  expect(processesMentioning(s.root)).toEqual([]);
}

describe('ferry start and stop with bad input', () => {
  it('refuses a port that another program listens on, naming the address and suggesting --port', async () => {
    const s = scratch();
    const port = await freePort();
    const blocker = net.createServer();
    servers.push(blocker);
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));

    const run = await runFerry(s.registry, ['start', copyFixture(s, 'pid-app'), '--port', String(port)]);

    expect(run.exitCode).toBe(EXIT_CODES.environment);
    expect(errorLine(run)).toBe(`127.0.0.1:${port} is already in use by another program`);
    expect(suggestions(run)).toContain('--port');
    expectNothingLeft(s);
  });

  it('refuses a directory that holds no app with a usage error', async () => {
    const s = scratch();
    const dir = copyFixture(s, 'no-app');

    const run = await runFerry(s.registry, ['start', dir]);

    expect(run.exitCode).toBe(EXIT_CODES.usage);
    expect(errorLine(run)).toContain(`no app found in ${dir}`);
    expect(suggestions(run)).toContain('--startup-file');
    expectNothingLeft(s);
  });

  // Also guards a race that once left the watchdog's directory and a stack trace behind in a few %
  // of runs: the watchdog sends 'shutdown' to a core that already exited after reporting
  // 'startup-failed'; CoreWatcher.stopCore now takes the send's EPIPE and falls back to SIGTERM.
  it('reports an app that exits at start with its exit code, and leaves nothing behind', async () => {
    const s = scratch();
    const port = await freePort();

    const run = await runFerry(s.registry, ['start', copyFixture(s, 'crash-on-boot'), '--port', String(port)]);

    expect(run.exitCode).toBe(EXIT_CODES.appStartFailed);
    expect(errorLine(run)).toMatch(/^app 'crash-on-boot' exited with code 1 before it listened/);
    expectNothingLeft(s);
  });

  // The error line the app printed, not the stack or the "Node.js v20.x.y" footer Node prints after
  // it (crashReason in src/core/spawn/spawn-error.ts).
  it("quotes the app's own last error line when it exits at start", async () => {
    const s = scratch();
    const port = await freePort();

    const run = await runFerry(s.registry, ['start', copyFixture(s, 'crash-on-boot'), '--port', String(port)]);

    expect(run.exitCode).toBe(EXIT_CODES.appStartFailed);
    const message = errorLine(run);
    expect(message).toContain('exited with code 1');
    expect(message).toContain('database URL is not configured');
    expectNothingLeft(s);
  });

  // Issue 19, item 6: Node ends such a crash with the error's properties and a lone "}", which
  // was all the message quoted; the suggestion said "node <startup file>"; and the crash was
  // printed three times (the app's lines, then inside the pool's and the watchdog's log lines,
  // with Ferry's own SpawnError stack).
  it("names the missing module, the real command to run by hand, and prints the app's crash once", async () => {
    const s = scratch();
    const port = await freePort();
    const dir = copyFixture(s, 'require-missing');

    const run = await runFerry(s.registry, ['start', dir, '--port', String(port)]);

    expect(run.exitCode).toBe(EXIT_CODES.appStartFailed);
    expect(errorLine(run)).toBe("app 'require-missing' exited with code 1 before it listened: Error: Cannot find module './missing.json' (MODULE_NOT_FOUND)");
    expect(suggestions(run)).toContain(`Run the app by hand to see the whole error: cd ${dir} && ${process.execPath} app.js`);
    expect(suggestions(run)).not.toMatch(/<[^>]*>/);
    const everything = run.stdout + run.stderr;
    expect(everything.split('at Module._resolveFilename').length - 1, everything).toBe(1);
    expect(everything).not.toContain('direct-spawner.js'); // Ferry's own stack
    expectNothingLeft(s);
  });

  it('names the log file when the output went to one', async () => {
    const s = scratch();
    const port = await freePort();
    const logFile = path.join(s.root, 'ferry.log');

    const run = await runFerry(s.registry, ['start', copyFixture(s, 'require-missing'), '--port', String(port), '--log-file', logFile]);

    expect(run.exitCode).toBe(EXIT_CODES.appStartFailed);
    expect(suggestions(run)).toContain(`The whole output is in the log: ${logFile}`);
    expect(fs.readFileSync(logFile, 'utf8').split('at Module._resolveFilename').length - 1).toBe(1);
    expectNothingLeft(s);
  });

  it('gives up on an app that never listens once the start timeout passes', async () => {
    const s = scratch();
    const port = await freePort();
    const started = Date.now();

    const run = await runFerry(s.registry, ['start', copyFixture(s, 'never-listens'), '--port', String(port), '--start-timeout', '2']);

    expect(Date.now() - started).toBeLessThan(8_000);
    expect(run.exitCode).toBe(EXIT_CODES.appStartFailed);
    expect(errorLine(run)).toBe("app 'never-listens' did not listen within 2s (start timeout)");
    expect(suggestions(run)).toContain('--start-timeout');
    expectNothingLeft(s);
  }, 10_000);

  it('rejects an unknown flag with a usage error that names it', async () => {
    const s = scratch();

    const run = await runFerry(s.registry, ['start', copyFixture(s, 'pid-app'), '--no-such-flag']);

    expect(run.exitCode).toBe(EXIT_CODES.usage);
    expect(errorLine(run)).toContain('--no-such-flag');
    expect(suggestions(run)).toContain('ferry start --help');
    expectNothingLeft(s);
  });

  it('says that no instance is running when ferry stop finds none', async () => {
    const s = scratch();

    const run = await runFerry(s.registry, ['stop']);

    expect(run.exitCode).toBe(EXIT_CODES.notRunning);
    expect(errorLine(run)).toBe(`no Ferry instance is running (looked in ${s.registry})`);
    expectNothingLeft(s);
  });

  it('says that no instance is running when the pid file given to ferry stop does not exist', async () => {
    const s = scratch();
    const pidFile = path.join(s.root, 'nonexistent', 'ferry.pid');

    const run = await runFerry(s.registry, ['stop', '--pid-file', pidFile]);

    expect(run.exitCode).toBe(EXIT_CODES.notRunning);
    expect(errorLine(run)).toBe(`no Ferry instance is running: pid file ${pidFile} does not exist`);
    expectNothingLeft(s);
  });

  it('asks which instance to stop when two are running, then stops each one named with --instance', async () => {
    const s = scratch();
    const first = await startDaemon(fixture('pid-app'), [], s.registry);
    instances.push(first);
    const second = await startDaemon(fixture('pid-app'), [], s.registry);
    instances.push(second);
    const names = liveInstances(s.registry).map((i) => i.name);
    expect(names.toSorted()).toEqual([first.info.name, second.info.name].toSorted());
    expect(processesMentioning(s.root)).toEqual(expect.arrayContaining([first.info.properties.watchdog_pid, second.info.properties.watchdog_pid]));

    const ambiguous = await runFerry(s.registry, ['stop']);

    expect(ambiguous.exitCode).toBe(EXIT_CODES.usage);
    expect(errorLine(ambiguous)).toBe('2 Ferry instances are running; say which one with --instance NAME');
    for (const name of names) expect(suggestions(ambiguous)).toContain(name);
    expect(liveInstances(s.registry)).toHaveLength(2);

    for (const instance of [first, second]) {
      const stop = await runFerry(s.registry, ['stop', '--instance', instance.info.name]);
      expect(stop.exitCode, stop.stderr).toBe(0);
      expect(stop.stdout).toContain(`Stopped instance ${instance.info.name}`);
      expect(instance.survivors()).toEqual([]);
    }
    expectNothingLeft(s);
  });

  it('rejects --min-instances larger than --max-pool-size with a usage error', async () => {
    const s = scratch();

    const run = await runFerry(s.registry, ['start', copyFixture(s, 'pid-app'), '--port', String(await freePort()), '--min-instances', '3', '--max-pool-size', '2']);

    expect(run.exitCode).toBe(EXIT_CODES.usage);
    expect(errorLine(run)).toBe('--min-instances (3) is larger than --max-pool-size (2)');
    expectNothingLeft(s);
  });

  it('refuses --max-requests-jitter without --max-requests, saying what to give', async () => {
    const s = scratch();

    const run = await runFerry(s.registry, ['start', copyFixture(s, 'pid-app'), '--port', String(await freePort()), '--max-requests-jitter', '50']);

    expect(run.exitCode).toBe(EXIT_CODES.usage);
    expect(errorLine(run)).toBe('--max-requests-jitter 50 spreads --max-requests, which is not set (0 = never)');
    expect(suggestions(run)).toContain('--max-requests 1000 --max-requests-jitter 50');
    expectNothingLeft(s);
  });

  it('prints a failed start as a JSON error object on stdout with --json', async () => {
    const s = scratch();
    const dir = copyFixture(s, 'no-app');

    const run = await runFerry(s.registry, ['start', dir, '--json']);

    expect(run.exitCode).toBe(EXIT_CODES.usage);
    expect(run.stderr).toBe('');
    const parsed = JSON.parse(run.stdout) as { error: { code: string; message: string; suggestions: string[] } };
    expect(parsed).toEqual({
      error: {
        code: 'FERRY_ERR_APP_NOT_FOUND',
        message: expect.stringContaining(`no app found in ${dir}`),
        suggestions: [expect.stringContaining('--startup-file')],
      },
    });
    expectNothingLeft(s);
  });
});

// Issue 19, item 8: each of these exited with a status its code's documentation did not give.
describe('exit statuses agree with docs/errors.md', () => {
  function jsonError(run: FerryRun): { code: string; message: string; suggestions: string[] } {
    return (JSON.parse(run.stdout) as { error: { code: string; message: string; suggestions: string[] } }).error;
  }

  it('treats a pid that is not a number as a usage error, not a bug', async () => {
    const s = scratch();
    for (const args of [['detach-process', 'abc'], ['crash-watch', '--dump', 'abc']]) {
      const run = await runFerry(s.registry, [...args, '--json']);
      expect(run.exitCode, args.join(' ')).toBe(EXIT_CODES.usage);
      expect(jsonError(run)).toMatchObject({ code: 'FERRY_ERR_USAGE', message: 'Expected an integer but received: abc' });
    }
  });

  it('exits 5 with FERRY_ERR_FILE_UNWRITABLE for a --log-file in a missing directory', async () => {
    const s = scratch();
    const run = await runFerry(s.registry, ['start', copyFixture(s, 'pid-app'), '--port', String(await freePort()), '--log-file', path.join(s.root, 'nonexistent/dir/f'), '--json']);
    expect(run.exitCode).toBe(EXIT_CODES.environment);
    expect(jsonError(run).code).toBe('FERRY_ERR_FILE_UNWRITABLE');
    expectNothingLeft(s);
  });

  it("passes on the status of the command crash-watch ran, and says it in --json", async () => {
    const s = scratch();
    const run = await runFerry(s.registry, ['crash-watch', '--json', '--', 'sh', '-c', 'exit 3']);
    expect(run.exitCode).toBe(3);
    expect(JSON.parse(run.stdout)).toMatchObject({ mode: 'run', outcome: 'exited', exitCode: 3 });
  });

  it('answers an unknown command with a usage error in JSON that names the command meant', async () => {
    const s = scratch();
    const json = await runFerry(s.registry, ['statsu', '--json']);
    expect(json.exitCode).toBe(EXIT_CODES.usage);
    expect(jsonError(json)).toEqual({ code: 'FERRY_ERR_USAGE', message: "'statsu' is not a ferry command", suggestions: ['Did you mean: ferry status'] });
    const text = await runFerry(s.registry, ['restart-ap']);
    expect(text.exitCode).toBe(EXIT_CODES.usage);
    expect(errorLine(text)).toBe("'restart-ap' is not a ferry command");
    expect(suggestions(text)).toBe('  Did you mean: ferry restart-app\n  See: ferry --help');
  });

  it("lists in each command's --help only the statuses it can return", async () => {
    const s = scratch();
    const detach = await runFerry(s.registry, ['detach-process', '--help']);
    expect(detach.stdout).toMatch(/^ {2}69 {2}a --wait/m);
    expect(detach.stdout).not.toContain('gdb');
    const crash = await runFerry(s.registry, ['crash-watch', '--help']);
    expect(crash.stdout).toMatch(/^ {2}68 +crash-watch: the dump was taken/m);
    expect(crash.stdout).toMatch(/^ {2}128\+N +crash-watch: the watched process crashed/m);
    expect(crash.stdout).not.toContain('no Ferry instance is running');
  });
});
