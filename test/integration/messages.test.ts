// Messages that say what happened (issue 19, item 9), each from the real CLI: the wrong word
// for a missing directory, a raw errno or getaddrinfo error, a placeholder where Ferry knows the
// value, and oclif's own parse errors in a voice of their own.

import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { copyFixture, errorLineOf, liveInstances, processesMentioning, runFerry, startDaemon, stopCleanly, suggestionsOf, tempDir, type FerryRun, type TestInstance } from '../helpers/ferry.js';

let instance: TestInstance | undefined;

afterEach(() => {
  instance?.forceCleanup();
  instance = undefined;
});

function jsonError(run: FerryRun): { code: string; message: string; suggestions: string[] } {
  return (JSON.parse(run.stdout) as { error: { code: string; message: string; suggestions: string[] } }).error;
}

/** Nothing registered and nothing running that names the registry. */
function expectNothingLeft(registry: string): void {
  expect(liveInstances(registry)).toEqual([]);
  expect(processesMentioning(registry)).toEqual([]);
}

describe('ferry start says what is wrong with its input', () => {
  it('says an app directory that is not there does not exist (not "is not a directory")', async () => {
    const registry = tempDir('ferry-reg-');
    const missing = path.join(registry, 'no-such-app');
    for (const extra of [[], ['--app-start-command', 'sleep 100']]) {
      const run = await runFerry(registry, ['start', missing, ...extra]);
      expect(run.exitCode).toBe(EXIT_CODES.usage);
      expect(errorLineOf(run)).toBe(`app directory ${missing} does not exist`);
    }
    // A file where a directory should be is still called what it is.
    const file = path.join(registry, 'app.js');
    fs.writeFileSync(file, '');
    expect(errorLineOf(await runFerry(registry, ['start', file]))).toBe(`${file} is not a directory`);
    expectNothingLeft(registry);
  });

  it('says the directory of --socket is missing, not EACCES', async () => {
    const registry = tempDir('ferry-reg-');
    const socket = path.join(registry, 'missing-dir', 'ferry.sock');
    const run = await runFerry(registry, ['start', copyFixture('pid-app'), '--socket', socket]);
    expect(run.exitCode).toBe(EXIT_CODES.environment);
    expect(errorLineOf(run)).toBe(`cannot create --socket ${socket}: its directory ${path.dirname(socket)} does not exist`);
    expect(suggestionsOf(run)).toContain(`mkdir -p ${path.dirname(socket)}`);
    expect(run.stderr).not.toContain('EACCES');
    expectNothingLeft(registry);
  });

  it('says a host name given to --address cannot be resolved, and what to give instead', async () => {
    const registry = tempDir('ferry-reg-');
    const run = await runFerry(registry, ['start', copyFixture('pid-app'), '--address', 'nothost.invalid']);
    expect(run.exitCode).toBe(EXIT_CODES.usage);
    expect(errorLineOf(run)).toBe("cannot resolve host 'nothost.invalid' given to --address: no such host name");
    expect(suggestionsOf(run)).toContain('127.0.0.1');
    expect(run.stderr).not.toContain('getaddrinfo');
    expectNothingLeft(registry);
  });
});

describe("a core that does not answer", () => {
  it('suggests crash-watch with the real pid of the core', async () => {
    instance = await startDaemon(copyFixture('pid-app'));
    const corePid = instance.info.properties.core_pid as number;
    process.kill(corePid, 'SIGSTOP');
    let run: FerryRun;
    try {
      run = await runFerry(instance.registryDir, ['status', '--timeout', '1']);
    } finally {
      process.kill(corePid, 'SIGCONT');
    }
    expect(run.exitCode).toBe(EXIT_CODES.notResponding);
    expect(errorLineOf(run)).toContain(`its core (pid ${corePid}) did not answer within 1s`);
    expect(suggestionsOf(run)).toContain(`ferry crash-watch --dump ${corePid}`);
    expect(suggestionsOf(run)).not.toMatch(/<[^>]*>/);
    await stopCleanly(instance);
  });
});

describe("oclif's parse errors read like Ferry's own", () => {
  const registry = (): string => tempDir('ferry-reg-');

  it('an unknown flag: one Error line, the flag meant, the help to read, exit 2; JSON with --json', async () => {
    for (const env of [{}, { FERRY_NO_FAST_PATH: '1' }] as Record<string, string>[]) {
      const run = await runFerry(registry(), ['status', '--instanc', 'x'], { env });
      expect(run.exitCode).toBe(EXIT_CODES.usage);
      expect(errorLineOf(run)).toBe('unknown flag --instanc');
      expect(suggestionsOf(run)).toBe('  Did you mean --instance (for --instanc)?\n  See: ferry status --help');
    }
    const json = await runFerry(registry(), ['status', '--instanc', 'x', '--json']);
    expect(json.exitCode).toBe(EXIT_CODES.usage);
    expect(json.stderr).toBe('');
    expect(jsonError(json)).toEqual({ code: 'FERRY_ERR_USAGE', message: 'unknown flag --instanc', suggestions: ['Did you mean --instance (for --instanc)?'] });
  });

  it('a missing or malformed value, exclusive flags and a missing argument: each on one line, exit 2', async () => {
    const cases: [string[], string][] = [
      [['start', '--port'], '--port needs a value'],
      [['start', '--port', 'abc'], '--port: expected an integer but received: abc'],
      [['status', '--watch', '--json'], '--json=true cannot also be provided when using --watch'],
      [['detach-process'], 'missing argument: PID (PID of the app process (see ferry status))'],
      [['stop', 'a', 'b'], 'unexpected arguments for ferry stop: a b'],
    ];
    for (const [args, message] of cases) {
      const run = await runFerry(registry(), args);
      expect(run.exitCode, args.join(' ')).toBe(EXIT_CODES.usage);
      if (args.includes('--json')) {
        expect(jsonError(run)).toMatchObject({ code: 'FERRY_ERR_USAGE', message });
        continue;
      }
      expect(errorLineOf(run)).toBe(message);
      expect(suggestionsOf(run)).toContain(`See: ferry ${args[0]} --help`);
      const json = await runFerry(registry(), [...args, '--json']);
      expect(json.exitCode, `${args.join(' ')} --json`).toBe(EXIT_CODES.usage);
      expect(jsonError(json)).toMatchObject({ code: 'FERRY_ERR_USAGE', message });
    }
  });
});
