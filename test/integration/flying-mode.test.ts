// Flying mode: Ferry on a unix socket behind a real nginx (proxy_pass to the socket). Restarting
// nginx, as an operator does on every config change, must leave the core and the app processes
// (same pids, no spawn) serving.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { readWorkerRecords } from '../../src/lib/instance-registry.js';
import { isProcessRunning } from '../../src/lib/process-groups.js';
import { fixture, freePort, liveInstances, runFerry, tempDir, TestInstance, waitFor } from '../helpers/ferry.js';

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => fs.existsSync(p));

let instance: TestInstance | undefined;
let nginx: Nginx | undefined;

afterEach(async () => {
  await nginx?.stop();
  nginx = undefined;
  instance?.forceCleanup();
  instance = undefined;
});

/** Children of a process, from /proc (nginx's workers, which carry no trace of our paths). */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(entry));
    } catch {
      // gone
    }
  }
  return found;
}

/** One nginx master of our own (prefix in a temp dir), started and stopped by pid. */
class Nginx {
  private readonly conf: string;
  private readonly pidFile: string;
  private seen = new Set<number>();

  constructor(
    private readonly dir: string,
    readonly port: number,
    socketPath: string,
  ) {
    this.conf = path.join(dir, 'nginx.conf');
    this.pidFile = path.join(dir, 'nginx.pid');
    for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
    fs.writeFileSync(
      this.conf,
      `${process.getuid?.() === 0 ? 'user root;\n' : ''}worker_processes 1;
daemon on;
pid ${this.pidFile};
error_log ${path.join(dir, 'error.log')};
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  upstream ferry { server unix:${socketPath}; keepalive 16; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://ferry;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }
}
`,
    );
  }

  get masterPid(): number | undefined {
    try {
      return Number(fs.readFileSync(this.pidFile, 'utf8').trim()) || undefined;
    } catch {
      return undefined;
    }
  }

  async start(): Promise<void> {
    execFileSync(NGINX as string, ['-c', this.conf, '-p', this.dir], { stdio: 'pipe', timeout: 10_000 });
    const master = await waitFor(() => this.masterPid, 'nginx to write its pid file');
    this.seen.add(master);
    for (const worker of childrenOf(master)) this.seen.add(worker);
  }

  /** Fast shutdown of the master (SIGTERM), waiting until it and every worker seen are gone. */
  async stop(): Promise<void> {
    const master = this.masterPid;
    if (master) for (const worker of childrenOf(master)) this.seen.add(worker);
    if (master && isProcessRunning(master)) process.kill(master, 'SIGTERM');
    await waitFor(() => [...this.seen].every((pid) => !isProcessRunning(pid)), 'nginx to exit', 10_000).catch(() => {
      for (const pid of this.seen) if (isProcessRunning(pid)) process.kill(pid, 'SIGKILL');
    });
    fs.rmSync(this.pidFile, { force: true });
  }
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await request(url);
  return { status: res.statusCode, body: await res.body.text() };
}

describe('flying mode behind nginx', () => {
  it.skipIf(!NGINX && !process.env.CI)('keeps the core and every app process when nginx restarts', async () => {
    const dir = tempDir('ferry-flying-');
    const registryDir = tempDir('ferry-reg-');
    const socketPath = path.join(dir, 'ferry.sock');
    const logFile = path.join(registryDir, 'ferry.log');
    const start = await runFerry(registryDir, ['start', fixture('pid-app'), '--daemonize', '--socket', socketPath, '--log-file', logFile, '--min-instances', '2', '--max-pool-size', '2']);
    expect(start.exitCode, start.stderr).toBe(0);
    const info = liveInstances(registryDir)[0];
    if (!info) throw new Error('no instance registered');
    instance = new TestInstance(registryDir, 0, info);
    nginx = new Nginx(dir, await freePort(), socketPath);
    await nginx.start();
    const url = `http://127.0.0.1:${nginx.port}`;

    const pidsBefore = readWorkerRecords(info.dir).map((r) => r.pid).sort((a, b) => a - b);
    const coreBefore = instance.refresh().properties.core_pid;
    const served = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const res = await get(`${url}/pid`);
      expect(res.status).toBe(200);
      served.add(res.body);
    }
    // X-Forwarded-For from nginx is kept on a unix socket (a trusted front server).
    const headers = JSON.parse((await get(`${url}/headers`)).body) as { headers: Record<string, string> };
    expect(headers.headers['x-forwarded-for']).toBe('127.0.0.1');

    // The operator restarts nginx (stop, start): Ferry must not notice beyond idle connections closing.
    const oldMaster = nginx.masterPid;
    await nginx.stop();
    await nginx.start();
    expect(nginx.masterPid).not.toBe(oldMaster);
    for (let i = 0; i < 20; i++) {
      const res = await get(`${url}/pid`);
      expect(res.status).toBe(200);
      served.add(res.body);
    }

    expect(instance.refresh().properties.core_pid).toBe(coreBefore);
    expect(readWorkerRecords(info.dir).map((r) => r.pid).sort((a, b) => a - b)).toEqual(pidsBefore);
    expect([...served].map(Number).every((pid) => pidsBefore.includes(pid))).toBe(true);
    expect(fs.readFileSync(logFile, 'utf8').match(/app process ready/g)).toHaveLength(2);

    await nginx.stop();
    expect((await instance.stop()).exitCode).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });
});
