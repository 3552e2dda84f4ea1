import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readConfigFile } from '../../../src/cli/config-file.js';
import { CliError } from '../../../src/cli/errors.js';
import { thrownBy } from '../../helpers/thrown.js';

let dir: string;
let file: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-config-'));
  file = path.join(dir, 'ferry.json');
});

afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(content: unknown): void {
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
}

function errorOf(): CliError {
  return thrownBy(() => readConfigFile(file), CliError);
}

describe('readConfigFile', () => {
  it('reads instance options and apps, with roots relative to the file and hosts lowercased', () => {
    write({ port: 4000, 'max-pool-size': 8, apps: [{ root: 'shop', name: 'shop', hosts: ['Shop.Test'], 'min-instances': 2, envvar: { A: '1' } }, { root: '/srv/blog' }] });
    const config = readConfigFile(file);
    expect(config.options).toEqual({ port: 4000, 'max-pool-size': 8 });
    expect(config.apps).toEqual([
      { root: path.join(dir, 'shop'), name: 'shop', hosts: ['shop.test'], options: { 'min-instances': 2, envvar: ['A=1'] }, environments: {} },
      { root: '/srv/blog', name: undefined, hosts: [], options: {}, environments: {} },
    ]);
  });

  it('names the JSON path of a value of the wrong type', () => {
    write({ apps: [{ root: 'a' }, { root: 'b', 'min-instances': 'two' }] });
    expect(errorOf().message).toBe(`${file}: apps[1].min-instances must be a whole number (got "two")`);
  });

  it('names an unknown option and suggests the one meant', () => {
    write({ 'max-pool': 3 });
    expect(errorOf().message).toBe(`${file}: max-pool is not an option (did you mean "max-pool-size"?)`);
  });

  it('takes turbocache sizes as bytes or "64m"-style strings, and names the path of a bad one', () => {
    write({ 'turbocache-max-bytes': '64m', 'turbocache-max-entry-bytes': 65536, 'vary-turbocache-by-cookie': 'user_id' });
    expect(readConfigFile(file).options).toEqual({ 'turbocache-max-bytes': '64m', 'turbocache-max-entry-bytes': '65536', 'vary-turbocache-by-cookie': 'user_id' });
    write({ 'turbocache-max-bytes': 'huge' });
    expect(errorOf().message).toBe(`${file}: turbocache-max-bytes must be a size: bytes, or a string like "64m" (got "huge")`);
    write({ apps: [{ root: 'a', 'disable-turbocaching': true }] });
    expect(errorOf().message).toBe(`${file}: apps[0].disable-turbocaching belongs to the whole instance; set it at the top level`);
  });

  it('takes client limits at the top level, sizes as bytes or "100m" strings and 0 for no limit', () => {
    write({ 'max-header-size': 8192, 'client-header-timeout': 10, 'client-body-timeout': 0, 'max-body-size': '100m' });
    expect(readConfigFile(file).options).toEqual({ 'max-header-size': 8192, 'client-header-timeout': 10, 'client-body-timeout': 0, 'max-body-size': '100m' });
    write({ 'max-body-size': 0 });
    expect(readConfigFile(file).options).toEqual({ 'max-body-size': '0' });
    write({ 'max-body-size': 'lots' });
    expect(errorOf().message).toBe(`${file}: max-body-size must be a size: bytes, or a string like "100m", or 0 for no limit (got "lots")`);
    write({ 'client-header-timeout': '30s' });
    expect(errorOf().message).toBe(`${file}: client-header-timeout must be a whole number (got "30s")`);
    write({ apps: [{ root: 'a', 'max-body-size': '1m' }] });
    expect(errorOf().message).toBe(`${file}: apps[0].max-body-size belongs to the whole instance; set it at the top level`);
  });

  it('takes the websocket idle timeout in whole seconds, at the top level only', () => {
    write({ 'websocket-idle-timeout': 0 });
    expect(readConfigFile(file).options).toEqual({ 'websocket-idle-timeout': 0 });
    write({ 'websocket-idle-timeout': '60s' });
    expect(errorOf().message).toBe(`${file}: websocket-idle-timeout must be a whole number (got "60s")`);
    write({ apps: [{ root: 'a', 'websocket-idle-timeout': 30 }] });
    expect(errorOf().message).toBe(`${file}: apps[0].websocket-idle-timeout belongs to the whole instance; set it at the top level`);
  });

  it('takes the metrics address and the health check at the top level only', () => {
    write({ 'metrics-address': '127.0.0.1:9464', 'health-check-path': '/healthz', 'health-drain-time': 10 });
    expect(readConfigFile(file).options).toEqual({ 'metrics-address': '127.0.0.1:9464', 'health-check-path': '/healthz', 'health-drain-time': 10 });
    write({ 'health-drain-time': '10s' });
    expect(errorOf().message).toBe(`${file}: health-drain-time must be a whole number (got "10s")`);
    write({ apps: [{ root: 'a', 'health-check-path': '/healthz' }] });
    expect(errorOf().message).toBe(`${file}: apps[0].health-check-path belongs to the whole instance; set it at the top level`);
  });

  it('takes the readiness check per app, and names the path of a bad timeout', () => {
    write({ 'readiness-timeout': 20, apps: [{ root: 'shop', 'readiness-path': '/ready', 'readiness-timeout': 5 }, { root: 'blog' }] });
    const config = readConfigFile(file);
    expect(config.options).toEqual({ 'readiness-timeout': 20 });
    expect(config.apps.map((a) => a.options)).toEqual([{ 'readiness-path': '/ready', 'readiness-timeout': 5 }, {}]);
    write({ apps: [{ root: 'shop', 'readiness-timeout': '5s' }] });
    expect(errorOf().message).toBe(`${file}: apps[0].readiness-timeout must be a whole number (got "5s")`);
  });

  it('keeps instance-wide options out of apps', () => {
    write({ apps: [{ root: 'a', port: 5000 }] });
    expect(errorOf().message).toBe(`${file}: apps[0].port belongs to the whole instance; set it at the top level`);
  });

  it('says where the JSON is broken, and that an app needs a root', () => {
    write('{ "port": 3000, }');
    expect(errorOf().message).toContain(`${file} is not valid JSON`);
    write({ apps: [{ hosts: ['x'] }] });
    expect(errorOf().message).toBe(`${file}: apps[0].root must be the path of the app directory`);
    expect(errorOf().exitCode).toBe(2);
  });
});
