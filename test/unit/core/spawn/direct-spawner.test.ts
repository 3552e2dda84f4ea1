import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FaultInjector } from '../../../../src/core/faults.js';
import { InstanceDirectory } from '../../../../src/core/instance-registry/instance-dir.js';
import { Logger } from '../../../../src/core/log.js';
import { buildAppEnv, DirectSpawner, planLaunch } from '../../../../src/core/spawn/direct-spawner.js';
import { defaultConcurrency } from '../../../../src/cli/launch-instance.js';
import { ASGI_LOADER, NODE_LOADER, RACK_LOADER, WSGI_LOADER } from '../../../../src/lib/paths.js';
import { TEST_APP } from '../../../helpers/app-config.js';

const BASE = { PATH: '/usr/bin', LISTEN_FDS: '1', NODE_OPTIONS: '--inspect', FERRY_INSTANCE_DIR: '/tmp/x', FERRY_FAULTS: 'spawn=0.5', FERRY_FAULTS_SEED: '7' };

describe('planLaunch', () => {
  it('preloads the Node loader and passes the socket for a Node app', () => {
    const plan = planLaunch(TEST_APP, { socketPath: '/i/apps.s/hello.abc' }, BASE);
    expect(plan).toMatchObject({ command: 'node', args: ['--inspect-port=127.0.0.1:0', '--require', NODE_LOADER, '/srv/hello/app.js'], address: { socketPath: '/i/apps.s/hello.abc' }, readiness: 'pipe' });
    expect(plan.env.FERRY_APP_SOCKET).toBe('/i/apps.s/hello.abc');
  });

  it('runs the WSGI loader under the chosen Python, unbuffered', () => {
    const plan = planLaunch({ ...TEST_APP, appType: 'python', startupFile: '/srv/py/passenger_wsgi.py', pythonCommand: '/usr/bin/python3' }, { socketPath: '/s' }, BASE);
    expect(plan).toMatchObject({ command: '/usr/bin/python3', args: [WSGI_LOADER, '/srv/py/passenger_wsgi.py'], readiness: 'pipe' });
    expect(plan.env).toMatchObject({ PYTHONUNBUFFERED: '1', WSGI_ENV: 'test' });
  });

  it('runs the Rack loader under Ruby with RACK_ENV', () => {
    const plan = planLaunch({ ...TEST_APP, appType: 'ruby', startupFile: '/srv/rb/config.ru' }, { socketPath: '/s' }, BASE);
    expect(plan).toMatchObject({ command: 'ruby', args: [RACK_LOADER, '/srv/rb/config.ru'] });
    expect(plan.env.RACK_ENV).toBe('test');
  });

  it('runs the ASGI loader under the chosen Python with ASGI_ENV', () => {
    const plan = planLaunch({ ...TEST_APP, appType: 'asgi', startupFile: '/srv/py/asgi.py', pythonCommand: 'python3' }, { socketPath: '/s' }, BASE);
    expect(plan).toMatchObject({ command: 'python3', args: [ASGI_LOADER, '/srv/py/asgi.py'], readiness: 'pipe' });
    expect(plan.env).toMatchObject({ PYTHONUNBUFFERED: '1', ASGI_ENV: 'test' });
  });

  it("tells the WSGI, ASGI and Rack loaders their thread pool (the app's concurrency) and who sees exception details", () => {
    for (const appType of ['python', 'asgi', 'ruby'] as const) {
      const plan = planLaunch({ ...TEST_APP, appType, limits: { ...TEST_APP.limits, concurrency: 4 }, friendlyErrorPages: 'local' }, { socketPath: '/s' }, BASE);
      expect(plan.env).toMatchObject({ FERRY_CONCURRENCY: '4', FERRY_FRIENDLY_ERRORS: 'local' });
    }
    expect(planLaunch(TEST_APP, { socketPath: '/s' }, BASE).env.FERRY_CONCURRENCY).toBeUndefined();
  });

  it('runs a generic command through the shell with PORT, ready when the port accepts', () => {
    const plan = planLaunch({ ...TEST_APP, appType: 'generic', startCommand: 'exec ./server' }, { port: 40123 }, BASE);
    expect(plan).toMatchObject({ command: '/bin/sh', args: ['-c', 'exec ./server'], address: { host: '127.0.0.1', port: 40123 }, readiness: 'port' });
    expect(plan.env.PORT).toBe('40123');
    expect(plan.env.FERRY_APP_SOCKET).toBeUndefined();
  });
});

describe('buildAppEnv', () => {
  it("keeps Ferry's own variables out of the app and adds the app's", () => {
    const env = buildAppEnv({ ...TEST_APP, envvars: { GREETING: 'hi' } }, '/s', BASE);
    expect(env).toMatchObject({ PATH: '/usr/bin', GREETING: 'hi', NODE_ENV: 'test', IN_FERRY: '1' });
    expect(env.LISTEN_FDS).toBeUndefined();
    expect(env.NODE_OPTIONS).toBeUndefined();
    expect(env.FERRY_INSTANCE_DIR).toBeUndefined();
    // Fault injection is for the core; an app that reads these must not start failing too.
    expect(env.FERRY_FAULTS).toBeUndefined();
    expect(env.FERRY_FAULTS_SEED).toBeUndefined();
  });

  it("lets the app's own variables set NODE_ENV (Ferry's default from --environment), never IN_FERRY or the socket", () => {
    const env = buildAppEnv({ ...TEST_APP, envvars: { NODE_ENV: 'staging', IN_FERRY: '0', FERRY_APP_SOCKET: '/elsewhere' } }, '/s', { ...BASE, NODE_ENV: 'inherited' });
    expect(env).toMatchObject({ NODE_ENV: 'staging', IN_FERRY: '1', FERRY_APP_SOCKET: '/s' });
    expect(buildAppEnv(TEST_APP, '/s', { ...BASE, NODE_ENV: 'inherited' }).NODE_ENV).toBe('test');
  });
});

describe('DirectSpawner with the spawn fault', () => {
  it('fails a spawn as an exit before ready, without starting a process, and logs the fault', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-spawner-'));
    try {
      const lines: string[] = [];
      const log = new Logger({ level: 'warn', format: 'json', sink: { write: (line) => lines.push(line) } });
      const faults = new FaultInjector({ probabilities: { spawn: 1 }, seed: 1, seedChosen: false }, log);
      faults.arm();
      // A startup file that does not exist: had a process been started, the error would say so.
      const spawner = new DirectSpawner(InstanceDirectory.open(dir), log, faults);

      await expect(spawner.spawn({ ...TEST_APP, startupFile: path.join(dir, 'missing.js') })).rejects.toMatchObject({
        code: 'FERRY_ERR_SPAWN_EXITED',
        failure: { category: 'exited-before-ready', exitCode: 1, app: 'hello' },
        message: expect.stringContaining('injected fault (FERRY_FAULTS spawn)'),
      });
      expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([expect.objectContaining({ msg: 'injected fault', fault: 'spawn', app: 'hello' })]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('defaultConcurrency', () => {
  it('is one request at a time for WSGI and Rack, unlimited for ASGI (an event loop), Node and generic apps', () => {
    expect([defaultConcurrency('python'), defaultConcurrency('ruby'), defaultConcurrency('asgi'), defaultConcurrency('node'), defaultConcurrency('generic')]).toEqual([1, 1, 0, 0, 0]);
  });
});
