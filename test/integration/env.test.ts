// Environments and secrets end to end (issue 20, point 3): env files and ferry.json's env layers
// reach the app in the documented order, no value is on any process's command line, and a missing
// env file stops the start with exit 2 and nothing left running.

import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { execa } from 'execa';
import { AS_ROOT_ENV, BIN, copyFixture, errorLineOf, liveInstances, processesMentioning, removeScratch, runFerry, startDaemon, stopCleanly, tempDir, type TestInstance } from '../helpers/ferry.js';

const roots: string[] = [];
const instances: TestInstance[] = [];

afterEach(() => {
  for (const instance of instances.splice(0)) instance.forceCleanup();
  for (const root of roots.splice(0)) removeScratch(root);
});

function scratch(): { root: string; registry: string; app: string } {
  const root = tempDir('ferry-env-');
  roots.push(root);
  const registry = path.join(root, 'registry');
  fs.mkdirSync(registry);
  return { root, registry, app: copyFixture('env-app', root) };
}

function writeEnv(file: string, text: string): string {
  fs.writeFileSync(file, text, { mode: 0o600 });
  return file;
}

async function appEnv(instance: TestInstance): Promise<Record<string, string>> {
  const res = await fetch(`${instance.url}/env`);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, string>;
}

/** Pids of live processes whose command line (what ps shows) holds `text`. */
function commandLinesHolding(text: string): number[] {
  return fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e)).filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text);
    } catch {
      return false; // gone
    }
  }).map(Number);
}

describe('env files and environments', () => {
  it('layers --envvar over ferry.json env over the environment over env files (later files win), and puts no value on a command line', async () => {
    const { root, registry, app } = scratch();
    writeEnv(path.join(app, '.env'), ['# the app', 'LAYER=file', 'FROM_FILE="multi\nline"', 'FILE_SECRET=file-s3cret-6a1f', 'NODE_ENV=from-file'].join('\n'));
    writeEnv(path.join(app, 'prod.env'), 'LAYER=prod-file\nPROD_FILE=1\n');
    const cliFile = writeEnv(path.join(root, 'cli.env'), 'LAYER=cli-file\nCLI_FILE=1\n');
    fs.writeFileSync(
      path.join(app, 'ferry.json'),
      JSON.stringify({
        envFile: '.env',
        env: { LAYER: 'app', JSON_SECRET: 'json-s3cret-77c2' },
        environments: { production: { 'env-file': 'prod.env', env: { LAYER: 'production', PROD: 'yes' } }, staging: { env: { STAGING: 'yes' } } },
      }),
    );
    const instance = await startDaemon(app, ['-e', 'production', '--env-file', cliFile, '--envvar', 'TOKEN'], registry, { env: { TOKEN: 'token-s3cret-90b4' } });
    instances.push(instance);

    const env = await appEnv(instance);
    expect(env).toMatchObject({ LAYER: 'app', FROM_FILE: 'multi\nline', PROD_FILE: '1', CLI_FILE: '1', PROD: 'yes', TOKEN: 'token-s3cret-90b4', JSON_SECRET: 'json-s3cret-77c2', FILE_SECRET: 'file-s3cret-6a1f' });
    // An env file may set NODE_ENV, which --environment only defaults.
    expect(env.NODE_ENV).toBe('from-file');
    expect(env.STAGING).toBeUndefined();
    // Watchdog, core and app run now: not one has a secret on its command line (what ps shows).
    expect(processesMentioning(registry).length).toBeGreaterThanOrEqual(3);
    for (const secret of ['token-s3cret-90b4', 'json-s3cret-77c2', 'file-s3cret-6a1f']) expect(commandLinesHolding(secret), secret).toEqual([]);

    await stopCleanly(instance);
  });

  it('gives --envvar the last word over an env file', async () => {
    const { root, registry, app } = scratch();
    const file = writeEnv(path.join(root, 'a.env'), 'A=file\nB=file\n');
    const instance = await startDaemon(app, ['--env-file', file, '--envvar', 'A=flag'], registry);
    instances.push(instance);
    expect(await appEnv(instance)).toMatchObject({ A: 'flag', B: 'file' });
    await stopCleanly(instance);
  });

  it('stops at a missing env file with exit 2, a clear error, and nothing left running', async () => {
    const { root, registry, app } = scratch();
    const missing = path.join(root, 'missing.env');
    // Through bin/run.js's own #! line, as a shell runs `ferry`: Node itself must not stop at the missing file.
    const result = await execa(BIN, ['start', app, '--daemonize', '--port', '1', '--env-file', missing], {
      reject: false,
      env: { FERRY_INSTANCE_REGISTRY_DIR: registry, NO_COLOR: '1', ...AS_ROOT_ENV, PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}` },
      stdin: 'ignore',
    });
    const run = { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
    expect(run.exitCode, run.stderr).toBe(EXIT_CODES.usage);
    expect(errorLineOf(run)).toBe(`cannot read env file ${missing}: no such file`);
    expect(liveInstances(registry)).toEqual([]);
    expect(processesMentioning(root)).toEqual([]);
  });

  it('refuses an env file that is a symbolic link, and a bad line by file and line number without its value', async () => {
    const { root, registry, app } = scratch();
    const real = writeEnv(path.join(root, 'real.env'), 'A=1\n');
    const link = path.join(app, '.env');
    fs.symlinkSync(real, link);
    const linked = await runFerry(registry, ['start', app, '--daemonize', '--port', '1', '--env-file', link]);
    expect(linked.exitCode).not.toBe(0);
    expect(errorLineOf(linked)).toBe(`refusing the env file ${link}: it is a symbolic link, which Ferry does not follow`);

    const bad = writeEnv(path.join(root, 'bad.env'), 'A=1\nPASSWORD=pa$$-s3cret\n');
    const run = await runFerry(registry, ['start', app, '--daemonize', '--port', '1', '--env-file', bad]);
    expect(run.exitCode).toBe(EXIT_CODES.usage);
    expect(errorLineOf(run)).toMatch(new RegExp(`^env file ${bad}:2: PASSWORD: '\\$' in an unquoted value`));
    expect(run.stderr).not.toContain('s3cret');
    expect(liveInstances(registry)).toEqual([]);
    expect(processesMentioning(root)).toEqual([]);
  });

  it('ferry restart-app starts processes with the env file as it is now, and refuses to restart on a broken one', async () => {
    const { root, registry, app } = scratch();
    const file = writeEnv(path.join(root, 'app.env'), 'VERSION=1\n');
    const instance = await startDaemon(app, ['--env-file', file, '--envvar', 'PINNED=flag'], registry);
    instances.push(instance);
    expect(await appEnv(instance)).toMatchObject({ VERSION: '1', PINNED: 'flag' });

    writeEnv(file, 'VERSION=2\nADDED=yes\nPINNED=file\n');
    const restart = await runFerry(registry, ['restart-app', '--wait']);
    expect(restart.exitCode, restart.stderr).toBe(0);
    expect(await appEnv(instance)).toMatchObject({ VERSION: '2', ADDED: 'yes', PINNED: 'flag' });
    // A core started later (ferry restart, a crash) spawns with the new variables too.
    const saved = JSON.parse(fs.readFileSync(path.join(instance.info.dir, 'config.json'), 'utf8')) as { apps: { envvars: Record<string, string> }[] };
    expect(saved.apps[0]?.envvars).toMatchObject({ VERSION: '2', ADDED: 'yes' });

    writeEnv(file, 'VERSION=3\nBROKEN=$s3cret\n');
    const refused = await runFerry(registry, ['restart-app', '--wait']);
    expect(refused.exitCode).toBe(EXIT_CODES.usage);
    expect(errorLineOf(refused)).toMatch(new RegExp(`^not restarting env-app: env file ${file}:2: BROKEN:`));
    expect(refused.stderr).not.toContain('s3cret');
    expect(await appEnv(instance)).toMatchObject({ VERSION: '2' });

    await stopCleanly(instance);
  });

  it('warns about an env file others may read, and starts anyway', async () => {
    const { root, registry, app } = scratch();
    const file = path.join(root, 'open.env');
    fs.writeFileSync(file, 'SECRET=1\n');
    fs.chmodSync(file, 0o644);
    const instance = await startDaemon(app, ['--env-file', file], registry);
    instances.push(instance);
    expect(await appEnv(instance)).toMatchObject({ SECRET: '1' });
    await stopCleanly(instance);
    const run = await runFerry(registry, ['systemd-unit', app, '--env-file', file]);
    expect(run.exitCode, run.stderr).toBe(0);
    // oclif wraps warnings at the terminal's width: compare the words.
    expect(run.stderr.replace(/\s*›\s*/g, ' ').replace(/\s+/g, ' ')).toContain(`Warning: env file ${file} may be read by other users; if it holds secrets: chmod 600 ${file}`);
  });
});
