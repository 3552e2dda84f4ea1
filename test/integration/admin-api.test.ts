// The admin API of a real instance: reachable only through the 0700 instance directory, only
// with a token, never through the public port; transport failures classified for the CLI.

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/cli/admin-client.js';
import { CliError } from '../../src/cli/errors.js';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { ADMIN_FILES } from '../../src/lib/admin-api-contract.js';
import { fixture, startDaemon, type TestInstance } from '../helpers/ferry.js';

let instance: TestInstance | undefined;

afterEach(() => {
  instance?.forceCleanup();
  instance = undefined;
});

function call(socketPath: string, method: string, route: string, token?: string, body?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path: route, headers: token ? { Authorization: `Bearer ${token}` } : {} }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const mode = (file: string): number => fs.statSync(file).mode & 0o777;

describe('admin API', () => {
  it('lives in a 0700 directory behind 0600 files and answers only to its tokens', async () => {
    instance = await startDaemon(fixture('pid-app'));
    const dir = instance.info.dir;
    const socket = path.join(dir, ADMIN_FILES.socket);
    const readOnly = fs.readFileSync(path.join(dir, ADMIN_FILES.readOnlyToken), 'utf8').trim();
    const full = fs.readFileSync(path.join(dir, ADMIN_FILES.fullToken), 'utf8').trim();

    expect(mode(dir)).toBe(0o700);
    expect(mode(socket)).toBe(0o600);
    expect(mode(path.join(dir, ADMIN_FILES.readOnlyToken))).toBe(0o600);
    expect(mode(path.join(dir, ADMIN_FILES.fullToken))).toBe(0o600);

    expect((await call(socket, 'GET', '/v1/pool')).status).toBe(401);
    const wrong = await call(socket, 'GET', '/v1/pool', 'not-the-token');
    expect(wrong.status).toBe(401);
    expect(wrong.json).toEqual({ error: { code: 'FERRY_ERR_ADMIN_UNAUTHORIZED', message: 'the admin token is not valid for this instance' } });
    expect((await call(socket, 'GET', '/v1/pool', readOnly)).status).toBe(200);
    const forbidden = await call(socket, 'POST', '/v1/apps/pid-app/restart', readOnly, '{}');
    expect(forbidden.status).toBe(403);
    expect((forbidden.json.error as { code: string }).code).toBe('FERRY_ERR_ADMIN_FORBIDDEN');
    const changed = await call(socket, 'PATCH', '/v1/config', full, '{"logLevel":"debug"}');
    expect(changed).toMatchObject({ status: 200, json: { logLevel: 'debug' } });
    const tooBig = await call(socket, 'PATCH', '/v1/config', full, JSON.stringify({ logLevel: 'x'.repeat(70_000) }));
    expect(tooBig.status).toBe(413);

    // The public port proxies to the app; the admin routes are not there, token or not.
    const pub = await fetch(`${instance.url}/v1/pool`, { headers: { Authorization: `Bearer ${full}` } });
    expect(await pub.text()).toBe('hello');

    expect((await instance.stop()).exitCode).toBe(0);
  });

  it.runIf(process.getuid?.() === 0)('refuses a process of another user before any token is asked for', async () => {
    instance = await startDaemon(fixture('pid-app'));
    const socket = path.join(instance.info.dir, ADMIN_FILES.socket);
    const script = `
      const net = require('node:net'); const fs = require('node:fs');
      let tokenRead = 'yes'; try { fs.readFileSync(${JSON.stringify(path.join(instance.info.dir, ADMIN_FILES.readOnlyToken))}); } catch (e) { tokenRead = e.code; }
      net.connect(${JSON.stringify(socket)}).on('connect', () => { console.log('connected', tokenRead); process.exit(0); })
        .on('error', (e) => { console.log(e.code, tokenRead); process.exit(0); });`;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { uid: 65534, gid: 65534, timeout: 10_000 });
    expect(stdout.trim()).toBe('EACCES EACCES');
    expect((await instance.stop()).exitCode).toBe(0);
  });

  it('calls a core that does not answer "not responding" (exit 4) and a missing core "not running" (exit 3)', async () => {
    instance = await startDaemon(fixture('pid-app'));
    const corePid = instance.info.properties.core_pid as number;
    const client = new AdminClient(instance.info, 1000);
    process.kill(corePid, 'SIGSTOP');
    try {
      const err = (await client.call('ping').catch((e: unknown) => e)) as CliError;
      expect(err).toBeInstanceOf(CliError);
      expect(err.code).toBe('FERRY_ERR_CORE_NOT_RESPONDING');
      expect(err.exitCode).toBe(EXIT_CODES.notResponding);
      expect(err.message).toContain('did not answer within 1s');
    } finally {
      process.kill(corePid, 'SIGCONT');
    }
    fs.rmSync(path.join(instance.info.dir, ADMIN_FILES.socket));
    const gone = (await client.call('ping').catch((e: unknown) => e)) as CliError;
    expect(gone.code).toBe('FERRY_ERR_INSTANCE_NOT_RUNNING');
    expect(gone.exitCode).toBe(EXIT_CODES.notRunning);
    expect((await instance.stop()).exitCode).toBe(0);
  });
});
