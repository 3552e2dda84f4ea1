import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CoreError } from '../../../../src/core/errors.js';
import { rereadAppEnv } from '../../../../src/core/pool/app-env.js';
import { TEST_APP } from '../../../helpers/app-config.js';
import { thrownBy } from '../../../helpers/thrown.js';

let tmp: string;
let file: string;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-app-env-'));
  file = path.join(tmp, '.env');
  fs.writeFileSync(file, 'A=1\nB=1\n', { mode: 0o600 });
});

afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('rereadAppEnv', () => {
  it('reads the env files again into envvars, keeping the layers above them, and names what changed', () => {
    const app = { ...TEST_APP, envvars: { A: '1', B: '1', C: 'cli' }, envLayers: { files: [file], environment: {}, app: {}, cli: { C: 'cli' } } };
    fs.writeFileSync(file, 'A=2\nC=file\nD=new\n');
    expect(rereadAppEnv(app)).toEqual(['A', 'B', 'D']);
    expect(app.envvars).toEqual({ A: '2', C: 'cli', D: 'new' });
    expect(rereadAppEnv(app)).toEqual([]);
  });

  it('does nothing for an app without env files', () => {
    const app = { ...TEST_APP, envvars: { A: '1' } };
    expect(rereadAppEnv(app)).toEqual([]);
    expect(app.envvars).toEqual({ A: '1' });
  });

  it('refuses, keeping envvars as they were, when a file is gone, bad, or a link', () => {
    const app = { ...TEST_APP, name: 'shop', envvars: { A: '1', B: '1' }, envLayers: { files: [file], environment: {}, app: {}, cli: {} } };
    fs.writeFileSync(file, 'A=1\nB=$oops-s3cret\n');
    const bad = thrownBy(() => rereadAppEnv(app), CoreError);
    expect(bad.code).toBe('FERRY_ERR_CONFIG_INVALID');
    expect(bad.message).toMatch(new RegExp(`^not restarting shop: env file ${file}:2: B:`));
    expect(bad.message).not.toContain('s3cret');
    fs.rmSync(file);
    expect(thrownBy(() => rereadAppEnv(app), CoreError).message).toMatch(/^not restarting shop: cannot read an env file: ENOENT/);
    fs.writeFileSync(path.join(tmp, 'real.env'), 'A=3\n');
    fs.symlinkSync(path.join(tmp, 'real.env'), file);
    expect(thrownBy(() => rereadAppEnv(app), CoreError).code).toBe('FERRY_ERR_FILE_UNSAFE');
    expect(app.envvars).toEqual({ A: '1', B: '1' });
  });
});
