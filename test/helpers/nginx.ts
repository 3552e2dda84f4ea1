// A real nginx for tests: one master of our own (prefix and pid file in a temp dir) proxying to
// an upstream of Ferry instances, started and stopped by pid.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { isProcessRunning } from '../../src/lib/process-groups.js';
import { waitFor } from './ferry.js';

export const NGINX_BIN = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => fs.existsSync(p));

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

export interface NginxUpstream {
  /** `server` lines of the upstream block, e.g. "unix:/path.sock" or "127.0.0.1:3001 max_fails=1 fail_timeout=1s". */
  servers: string[];
  /** Extra directives in `location /`, e.g. proxy_next_upstream. */
  locationExtra?: string;
}

export class Nginx {
  private readonly conf: string;
  private readonly pidFile: string;
  private readonly seen = new Set<number>();

  constructor(
    private readonly dir: string,
    readonly port: number,
    upstream: NginxUpstream,
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
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  upstream ferry {
${upstream.servers.map((s) => `    server ${s};`).join('\n')}
    keepalive 16;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://ferry;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
${upstream.locationExtra ?? ''}
    }
  }
}
`,
    );
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get masterPid(): number | undefined {
    try {
      return Number(fs.readFileSync(this.pidFile, 'utf8').trim()) || undefined;
    } catch {
      return undefined;
    }
  }

  /** nginx's error log, for failure messages. */
  errorLog(): string {
    try {
      return fs.readFileSync(path.join(this.dir, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  }

  async start(): Promise<void> {
    execFileSync(NGINX_BIN as string, ['-c', this.conf, '-p', this.dir], { stdio: 'pipe', timeout: 10_000 });
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

  /** Pids of nginx processes seen that still run (empty after stop()). */
  survivors(): number[] {
    return [...this.seen].filter(isProcessRunning);
  }
}
