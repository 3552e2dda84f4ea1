// Logs end to end: rotation (rename the file as logrotate does, then `ferry reopen-logs` or
// SIGUSR1 to the watchdog: every line before is in the old file, every line after in the new, none
// lost or doubled), the level switched live (`ferry log-level`, kept by a restarted core), and app
// output as one record per line with app, pid and stream.

import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { daemonLogFile, daemonLogLines, fixture, freePort, liveInstances, type LogLine, processesMentioning, runFerry, spawnFerry, startDaemon, stopCleanly, tempDir, TestInstance, waitFor } from '../helpers/ferry.js';

let instance: TestInstance | undefined;

afterEach(() => {
  instance?.forceCleanup();
  instance = undefined;
});

/**
 * GET tagged `?tag=TAG`, which the access line's path shows (a TCP client's X-Request-Id is not
 * taken: Ferry logs its own id, so a tag in the path is how a test finds its lines).
 */
async function get(inst: TestInstance, urlPath: string, tag?: string): Promise<{ status: number; body: string }> {
  const target = tag === undefined ? urlPath : `${urlPath}${urlPath.includes('?') ? '&' : '?'}tag=${tag}`;
  const res = await request(`${inst.url}${target}`, { headersTimeout: 20_000, bodyTimeout: 20_000 });
  return { status: res.statusCode, body: await res.body.text() };
}

/** The tag of an access line (see get). */
function tagOf(line: LogLine): string {
  return new URL(String(line.path), 'http://x').searchParams.get('tag') ?? '';
}

function jsonLines(file: string): LogLine[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as LogLine);
}

/** The tags of the debug access lines ("request done") in a file, in order. */
function accessTags(file: string): string[] {
  return jsonLines(file)
    .filter((l) => l.msg === 'request done')
    .map(tagOf);
}

/** Sends `count` requests tagged `prefix-N` one after another; answers their tags. */
async function burst(inst: TestInstance, prefix: string, count = 20): Promise<string[]> {
  const tags: string[] = [];
  for (let i = 0; i < count; i++) {
    expect((await get(inst, '/pid', `${prefix}-${i}`)).status).toBe(200);
    tags.push(`${prefix}-${i}`);
  }
  return tags;
}

/** Stops the instance; nothing it started may survive. */
describe('log rotation', () => {
  // Scenario: requests logged (debug access lines) before the rename, between the rename and the
  // reopen (they still go to the renamed file), and after it; then each id must be in exactly one
  // file: the renamed one for the first two bursts, the new one for the last.
  async function rotate(reopen: (inst: TestInstance) => Promise<void>, reopenedBy: { watchdog: string; core: string }): Promise<void> {
    instance = await startDaemon(fixture('pid-app'), ['--log-level', 'debug']);
    const file = daemonLogFile(instance);
    const before = await burst(instance, 'before');
    await waitFor(() => accessTags(file).length === before.length, 'the access lines of the first burst');
    fs.renameSync(file, `${file}.1`);
    const between = await burst(instance, 'between');

    await reopen(instance);
    // Both processes write the file: each says so in the new one, first thing after its reopen.
    await waitFor(() => fs.existsSync(file) && jsonLines(file).filter((l) => l.msg === 'log file reopened').length === 2, 'both reopen lines in the new file');
    const reopened = jsonLines(file).filter((l) => l.msg === 'log file reopened');
    expect(reopened.map((l) => [l.component, l.by]).sort()).toEqual([
      ['core', reopenedBy.core],
      ['watchdog', reopenedBy.watchdog],
    ]);
    expect(new Set(reopened.map((l) => l.pid))).toEqual(new Set([instance.info.properties.watchdog_pid, instance.info.properties.core_pid]));
    const after = await burst(instance, 'after');
    await waitFor(() => accessTags(file).length === after.length, 'the access lines of the last burst');

    expect(accessTags(`${file}.1`)).toEqual([...before, ...between]);
    expect(accessTags(file)).toEqual(after);
    // The watchdog's own lines land in the new file too (its stop lines come after the reopen).
    await stopCleanly(instance);
    expect(jsonLines(file).some((l) => l.component === 'watchdog' && l.msg === 'stopped')).toBe(true);
    expect(jsonLines(`${file}.1`).some((l) => l.msg === 'stopped')).toBe(false);
  }

  it('ferry reopen-logs moves the core and the watchdog to the new file, losing and doubling no line', async () => {
    await rotate(
      async (inst) => {
        const run = await runFerry(inst.registryDir, ['reopen-logs', '--instance', inst.info.name, '--json']);
        expect(run.exitCode).toBe(0);
        expect(JSON.parse(run.stdout)).toEqual({ instance: inst.info.name, logFile: daemonLogFile(inst) });
      },
      { core: 'admin-api', watchdog: 'core' },
    );
  });

  it('SIGUSR1 to the watchdog does the same', async () => {
    await rotate(
      async (inst) => {
        process.kill(inst.info.properties.watchdog_pid, 'SIGUSR1');
      },
      { watchdog: 'SIGUSR1', core: 'watchdog' },
    );
  });

  it('exits 1 with FERRY_ERR_LOG_REOPEN_FAILED when the directory of the log file is gone, and logging goes on in the old file', async () => {
    const registryDir = tempDir('ferry-logs-');
    const port = await freePort();
    const logDir = path.join(registryDir, 'logs');
    fs.mkdirSync(logDir);
    const start = await runFerry(registryDir, ['start', fixture('pid-app'), '--daemonize', '--port', String(port), '--log-file', path.join(logDir, 'ferry.log'), '--log-level', 'debug']);
    expect(start.exitCode, start.stderr).toBe(0);
    instance = new TestInstance(registryDir, port, liveInstances(registryDir)[0]!);
    fs.renameSync(logDir, `${logDir}-moved`);

    const run = await runFerry(registryDir, ['reopen-logs', '--json']);
    expect(run.exitCode).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ error: { code: 'FERRY_ERR_LOG_REOPEN_FAILED', message: expect.stringContaining(path.join(logDir, 'ferry.log')) } });
    await get(instance, '/pid', 'still-logged');
    const moved = path.join(`${logDir}-moved`, 'ferry.log');
    await waitFor(() => accessTags(moved).includes('still-logged'), 'the access line in the file still open');
    expect(jsonLines(moved).some((l) => l.msg === 'could not reopen the log file; still writing to the old one')).toBe(true);
    await stopCleanly(instance);
    fs.rmSync(registryDir, { recursive: true, force: true });
  });
});

describe('ferry log-level', () => {
  it('switches debug lines on and off at run time, and a core restarted after a crash keeps the level', async () => {
    instance = await startDaemon(fixture('pid-app'));
    const file = daemonLogFile(instance);
    const level = async (...args: string[]): Promise<unknown> => {
      const run = await runFerry(instance!.registryDir, ['log-level', ...args, '--json']);
      expect(run.exitCode, run.stderr).toBe(0);
      return JSON.parse(run.stdout);
    };
    expect(await level()).toEqual({ instance: instance.info.name, logLevel: 'info', previous: 'info' });

    await get(instance, '/pid', 'at-info-1');
    expect(await level('debug')).toEqual({ instance: instance.info.name, logLevel: 'debug', previous: 'info' });
    await get(instance, '/pid', 'at-debug-1');
    await waitFor(() => accessTags(file).includes('at-debug-1'), 'the debug access line');
    const line = daemonLogLines(instance).find((l) => l.msg === 'request done' && tagOf(l) === 'at-debug-1');
    expect(line).toMatchObject({ level: 20, component: 'core', msg: 'request done', reqId: expect.stringMatching(/^[0-9a-f]{6}-/), method: 'GET', path: '/pid?tag=at-debug-1', app: 'pid-app', status: 200 });

    // A crash: the watchdog starts a new core, which must log at debug too.
    const oldCore = instance.info.properties.core_pid as number;
    process.kill(oldCore, 'SIGKILL');
    await waitFor(() => instance!.refresh().properties.core_pid !== oldCore, 'a new core', 20_000);
    await waitFor(async () => (await get(instance!, '/pid', 'after-crash')).status === 200, 'the new core to serve', 20_000);
    await waitFor(() => accessTags(file).includes('after-crash'), 'a debug access line from the new core');

    expect(await level('info')).toEqual({ instance: instance.info.name, logLevel: 'info', previous: 'debug' });
    await get(instance, '/pid', 'at-info-2');
    // A later line proves the file has caught up: the info-level request left no debug line.
    await runFerry(instance.registryDir, ['reopen-logs']);
    await waitFor(() => daemonLogLines(instance!).some((l) => l.msg === 'log file reopened' && l.component === 'watchdog'), 'a line after the request');
    const tags = accessTags(file);
    expect(tags).not.toContain('at-info-1');
    expect(tags).not.toContain('at-info-2');
    // The watchdog followed both changes.
    expect(daemonLogLines(instance).filter((l) => l.component === 'watchdog' && l.msg === 'log level changed').map((l) => l.logLevel)).toEqual(['debug', 'info']);
    await stopCleanly(instance);
  }, 60_000);

  it('refuses an unknown level with a usage error (exit 2) naming the levels', async () => {
    instance = await startDaemon(fixture('pid-app'));
    const run = await runFerry(instance.registryDir, ['log-level', 'verbose']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/debug.*info.*warn.*error/s);
    await stopCleanly(instance);
  });
});

describe('app output', () => {
  it('logs each line of stdout and stderr as its own record with app, pid and stream', async () => {
    instance = await startDaemon(fixture('pid-app'));
    const pid = Number((await get(instance, `/write?text=${encodeURIComponent('hello from stdout')}&nl=1`)).body);
    await get(instance, `/write?stream=stderr&text=${encodeURIComponent('two\nlines on stderr')}&nl=1`);
    await waitFor(() => daemonLogLines(instance!).some((l) => l.msg === 'lines on stderr'), 'the stderr lines');
    const lines = daemonLogLines(instance);
    expect(lines.find((l) => l.msg === 'hello from stdout')).toEqual({ level: 30, time: expect.any(Number), pid, app: 'pid-app', stream: 'stdout', msg: 'hello from stdout' });
    expect(lines.filter((l) => l.stream === 'stderr').map((l) => l.msg)).toEqual(['two', 'lines on stderr']);
    await stopCleanly(instance);
  });

  it('nests a JSON line of the app under json instead of escaping it', async () => {
    instance = await startDaemon(fixture('pid-app'));
    const appLine = JSON.stringify({ level: 40, time: 1, pid: 1, msg: 'cart abandoned', cartId: 'c-9' });
    await get(instance, `/write?text=${encodeURIComponent(appLine)}&nl=1`);
    const line = await waitFor(() => daemonLogLines(instance!).find((l) => l.msg === 'cart abandoned'), 'the JSON line');
    expect(line).toMatchObject({ level: 30, app: 'pid-app', stream: 'stdout', json: { level: 40, msg: 'cart abandoned', cartId: 'c-9' } });
    expect(fs.readFileSync(daemonLogFile(instance), 'utf8')).not.toContain('\\"cartId\\"');
    await stopCleanly(instance);
  });

  it('logs a line without its newline after a short wait, and splits a very long line at 16384 characters', async () => {
    instance = await startDaemon(fixture('pid-app'));
    await get(instance, `/write?text=${encodeURIComponent('Password: ')}`);
    const partial = await waitFor(() => daemonLogLines(instance!).find((l) => l.msg === 'Password: '), 'the unfinished line', 5_000);
    expect(partial).toMatchObject({ stream: 'stdout', partial: true });

    await get(instance, '/write?text=x&repeat=40000&nl=1');
    const pieces = await waitFor(() => {
      const found = daemonLogLines(instance!).filter((l) => /^x+$/.test(l.msg));
      return found.length === 3 ? found : undefined;
    }, 'the three pieces of the long line');
    expect(pieces.map((l) => [l.msg.length, l.partial ?? false])).toEqual([
      [16384, true],
      [16384, true],
      [40000 - 2 * 16384, false],
    ]);
    await stopCleanly(instance);
  });
});

describe('ferry logs', () => {
  /** Has the app write `text` on `stream`; answers the app's pid. */
  async function write(inst: TestInstance, text: string, stream: 'stdout' | 'stderr' = 'stdout'): Promise<number> {
    return Number((await get(inst, `/write?stream=${stream}&text=${encodeURIComponent(text)}&nl=1`)).body);
  }

  it('shows readable lines (local time, level, app, pid, stream) and filters them by app, stream, level, count and time; --json gives the records', async () => {
    instance = await startDaemon(fixture('pid-app'));
    const pid = await write(instance, 'hello from stdout');
    await write(instance, 'oops on stderr', 'stderr');
    await waitFor(() => daemonLogLines(instance!).some((l) => l.msg === 'oops on stderr'), 'the stderr line');
    const logs = async (...args: string[]) => runFerry(instance!.registryDir, ['logs', ...args]);

    const all = await logs();
    expect(all.exitCode, all.stderr).toBe(0);
    const lines = all.stdout.trimEnd().split('\n');
    expect(lines.length).toBeLessThanOrEqual(15);
    const time = '\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}\\.\\d{3}';
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${time} INFO  pid-app\\[${pid}\\] stdout: hello from stdout$`)));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${time} INFO  pid-app\\[${pid}\\] stderr: oops on stderr$`)));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${time} INFO  ferry core\\[${instance.info.properties.core_pid}\\]: serving `)));
    // No colour: not a terminal (and NO_COLOR).
    expect(all.stdout).not.toContain('\u001b[');

    expect((await logs('--stderr')).stdout).toMatch(new RegExp(`^${time} INFO  pid-app\\[${pid}\\] stderr: oops on stderr$`));
    expect((await logs('pid-app', '--stdout', '-n', '1')).stdout).toMatch(/^[^\n]*stdout: hello from stdout$/);
    expect((await logs('--level', 'warn')).stdout).toBe('');
    expect((await logs('--since', '1d', '--stderr')).stdout.split('\n').filter(Boolean)).toHaveLength(1);
    expect((await logs('--since', '2000-01-01 00:00', '-n', '2')).stdout.split('\n').filter(Boolean)).toHaveLength(2);
    const json = await logs('--json', '--stderr');
    expect(JSON.parse(json.stdout)).toEqual({ level: 30, time: expect.any(Number), pid, app: 'pid-app', stream: 'stderr', msg: 'oops on stderr' });

    const unknown = await logs('shop');
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/no app named 'shop'[\s\S]*pid-app/);
    const badSince = await logs('--since', 'last tuesday');
    expect(badSince.exitCode).toBe(2);
    expect(badSince.stderr).toContain('--since 10m');
    await stopCleanly(instance);
  });

  it('works with the core down, and with --file once the instance is gone', async () => {
    instance = await startDaemon(fixture('pid-app'));
    await write(instance, 'before the core stopped');
    await waitFor(() => daemonLogLines(instance!).some((l) => l.msg === 'before the core stopped'), 'the line');
    const core = instance.info.properties.core_pid as number;
    process.kill(core, 'SIGSTOP');
    try {
      const status = await runFerry(instance.registryDir, ['status', '--timeout', '1']);
      expect(status.exitCode).toBe(4); // the core does not answer...
      const logs = await runFerry(instance.registryDir, ['logs', '-n', '1', '--stdout']);
      expect(logs.exitCode, logs.stderr).toBe(0); // ...and the log is read all the same
      expect(logs.stdout).toContain('stdout: before the core stopped');
    } finally {
      process.kill(core, 'SIGCONT');
    }
    const file = daemonLogFile(instance);
    await stopCleanly(instance);
    const gone = await runFerry(instance.registryDir, ['logs']);
    expect(gone.exitCode).toBe(3);
    expect(gone.stderr).toContain('ferry logs --file');
    const fromFile = await runFerry(instance.registryDir, ['logs', '--file', file, '-n', '1']);
    expect(fromFile.exitCode, fromFile.stderr).toBe(0);
    expect(fromFile.stdout).toMatch(/ferry watchdog\[\d+\]: stopped/);
    const missing = await runFerry(instance.registryDir, ['logs', '--file', `${file}.nope`, '--json']);
    expect(missing.exitCode).toBe(5);
    expect(JSON.parse(missing.stdout)).toMatchObject({ error: { code: 'FERRY_ERR_LOG_UNREADABLE' } });
  });

  it('-f follows the log across ferry reopen-logs (rename) and copytruncate, every line once, until Ctrl-C', async () => {
    instance = await startDaemon(fixture('pid-app'));
    const file = daemonLogFile(instance);
    const follower = spawnFerry(instance.registryDir, ['logs', '-f', '-n', '0', '--stdout']);
    let output = '';
    follower.all?.on('data', (d: Buffer) => (output += d.toString()));
    // The pings that find it started are not counted (one more may come in after the reset).
    const seen = (): string[] => output.split('\n').filter(Boolean).map((l) => l.replace(/^.* stdout: /, '')).filter((l) => l !== 'ping');
    try {
      // It has started once it prints a line written after it.
      await waitFor(async () => {
        await write(instance!, 'ping');
        return output.includes('stdout: ping');
      }, 'ferry logs -f to follow', 20_000);
      output = '';
      const sent: string[] = [];
      const send = async (tag: string): Promise<void> => {
        for (let i = 0; i < 5; i++) {
          await write(instance!, `${tag}-${i}`);
          sent.push(`${tag}-${i}`);
        }
      };
      await send('before');
      fs.renameSync(file, `${file}.1`);
      await send('renamed');
      expect((await runFerry(instance.registryDir, ['reopen-logs'])).exitCode).toBe(0);
      await send('reopened');
      await waitFor(() => seen().length >= sent.length, 'the lines after the rename');
      // copytruncate: the file is copied, then emptied in place.
      fs.copyFileSync(file, `${file}.2`);
      fs.truncateSync(file, 0);
      await send('truncated');
      await waitFor(() => seen().length >= sent.length, 'the lines after the truncation');
      await new Promise((r) => setTimeout(r, 500)); // a line printed twice would come by now
      expect([...seen()].sort()).toEqual([...sent].sort());
    } finally {
      follower.kill('SIGINT');
    }
    const result = await follower;
    expect(result.exitCode).toBe(0);
    await stopCleanly(instance);
  }, 60_000);

  it('says where the log is: ferry start -d and ferry status print its path; a foreground instance without a file says it has none', async () => {
    const registryDir = tempDir('ferry-logs-');
    const port = await freePort();
    const logFile = path.join(registryDir, 'app.log');
    const start = await runFerry(registryDir, ['start', fixture('pid-app'), '--daemonize', '--port', String(port), '--log-file', logFile]);
    expect(start.exitCode, start.stderr).toBe(0);
    expect(start.stdout).toContain(`Log: ${logFile} (read it with: ferry logs -f)`);
    instance = new TestInstance(registryDir, port, liveInstances(registryDir)[0]!);
    expect(instance.info.properties.log_file).toBe(logFile);
    const status = await runFerry(registryDir, ['status']);
    expect(status.stdout).toContain(`Log     : ${logFile}`);
    expect(JSON.parse((await runFerry(registryDir, ['status', '--json'])).stdout)).toMatchObject({ logFile });
    await stopCleanly(instance);
    instance = undefined;

    const fgPort = await freePort();
    const child = spawnFerry(registryDir, ['start', fixture('pid-app'), '--port', String(fgPort)]);
    try {
      await waitFor(() => liveInstances(registryDir).length === 1 && liveInstances(registryDir)[0]!.properties.core_pid, 'the foreground instance', 30_000);
      const logs = await runFerry(registryDir, ['logs', '--json']);
      expect(logs.exitCode).toBe(1);
      expect(JSON.parse(logs.stdout)).toMatchObject({ error: { code: 'FERRY_ERR_LOG_NOT_IN_FILE', message: expect.stringContaining('logs to the terminal of its ferry start') } });
    } finally {
      child.kill('SIGINT');
      await child;
    }
    expect(processesMentioning(registryDir)).toEqual([]);
  });
});
