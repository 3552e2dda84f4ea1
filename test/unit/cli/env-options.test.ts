import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readConfigFile } from '../../../src/cli/config-file.js';
import { loadEnvFile } from '../../../src/cli/env-options.js';
import { mergeEnvLayers } from '../../../src/lib/env-file.js';
import { CliError } from '../../../src/cli/errors.js';
import { buildConfig } from '../../../src/cli/launch-instance.js';
import { resolveStartOptions } from '../../../src/cli/start-options.js';
import Start from '../../../src/commands/start.js';
import { thrownBy } from '../../helpers/thrown.js';

let tmp: string;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-env-'));
});

afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

function write(name: string, content: string, mode = 0o600): string {
  const file = path.join(tmp, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content, { mode });
  fs.chmodSync(file, mode);
  return file;
}

describe('mergeEnvLayers', () => {
  it('ranks --envvar over the app env over the environment env over the env files, later files over earlier', () => {
    const files: Record<string, Record<string, string>> = {
      '/a.env': { ALL: 'file-a', FILES: 'a', ONLY_A: 'a' },
      '/b.env': { ALL: 'file-b', FILES: 'b', ENV: 'file-b', APP: 'file-b' },
    };
    const merged = mergeEnvLayers(
      { files: ['/a.env', '/b.env'], environment: { ALL: 'environment', ENV: 'environment', APP: 'environment' }, app: { ALL: 'app', APP: 'app' }, cli: { ALL: 'cli' } },
      (file) => files[file] as Record<string, string>,
    );
    expect(merged).toEqual({ ALL: 'cli', FILES: 'b', ONLY_A: 'a', ENV: 'environment', APP: 'app' });
  });

  it('gives nothing for no layers', () => {
    expect(mergeEnvLayers({ files: [], environment: {}, app: {}, cli: {} }, () => ({ X: '1' }))).toEqual({});
  });
});

describe('loadEnvFile', () => {
  const warnings: string[] = [];
  const warn = (m: string): void => {
    warnings.push(m);
  };
  beforeEach(() => {
    warnings.length = 0;
  });

  it('reads a 0600 file without a warning', () => {
    expect(loadEnvFile(write('.env', 'A=1\n'), warn)).toEqual({ A: '1' });
    expect(warnings).toEqual([]);
  });

  it('warns, without refusing, about a file others may read, with the chmod that fixes it', () => {
    const file = write('.env', 'SECRET=x\n', 0o644);
    expect(loadEnvFile(file, warn)).toEqual({ SECRET: 'x' });
    expect(warnings).toEqual([`env file ${file} may be read by other users; if it holds secrets: chmod 600 ${file}`]);
  });

  it('says a missing file is missing (a usage error: exit 2)', () => {
    const err = thrownBy(() => loadEnvFile(path.join(tmp, 'nope.env'), warn), CliError);
    expect(err.code).toBe('FERRY_ERR_CONFIG_INVALID');
    expect(err.message).toBe(`cannot read env file ${path.join(tmp, 'nope.env')}: no such file`);
  });

  it('names the file and line of a bad line, never the value', () => {
    const file = write('.env', 'A=1\nB=$s3cret\n');
    const err = thrownBy(() => loadEnvFile(file, warn), CliError);
    expect(err.code).toBe('FERRY_ERR_CONFIG_INVALID');
    expect(err.message).toContain(`env file ${file}:2: B:`);
    expect(err.message).not.toContain('s3cret');
  });

  it('refuses a symbolic link, even to a good file', () => {
    const real = write('real.env', 'A=1\n');
    const link = path.join(tmp, 'link.env');
    fs.symlinkSync(real, link);
    const err = thrownBy(() => loadEnvFile(link, warn), CliError);
    expect(err.code).toBe('FERRY_ERR_FILE_UNSAFE');
    expect(err.message).toBe(`refusing the env file ${link}: it is a symbolic link, which Ferry does not follow`);
  });

  it('refuses a directory, and a file with a second hard link', () => {
    fs.mkdirSync(path.join(tmp, 'dir.env'));
    expect(thrownBy(() => loadEnvFile(path.join(tmp, 'dir.env'), warn), CliError).message).toMatch(/not a regular file \(a directory\)/);
    const file = write('one.env', 'A=1\n');
    fs.linkSync(file, path.join(tmp, 'two.env'));
    expect(thrownBy(() => loadEnvFile(file, warn), CliError).message).toMatch(/2 hard links/);
  });

  it.runIf(process.getuid?.() === 0)('as root, refuses a file another user owns (it could be anything the app user wants root to read)', () => {
    const file = write('.env', 'A=1\n');
    fs.chownSync(file, 65534, 65534);
    const err = thrownBy(() => loadEnvFile(file, warn), CliError);
    expect(err.code).toBe('FERRY_ERR_FILE_UNSAFE');
    expect(err.message).toMatch(/owned by uid 65534, neither root nor the user Ferry runs as/);
  });

  it.runIf(process.getuid?.() === 0)("as root, refuses a file reached through another user's link to a directory", () => {
    write('secret/.env', 'A=1\n');
    const link = path.join(tmp, 'app');
    fs.symlinkSync(path.join(tmp, 'secret'), link);
    fs.lchownSync(link, 65534, 65534);
    const err = thrownBy(() => loadEnvFile(path.join(link, '.env'), warn), CliError);
    expect(err.message).toMatch(/a symbolic link owned by uid 65534, which Ferry does not follow/);
  });
});

describe('ferry.json env keys', () => {
  it('reads "env"/"envFile" as "envvar"/"env-file", paths relative to the file, and "environments"', () => {
    const file = write('ferry.json', JSON.stringify({ env: { A: '1' }, envFile: '.env', environments: { production: { env: { P: '1' }, 'env-file': ['prod.env', '/etc/x.env'] } } }));
    const config = readConfigFile(file);
    expect(config.options).toEqual({ envvar: ['A=1'], 'env-file': [path.join(tmp, '.env')] });
    expect(config.environments).toEqual({ production: { envvar: ['P=1'], 'env-file': [path.join(tmp, 'prod.env'), '/etc/x.env'] } });
  });

  it('refuses an alias with its option, other keys in an environment, and a bad env-file value', () => {
    const errorOf = (content: unknown): string => thrownBy(() => readConfigFile(write('ferry.json', JSON.stringify(content))), CliError).message;
    const file = path.join(tmp, 'ferry.json');
    expect(errorOf({ env: {}, envvar: {} })).toBe(`${file}: env and "envvar" are the same option; keep one`);
    expect(errorOf({ environments: { production: { port: 80 } } })).toBe(`${file}: environments.production.port is not allowed here: an environment sets "env" and "env-file" only`);
    expect(errorOf({ 'env-file': 3 })).toBe(`${file}: env-file must be a path or a list of paths`);
    expect(errorOf({ environments: [] })).toMatch(/environments must be an object/);
  });
});

describe('the environment of an app from ferry.json and flags', () => {
  // What ferry start's parser gives when no flag is typed: every default.
  const defaults = Object.fromEntries(Object.entries(Start.flags).map(([name, flag]) => [name, (flag as { default?: unknown }).default]));
  if (process.getuid?.() === 0) defaults.user = 'root'; // the test's apps are root's

  function envOf(config: unknown, typed: Record<string, unknown> = {}): Record<string, string>[] {
    const file = write('ferry.json', JSON.stringify(config));
    const { instanceOptions, apps } = resolveStartOptions(tmp, { ...defaults, ...typed, config: file }, new Set(Object.keys(typed)));
    return buildConfig(instanceOptions, apps, () => {}).apps.map((a) => a.envvars);
  }

  beforeEach(() => {
    for (const dir of ['shop', 'blog']) write(`${dir}/app.js`, '');
    write('common.env', 'L=common\nFILE=common\n');
    write('shop/.env', 'L=shop-file\nSHOP_FILE=1\n');
    write('prod.env', 'L=prod-file\nPROD_FILE=1\n');
    write('cli.env', 'L=cli-file\nCLI_FILE=1\n');
  });

  it('layers top level, app, environment and command line in the documented order', () => {
    const config = {
      'env-file': 'common.env',
      env: { L: 'top-env', TOP: '1' },
      environments: { production: { 'env-file': 'prod.env', env: { L: 'prod-env', PROD: '1' } }, staging: { env: { STAGING: '1' } } },
      apps: [
        { root: 'shop', name: 'shop', envFile: 'shop/.env', env: { L: 'shop-env' } },
        { root: 'blog', name: 'blog', environments: { production: { env: { BLOG_PROD: '1' } } } },
      ],
    };
    expect(envOf(config, { environment: 'production' })).toEqual([
      { L: 'shop-env', FILE: 'common', SHOP_FILE: '1', PROD_FILE: '1', PROD: '1', TOP: '1' },
      { L: 'top-env', FILE: 'common', PROD_FILE: '1', PROD: '1', BLOG_PROD: '1', TOP: '1' },
    ]);
    // --envvar wins over everything, adding to the file's env rather than replacing it; --env-file comes after the file's.
    expect(envOf(config, { environment: 'staging', envvar: ['L=cli'], 'env-file': [path.join(tmp, 'cli.env')] })).toEqual([
      { L: 'cli', FILE: 'common', SHOP_FILE: '1', CLI_FILE: '1', STAGING: '1', TOP: '1' },
      { L: 'cli', FILE: 'common', CLI_FILE: '1', STAGING: '1', TOP: '1' },
    ]);
  });

  it('stops at a missing env file named in ferry.json, with its absolute path', () => {
    expect(() => envOf({ 'env-file': 'missing.env', apps: [{ root: 'shop' }] })).toThrow(`cannot read env file ${path.join(tmp, 'missing.env')}: no such file`);
  });
});
