// A typed client for one instance's admin API. It reads the token it needs from the instance
// directory and turns transport failures into CLI errors: not running (3) or not responding (4).

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ADMIN_FILES, ROUTES, routePath, type ErrorBody, type RouteName } from '../lib/admin-api-contract.js';
import { isErrorPayload, type ErrorCode } from '../lib/error-codes.js';
import { readProperties, type InstanceInfo } from '../lib/instance-registry.js';
import { CliError } from './errors.js';

export const DEFAULT_ADMIN_TIMEOUT_MS = 10_000;

export class AdminClient {
  constructor(
    readonly instance: InstanceInfo,
    private readonly timeoutMs = DEFAULT_ADMIN_TIMEOUT_MS,
  ) {}

  private token(access: 'read' | 'full'): string {
    const file = path.join(this.instance.dir, access === 'full' ? ADMIN_FILES.fullToken : ADMIN_FILES.readOnlyToken);
    try {
      return fs.readFileSync(file, 'utf8').trim();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM') {
        throw new CliError('FERRY_ERR_ADMIN_UNAUTHORIZED', `not allowed to read the admin token of instance ${this.instance.name}`, [
          'Run this command as the user that started the instance, or as root.',
        ]);
      }
      throw new CliError('FERRY_ERR_INSTANCE_NOT_RUNNING', `instance ${this.instance.name} has no admin token (${file}); it is starting or stopping`, [
        'Try again in a moment.',
      ]);
    }
  }

  /**
   * Calls a route and returns its JSON body; every failure becomes a CliError, always as a
   * rejection (async: a token that cannot be read does not throw synchronously). It speaks plain
   * HTTP/1.1 over a raw socket (one request, Connection: close) rather than through node:http,
   * whose first use costs ~10 ms: `ferry status` must answer in under 100 ms.
   */
  async call<T>(name: RouteName, params: Record<string, string | number> = {}, body?: unknown): Promise<T> {
    const route = ROUTES[name];
    const token = this.token(route.access);
    const socketPath = path.join(this.instance.dir, ADMIN_FILES.socket);
    const payload = body === undefined ? '' : JSON.stringify(body);
    const head =
      `${route.method} ${routePath(name, params)} HTTP/1.1\r\nHost: ferry\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n` +
      (payload ? `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n` : '') +
      '\r\n';
    return new Promise<T>((resolve, reject) => {
      const socket = net.connect(socketPath);
      const chunks: Buffer[] = [];
      let settled = false;
      const fail = (err: CliError): void => {
        if (settled) return;
        settled = true;
        socket.destroy();
        reject(err);
      };
      socket.setTimeout(this.timeoutMs, () => fail(this.transportError(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }))));
      socket.on('connect', () => socket.end(head + payload));
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('error', (err: NodeJS.ErrnoException) => fail(this.transportError(err)));
      socket.on('end', () => {
        if (settled) return;
        const response = parseResponse(Buffer.concat(chunks));
        if (!response) return fail(new CliError('FERRY_ERR_INTERNAL', 'the admin API closed the connection without a complete answer'));
        let parsed: unknown;
        try {
          parsed = JSON.parse(response.body);
        } catch {
          return fail(new CliError('FERRY_ERR_INTERNAL', `the admin API answered ${response.status} with a body that is not JSON`));
        }
        settled = true;
        if (response.status === 200) resolve(parsed as T);
        else reject(this.apiError(response.status, parsed));
      });
    });
  }

  private apiError(status: number, body: unknown): CliError {
    const error = (body as ErrorBody | undefined)?.error;
    if (!isErrorPayload(error)) return new CliError('FERRY_ERR_INTERNAL', `the admin API answered ${status}`);
    const code = error.code as ErrorCode;
    const suggestions: string[] = [];
    const known = (error.details as { known?: unknown } | undefined)?.known;
    if (Array.isArray(known) && known.length > 0) {
      suggestions.push(`Known: ${known.map((k) => (typeof k === 'object' && k !== null ? `${(k as { name: string }).name} (${(k as { root: string }).root})` : String(k))).join(', ')}`);
    }
    if (code === 'FERRY_ERR_ADMIN_UNAUTHORIZED' || code === 'FERRY_ERR_ADMIN_FORBIDDEN') suggestions.push('Run as the user that started the instance, or as root.');
    return new CliError(code, error.message, suggestions);
  }

  private transportError(err: NodeJS.ErrnoException): CliError {
    const name = this.instance.name;
    if (err.code === 'EACCES' || err.code === 'EPERM') {
      return new CliError('FERRY_ERR_ADMIN_UNAUTHORIZED', `not allowed to connect to the admin socket of instance ${name}`, [
        'Run this command as the user that started the instance, or as root.',
      ]);
    }
    if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
      return new CliError('FERRY_ERR_INSTANCE_NOT_RUNNING', `instance ${name} is registered but its core is not running (${err.code})`, [
        'The watchdog restarts a crashed core within a second; try again. If it persists, see the instance log.',
      ]);
    }
    if (err.code === 'ETIMEDOUT' || err.code === 'ECONNRESET') {
      // The pid as the registry has it now: the core may have been restarted since the instance was located.
      const corePid = readProperties(this.instance.dir)?.core_pid ?? this.instance.properties.core_pid;
      return new CliError('FERRY_ERR_CORE_NOT_RESPONDING', `instance ${name} is running but its core${corePid ? ` (pid ${corePid})` : ''} did not answer within ${Math.round(this.timeoutMs / 1000)}s (busy or stuck)`, [
        corePid
          ? `Try again with a longer --timeout; if it stays stuck, see where it is with: ferry crash-watch --dump ${corePid}`
          : 'Try again with a longer --timeout; if it stays stuck, see ferry memory-stats for the core pid, then: ferry crash-watch --dump PID',
      ]);
    }
    return new CliError('FERRY_ERR_INTERNAL', `admin API call to instance ${name} failed: ${err.message}`);
  }
}

/** Splits a complete HTTP/1.1 response (the server closes after it) into status and body. */
export function parseResponse(raw: Buffer): { status: number; body: string } | undefined {
  const text = raw.toString('utf8');
  const headerEnd = text.indexOf('\r\n\r\n');
  if (headerEnd < 0) return undefined;
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  if (!match) return undefined;
  const headers = text.slice(0, headerEnd);
  const body = text.slice(headerEnd + 4);
  // Our admin server always sends Content-Length; a shorter body means a cut connection.
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(headers);
  if (length && Buffer.byteLength(body) < Number(length[1])) return undefined;
  return { status: Number(match[1]), body };
}
