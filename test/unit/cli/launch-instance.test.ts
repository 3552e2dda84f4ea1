import { DEFAULT_LIMITS } from '../../../src/lib/config.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CliError } from '../../../src/cli/errors.js';
import { EXIT_CODES, EXIT_FOR_CODE } from '../../../src/cli/exit-codes.js';
import { thrownBy } from '../../helpers/thrown.js';
import { buildConfig, parseEnvvars, type StartOptions } from '../../../src/cli/launch-instance.js';
import { resolveStartOptions } from '../../../src/cli/start-options.js';
import Start from '../../../src/commands/start.js';

const cliErrorOf = (fn: () => unknown): CliError => thrownBy(fn, CliError);

let tmp: string;
let appDir: string;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-launch-'));
  appDir = path.join(tmp, 'hello');
  fs.mkdirSync(appDir);
  fs.writeFileSync(path.join(appDir, 'app.js'), '');
});

afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function options(overrides: Partial<StartOptions> = {}): StartOptions {
  return {
    dir: appDir,
    port: 3000,
    address: '127.0.0.1',
    appType: 'node',
    minInstances: 1,
    maxPoolSize: 6,
    limits: DEFAULT_LIMITS,
    rollingRestarts: false,
    stickySessions: false,
    stickyCookieName: '_ferry_route',
    envvars: [],
    envFiles: [],
    environmentEnv: {},
    appEnv: {},
    environment: 'production',
    startTimeoutS: 90,
    stopTimeoutS: 30,
    nodejs: '/usr/bin/node',
    logLevel: 'info',
    registryDir: tmp,
    turbocache: { disabled: false, maxBytes: '64m', maxEntryBytes: '1m' },
    clientLimits: { maxHeaderSize: 16384, headerTimeoutS: 30, bodyTimeoutS: 60, maxBodySize: '1g' },
    buffering: { bufferUploads: false, responseBufferHighWatermark: '128m' },
    websocketIdleTimeoutS: 60,
    daemonize: false,
    // The app files are the test's: as root, root-owned, which needs an explicit --user root.
    ...(process.getuid?.() === 0 ? { user: 'root' } : {}),
    healthDrainTimeS: 5,
    ...overrides,
  };
}

describe('buildConfig', () => {
  it('turns valid options into the config every process reads', () => {
    const config = buildConfig(options({ envvars: ['GREETING=hi there', 'EMPTY='], minInstances: 2, startTimeoutS: 1.5, logLevel: 'debug' }));
    expect(config).toEqual({
      listen: { kind: 'tcp', address: '127.0.0.1', port: 3000 },
      maxPoolSize: 6,
      logLevel: 'debug',
      shutdownTimeoutMs: 30_000,
      apps: [
        {
          name: 'hello',
          hosts: [],
          root: appDir,
          appType: 'node',
          startupFile: path.join(appDir, 'app.js'),
          environment: 'production',
          envvars: { GREETING: 'hi there', EMPTY: '' },
          nodeCommand: '/usr/bin/node',
          minInstances: 2,
          startTimeoutMs: 1500,
          stopTimeoutMs: 30_000,
          limits: DEFAULT_LIMITS,
          rollingRestarts: false,
          stickySessions: false,
          stickyCookieName: '_ferry_route',
          friendlyErrorPages: 'off',
        },
      ],
      turbocache: { enabled: true, maxBytes: 64 * 1024 * 1024, maxEntryBytes: 1024 * 1024, debugHeader: false },
      clientLimits: { maxHeaderBytes: 16384, headerTimeoutMs: 30_000, bodyTimeoutMs: 60_000, maxBodyBytes: 1024 ** 3 },
      buffering: { bufferUploads: false, responseBufferHighWatermarkBytes: 128 * 1024 * 1024 },
      websocketIdleTimeoutMs: 60_000,
    });
  });

  it('listens on a unix socket, resolved to an absolute path, when a socket is given', () => {
    const config = buildConfig(options({ socket: 'run/ferry.sock', port: 99_999 }));
    expect(config.listen).toEqual({ kind: 'unix', path: path.resolve('run/ferry.sock') });
  });

  it('makes the app name safe for file names', () => {
    const odd = path.join(tmp, 'my app (v2)');
    fs.mkdirSync(odd);
    fs.writeFileSync(path.join(odd, 'app.js'), '');
    expect(buildConfig(options({ dir: odd })).apps[0]?.name).toBe('my_app__v2_');
  });

  it('rejects more minimum instances than the pool may hold', () => {
    const err = cliErrorOf(() => buildConfig(options({ minInstances: 4, maxPoolSize: 3 })));
    expect(err).toMatchObject({ code: 'FERRY_ERR_CONFIG_INVALID', exitCode: 2 });
    expect(err.message).toBe('--min-instances (4) is larger than --max-pool-size (3)');
  });

  it('turns --direct on for one Node app, and refuses it with two apps or with what needs the core', () => {
    expect(buildConfig(options({ direct: true })).direct).toBe(true);
    expect(buildConfig(options()).direct).toBeUndefined();
    const refused = (opts: Partial<StartOptions>, apps?: StartOptions[]): string => {
      try {
        buildConfig(options({ direct: true, ...opts }), apps);
      } catch (err) {
        expect(err).toBeInstanceOf(CliError);
        return (err as CliError).message;
      }
      throw new Error('accepted');
    };
    const second = options({ name: 'other', hosts: ['b.test'] });
    expect(refused({}, [options({ name: 'one', hosts: ['a.test'] }), second])).toBe('--direct serves one app; this configuration has 2');
    expect(refused({ stickySessions: true })).toMatch(/--sticky-sessions/);
    expect(refused({ limits: { ...DEFAULT_LIMITS, maxRequestTimeMs: 5000 } })).toMatch(/--max-request-time/);
    expect(refused({ watch: true })).toMatch(/^--direct and --watch do not go together/);
    expect(refused({ compression: true })).toMatch(/^--direct and --compression do not go together/);
    expect(refused({ readinessPath: '/ready' })).toMatch(/^--direct and --readiness-path do not go together/);
  });

  it('takes a readiness check per app, its timeout defaulting to the start timeout', () => {
    expect(buildConfig(options()).apps[0]?.readiness).toBeUndefined();
    expect(buildConfig(options({ readinessPath: '/ready', startTimeoutS: 40 })).apps[0]?.readiness).toEqual({ path: '/ready', timeoutMs: 40_000 });
    expect(buildConfig(options({ readinessPath: '/health?deep=1', readinessTimeoutS: 7 })).apps[0]?.readiness).toEqual({ path: '/health?deep=1', timeoutMs: 7_000 });
    // A timeout at the top of ferry.json bounds the apps that have a path; the others have no check.
    const apps = buildConfig(options(), [options({ name: 'shop', hosts: ['a.test'], readinessPath: '/ready', readinessTimeoutS: 3 }), options({ name: 'blog', readinessTimeoutS: 3 })]).apps;
    expect(apps.map((a) => a.readiness)).toEqual([{ path: '/ready', timeoutMs: 3_000 }, undefined]);
  });

  it('refuses a readiness path that is not a path, a bad readiness timeout, and a timeout with no path, naming the flag', () => {
    for (const bad of ['ready', '/re ady', '/ready#x', '/ready\r\nX: 1', '/prêt']) {
      const err = cliErrorOf(() => buildConfig(options({ readinessPath: bad })));
      expect(err).toMatchObject({ code: 'FERRY_ERR_CONFIG_INVALID', exitCode: 2, message: `--readiness-path '${bad}' is not a path` });
    }
    for (const bad of [0, -1, 1.5]) {
      expect(cliErrorOf(() => buildConfig(options({ readinessPath: '/ready', readinessTimeoutS: bad }))).message).toBe(`--readiness-timeout must be a whole number of seconds, 1 or more (got ${bad})`);
    }
    const lonely = cliErrorOf(() => buildConfig(options({ readinessTimeoutS: 5 })));
    expect(lonely.message).toMatch(/^--readiness-timeout needs --readiness-path/);
    expect(lonely.suggestions?.[0]).toContain('--readiness-path /ready');
  });

  it('rejects zero minimum instances', () => {
    expect(cliErrorOf(() => buildConfig(options({ minInstances: 0 }))).message).toContain('--min-instances must be at least 1');
  });

  it('rejects a start timeout that is not a positive number', () => {
    expect(cliErrorOf(() => buildConfig(options({ startTimeoutS: 0 }))).code).toBe('FERRY_ERR_CONFIG_INVALID');
    expect(cliErrorOf(() => buildConfig(options({ startTimeoutS: Number.NaN }))).code).toBe('FERRY_ERR_CONFIG_INVALID');
  });

  it('gives each app its own stop timeout, and the instance the longest, so the watchdog never cuts an app short', () => {
    const config = buildConfig(options({ stopTimeoutS: 5 }), [options({ name: 'quick', hosts: ['a.test'], stopTimeoutS: 2 }), options({ name: 'patient', stopTimeoutS: 90 })]);
    expect(config.apps.map((a) => a.stopTimeoutMs)).toEqual([2_000, 90_000]);
    expect(config.shutdownTimeoutMs).toBe(90_000);
    expect(buildConfig(options({ stopTimeoutS: 7 })).shutdownTimeoutMs).toBe(7_000);
  });

  it('rejects a stop timeout that is not a whole number of seconds from 1 to a day', () => {
    for (const stopTimeoutS of [0, -1, 1.5, Number.NaN, 86_401]) {
      const err = cliErrorOf(() => buildConfig(options({ stopTimeoutS })));
      expect(err).toMatchObject({ code: 'FERRY_ERR_CONFIG_INVALID', exitCode: 2 });
      expect(err.message).toBe(`--stop-timeout must be a whole number of seconds from 1 to 86400 (got ${stopTimeoutS})`);
    }
  });

  it('rejects TCP port 0, which would pick a random port', () => {
    expect(cliErrorOf(() => buildConfig(options({ port: 0 }))).message).toBe('--port 0 is not a TCP port');
  });

  it('rejects a negative or fractional pool limit, naming it', () => {
    expect(cliErrorOf(() => buildConfig(options({ limits: { ...DEFAULT_LIMITS, maxRequests: -1 } }))).message).toBe('--max-requests must be a whole number, 0 or more (got -1)');
    expect(cliErrorOf(() => buildConfig(options({ limits: { ...DEFAULT_LIMITS, busySessions: 0 } }))).message).toBe('--busy-sessions must be at least 1');
  });

  it('refuses --max-requests-jitter without --max-requests, saying what to give', () => {
    const err = cliErrorOf(() => buildConfig(options({ limits: { ...DEFAULT_LIMITS, maxRequestsJitter: 50 } })));
    expect(err.message).toBe('--max-requests-jitter 50 spreads --max-requests, which is not set (0 = never)');
    expect(err.code).toBe('FERRY_ERR_CONFIG_INVALID');
    expect(EXIT_CODES[EXIT_FOR_CODE[err.code]]).toBe(2);
    expect(buildConfig(options({ limits: { ...DEFAULT_LIMITS, maxRequests: 1000, maxRequestsJitter: 50 } })).apps[0]?.limits).toMatchObject({ maxRequests: 1000, maxRequestsJitter: 50 });
  });

  it('rejects --memory-limit-checks 0 (a ferry.json can give it)', () => {
    const err = cliErrorOf(() => buildConfig(options({ limits: { ...DEFAULT_LIMITS, memoryLimitChecks: 0 } })));
    expect(err.message).toBe('--memory-limit-checks must be at least 1');
    expect(err.code).toBe('FERRY_ERR_CONFIG_INVALID');
  });

  it('rejects a TCP port above 65535', () => {
    expect(cliErrorOf(() => buildConfig(options({ port: 65_536 }))).message).toBe('--port 65536 is not a TCP port');
  });

  it('rejects an envvar that is not NAME=VALUE, without echoing the value', () => {
    const err = cliErrorOf(() => buildConfig(options({ envvars: ['MY-KEY=s3cret'] })));
    expect(err).toMatchObject({ code: 'FERRY_ERR_CONFIG_INVALID', exitCode: 2 });
    expect(err.message).toBe("an --envvar is not NAME=VALUE (the name 'MY-KEY' is not a variable name)");
  });

  it('takes --envvar NAME from the environment of ferry start, and refuses one that is not set there', () => {
    expect(parseEnvvars(['TOKEN', 'A=1'], { TOKEN: 's3cret' })).toEqual({ TOKEN: 's3cret', A: '1' });
    const err = cliErrorOf(() => parseEnvvars(['FERRY_TEST_UNSET_VARIABLE'], {}));
    expect(err).toMatchObject({ code: 'FERRY_ERR_CONFIG_INVALID', exitCode: 2 });
    expect(err.message).toBe('--envvar FERRY_TEST_UNSET_VARIABLE passes on FERRY_TEST_UNSET_VARIABLE from the environment of ferry start, where it is not set');
  });

  it('reads turbocache sizes with k/m/g suffixes and turns the debug header on in development only', () => {
    const turbocache = { disabled: false, varyByCookie: 'user_id', maxBytes: '8m', maxEntryBytes: '512k' };
    expect(buildConfig(options({ turbocache })).turbocache).toEqual({ enabled: true, varyByCookie: 'user_id', maxBytes: 8 * 1024 * 1024, maxEntryBytes: 512 * 1024, debugHeader: false });
    expect(buildConfig(options({ environment: 'development' })).turbocache.debugHeader).toBe(true);
    expect(buildConfig(options({ environment: 'development', turbocache: { ...turbocache, debugHeader: false } })).turbocache.debugHeader).toBe(false);
    expect(buildConfig(options({ turbocache: { ...turbocache, disabled: true } })).turbocache.enabled).toBe(false);
  });

  it('passes --compression on to the core, off unless asked for', () => {
    expect(buildConfig(options({ compression: true })).compression).toBe(true);
    expect(buildConfig(options()).compression).toBeUndefined();
  });

  it('turns --turbocache-serve-stale-on-error seconds into the cache option, 0 meaning off', () => {
    const turbocache = { disabled: false, maxBytes: '8m', maxEntryBytes: '512k' };
    expect(buildConfig(options({ turbocache: { ...turbocache, serveStaleOnErrorS: 300 } })).turbocache.staleOnErrorMs).toBe(300_000);
    expect(buildConfig(options({ turbocache: { ...turbocache, serveStaleOnErrorS: 0 } })).turbocache).not.toHaveProperty('staleOnErrorMs');
  });

  it('rejects bad turbocache sizes and cookie names, naming the flag', () => {
    const turbocache = { disabled: false, maxBytes: '64m', maxEntryBytes: '1m' };
    expect(cliErrorOf(() => buildConfig(options({ turbocache: { ...turbocache, maxBytes: 'lots' } }))).message).toBe("--turbocache-max-bytes 'lots' is not a size");
    expect(cliErrorOf(() => buildConfig(options({ turbocache: { ...turbocache, maxEntryBytes: '0' } }))).message).toBe("--turbocache-max-entry-bytes '0' is not a size");
    expect(cliErrorOf(() => buildConfig(options({ turbocache: { ...turbocache, maxBytes: '1m', maxEntryBytes: '2m' } }))).message).toContain('is larger than --turbocache-max-bytes');
    expect(cliErrorOf(() => buildConfig(options({ turbocache: { ...turbocache, varyByCookie: 'user id' } }))).message).toBe("--vary-turbocache-by-cookie 'user id' is not a valid cookie name");
  });

  it('reads client limits in seconds and sizes with k/m/g, 0 meaning no limit', () => {
    const limits = { maxHeaderSize: 8192, headerTimeoutS: 5, bodyTimeoutS: 120, maxBodySize: '10m' };
    expect(buildConfig(options({ clientLimits: limits })).clientLimits).toEqual({ maxHeaderBytes: 8192, headerTimeoutMs: 5000, bodyTimeoutMs: 120_000, maxBodyBytes: 10 * 1024 * 1024 });
    const none = { maxHeaderSize: 16384, headerTimeoutS: 0, bodyTimeoutS: 0, maxBodySize: '0' };
    expect(buildConfig(options({ clientLimits: none })).clientLimits).toEqual({ maxHeaderBytes: 16384, headerTimeoutMs: 0, bodyTimeoutMs: 0, maxBodyBytes: 0 });
    // No header deadline of its own: the whole-request deadline still bounds the headers.
    expect(buildConfig(options({ clientLimits: { ...none, bodyTimeoutS: 60 } })).clientLimits.headerTimeoutMs).toBe(0);
  });

  it('rejects bad client limits, naming the flag', () => {
    const limits = { maxHeaderSize: 16384, headerTimeoutS: 30, bodyTimeoutS: 60, maxBodySize: '1g' };
    const messageOf = (overrides: Partial<typeof limits>): string => cliErrorOf(() => buildConfig(options({ clientLimits: { ...limits, ...overrides } }))).message;
    expect(messageOf({ maxBodySize: 'big' })).toBe("--max-body-size 'big' is not a size");
    expect(messageOf({ maxBodySize: '-1' })).toBe("--max-body-size '-1' is not a size");
    expect(messageOf({ maxHeaderSize: 100 })).toBe('--max-header-size must be a whole number of bytes, at least 1024 (got 100)');
    expect(messageOf({ headerTimeoutS: -1 })).toBe('--client-header-timeout must be a whole number of seconds, 0 or more (got -1)');
    expect(messageOf({ bodyTimeoutS: 1.5 })).toBe('--client-body-timeout must be a whole number of seconds, 0 or more (got 1.5)');
    expect(messageOf({ headerTimeoutS: 90 })).toBe('--client-header-timeout (90s) is longer than --client-body-timeout (60s), which covers the headers too');
    expect(cliErrorOf(() => buildConfig(options({ clientLimits: { ...limits, maxBodySize: 'x' } }))).exitCode).toBe(2);
  });

  it('reads --websocket-idle-timeout in whole seconds, 0 meaning none, and refuses anything else', () => {
    expect(buildConfig(options({ websocketIdleTimeoutS: 5 })).websocketIdleTimeoutMs).toBe(5000);
    expect(buildConfig(options({ websocketIdleTimeoutS: 0 })).websocketIdleTimeoutMs).toBe(0);
    const err = cliErrorOf(() => buildConfig(options({ websocketIdleTimeoutS: -1 })));
    expect(err.message).toBe('--websocket-idle-timeout must be a whole number of seconds, 0 or more (got -1)');
    expect(err.exitCode).toBe(2);
  });

  it('reads the response buffer high watermark as a size, 0 meaning no buffering, and refuses anything else', () => {
    const buffering = (responseBufferHighWatermark: string) => options({ buffering: { bufferUploads: true, responseBufferHighWatermark } });
    expect(buildConfig(buffering('4m')).buffering).toEqual({ bufferUploads: true, responseBufferHighWatermarkBytes: 4 * 1024 * 1024 });
    expect(buildConfig(buffering('0')).buffering.responseBufferHighWatermarkBytes).toBe(0);
    const err = cliErrorOf(() => buildConfig(buffering('lots')));
    expect(err.message).toBe("--response-buffer-high-watermark 'lots' is not a size");
    expect(err.exitCode).toBe(2);
  });

  it('reports a directory without an app as FERRY_ERR_APP_NOT_FOUND with exit code 2', () => {
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    const err = cliErrorOf(() => buildConfig(options({ dir: empty })));
    expect(err.code).toBe('FERRY_ERR_APP_NOT_FOUND');
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain(`no app found in ${empty}`);
    expect(err.suggestions).toHaveLength(1);
  });
});

describe('parseEnvvars', () => {
  it('splits each pair at the first equals sign', () => {
    expect(parseEnvvars(['A=1', 'URL=postgres://u:p@h/db?x=y', 'EMPTY='])).toEqual({ A: '1', URL: 'postgres://u:p@h/db?x=y', EMPTY: '' });
  });

  it('lets a later pair win over an earlier one with the same name', () => {
    expect(parseEnvvars(['A=1', 'A=2'])).toEqual({ A: '2' });
  });

  it.each([['=value', ''], ['1ABC=x', '1ABC'], ['MY-VAR=x', 'MY-VAR'], ['A B=x', 'A B'], ['NO SUCH', 'NO SUCH']])('rejects %j as not NAME=VALUE, naming only the name', (pair, name) => {
    const err = cliErrorOf(() => parseEnvvars([pair]));
    expect(err).toMatchObject({ code: 'FERRY_ERR_CONFIG_INVALID', exitCode: 2, message: `an --envvar is not NAME=VALUE (the name '${name}' is not a variable name)` });
  });
});

describe('buildConfig with several apps', () => {
  it('builds one app config per entry, with its own root, hosts and name', () => {
    const config = buildConfig(options(), [
      { ...options(), name: 'shop', hosts: ['shop.test'], minInstances: 2 },
      { ...options(), name: 'blog', hosts: [] },
    ]);
    expect(config.apps.map((a) => [a.name, a.hosts, a.minInstances])).toEqual([
      ['shop', ['shop.test'], 2],
      ['blog', [], 1],
    ]);
  });

  it('refuses two apps with the same name', () => {
    expect(cliErrorOf(() => buildConfig(options(), [options(), options()])).message).toBe("two apps are named 'hello'");
  });
});

describe('--watch', () => {
  it('watches every app of the instance with the flag (or "watch": true at the top of ferry.json), and one app with "watch" in its entry', () => {
    for (const dir of ['shop', 'blog']) {
      fs.mkdirSync(path.join(tmp, dir));
      fs.writeFileSync(path.join(tmp, dir, 'app.js'), '');
    }
    const file = path.join(tmp, 'ferry.json');
    // What ferry start's parser gives when no flag is typed: every default.
    const defaults = Object.fromEntries(Object.entries(Start.flags).map(([name, flag]) => [name, (flag as { default?: unknown }).default]));
    if (process.getuid?.() === 0) defaults.user = 'root'; // these apps are root's (as FERRY_USER says in the integration tests)
    const watched = (config: unknown, typed: Record<string, unknown> = {}): (boolean | undefined)[] => {
      fs.writeFileSync(file, JSON.stringify(config));
      const { instanceOptions, apps } = resolveStartOptions(tmp, { ...defaults, ...typed, config: file }, new Set(Object.keys(typed)));
      return buildConfig(instanceOptions, apps).apps.map((a) => a.watch);
    };
    const apps = [{ root: 'shop', name: 'shop', hosts: ['shop.test'] }, { root: 'blog', name: 'blog' }];
    expect(watched({ apps })).toEqual([undefined, undefined]);
    expect(watched({ watch: true, apps })).toEqual([true, true]);
    expect(watched({ apps: [{ ...apps[0], watch: true }, apps[1]] })).toEqual([true, undefined]);
    expect(watched({ apps }, { watch: true })).toEqual([true, true]);
    expect(() => watched({ watch: 'yes', apps })).toThrow(`${file}: watch must be true or false (got "yes")`);
  });
});
