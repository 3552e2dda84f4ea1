// The access log end to end: the real CLI starts an instance with --access-log, real clients
// send requests that take every path through the front (proxied, static file, cache hit, miss and
// bypass, a refusal at the door, a client that leaves), and each gets one line with its facts;
// logrotate's rename + ferry reopen-logs splits the lines between the files with none lost or
// doubled; bad flags are refused before anything starts.

import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { fixture, freePort, processesMentioning, runFerry, spawnFerry, startDaemon, stopCleanly, tempDir, TestInstance, waitFor } from '../helpers/ferry.js';
import { parseRawResponse, rawExchange } from '../helpers/raw-http.js';

let instance: TestInstance | undefined;

afterEach(() => {
  instance?.forceCleanup();
  instance = undefined;
});

const COMBINED = /^(\S+) - - \[(\d{2}\/\w{3}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "(?:(\S+) (\S+) HTTP\/([\d.]+)|-)" (\d{3}) (\d+) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)" rt=(\d+\.\d{3}) app=(\S+) pid=(\S+) cache=(\S+) rid=(\S+)$/;

interface CombinedLine {
  client: string;
  method: string;
  target: string;
  status: number;
  bytes: number;
  referer: string;
  userAgent: string;
  seconds: number;
  app: string;
  pid: string;
  cache: string;
  rid: string;
}

function combinedLines(file: string): CombinedLine[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const m = COMBINED.exec(line);
      if (!m) throw new Error(`not a combined access line: ${line}`);
      return { client: m[1]!, method: m[3] ?? '-', target: m[4] ?? '-', status: Number(m[6]), bytes: Number(m[7]), referer: m[8]!, userAgent: m[9]!, seconds: Number(m[10]), app: m[11]!, pid: m[12]!, cache: m[13]!, rid: m[14]! };
    });
}

async function get(inst: TestInstance, target: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; bytes: number }> {
  const res = await request(`${inst.url}${target}`, { headers, headersTimeout: 20_000, bodyTimeout: 20_000 });
  const body = await res.body.text();
  return { status: res.statusCode, body, bytes: Buffer.byteLength(body) };
}

describe('--access-log (combined)', () => {
  it('writes one line per request, proxied, static, refused or abandoned, with the facts of each', async () => {
    const registryDir = tempDir('ferry-access-');
    const file = path.join(registryDir, 'access.log');
    instance = await startDaemon(fixture('pid-app'), ['--access-log', file], registryDir);
    const proxied = await get(instance, '/pid?x=1', { 'User-Agent': 'test "agent"', Referer: 'http://ref.test/' });
    const appPid = proxied.body;
    const staticFile = await get(instance, '/hello.txt');
    expect(staticFile.status).toBe(200);
    // Ferry's own path: refused at the door (404), never proxied.
    const refused = parseRawResponse((await rawExchange(instance.port, (s) => s.write('POST /ferry/oob-work HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n'))).received);
    expect(refused?.status).toBe(404);
    // Content-Length and Transfer-Encoding together: refused by the parser (400), no request at all.
    const malformed = await rawExchange(instance.port, (s) => s.write('POST /pid HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'));
    expect(parseRawResponse(malformed.received)?.status).toBe(400);
    // A client that leaves before the answer.
    await rawExchange(instance.port, (s) => {
      s.write('GET /slow?ms=400 HTTP/1.1\r\nHost: x\r\n\r\n');
      setTimeout(() => s.destroy(), 100);
    });

    const lines = await waitFor(() => {
      const found = combinedLines(file);
      return found.length >= 5 ? found : undefined;
    }, 'five access lines', 10_000);
    expect(lines).toHaveLength(5);
    const [first, second, third, parser, fourth] = lines as [CombinedLine, CombinedLine, CombinedLine, CombinedLine, CombinedLine];
    expect(first).toMatchObject({ client: '127.0.0.1', method: 'GET', target: '/pid?x=1', status: 200, referer: 'http://ref.test/', userAgent: 'test \\"agent\\"', app: 'pid-app', pid: appPid, cache: 'miss' });
    expect(first.rid).toMatch(/^[0-9a-f]{6}-/);
    // Bytes sent, headers included: more than the body, less than body + 1 KiB of headers.
    expect(first.bytes).toBeGreaterThan(proxied.bytes);
    expect(first.bytes).toBeLessThan(proxied.bytes + 1024);
    expect(second).toMatchObject({ target: '/hello.txt', status: 200, app: 'pid-app', pid: '-', cache: '-' });
    expect(second.bytes).toBeGreaterThan(staticFile.bytes);
    expect(third).toMatchObject({ method: 'POST', target: '/ferry/oob-work', status: 404, app: '-', pid: '-', cache: '-' });
    expect(parser).toMatchObject({ client: '127.0.0.1', method: '-', target: '-', status: 400, bytes: Buffer.byteLength(malformed.received, 'latin1'), app: '-', pid: '-' });
    expect(fourth).toMatchObject({ target: '/slow?ms=400', status: 499, bytes: 0, app: 'pid-app', pid: appPid });
    expect(fourth.seconds).toBeGreaterThanOrEqual(0.05);
    expect(new Set(lines.map((l) => l.rid)).size).toBe(5);
    await stopCleanly(instance);
  });

  it('ferry reopen-logs after a rename: every line in exactly one file, the last ones in the new file', async () => {
    const registryDir = tempDir('ferry-access-');
    const file = path.join(registryDir, 'access.log');
    instance = await startDaemon(fixture('pid-app'), ['--access-log', file], registryDir);
    const send = async (tag: string, n: number): Promise<string[]> => {
      const tags: string[] = [];
      for (let i = 0; i < n; i++) {
        expect((await get(instance!, `/pid?tag=${tag}-${i}`)).status).toBe(200);
        tags.push(`/pid?tag=${tag}-${i}`);
      }
      return tags;
    };
    const before = await send('before', 10);
    await waitFor(() => combinedLines(file).length === 10, 'the first lines');
    fs.renameSync(file, `${file}.1`);
    const between = await send('between', 10);
    const run = await runFerry(registryDir, ['reopen-logs', '--json']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ accessLog: file });
    const after = await send('after', 10);
    await waitFor(() => combinedLines(file).length === 10, 'the last lines in the new file');
    await stopCleanly(instance);
    expect(combinedLines(`${file}.1`).map((l) => l.target)).toEqual([...before, ...between]);
    expect(combinedLines(file).map((l) => l.target)).toEqual(after);
  });
});

describe('--access-log-format json, from ferry.json', () => {
  it('says hit, miss or bypass for the turbocache, and nothing for a request it had no part in', async () => {
    const registryDir = tempDir('ferry-access-');
    const file = path.join(registryDir, 'access.jsonl');
    const configFile = path.join(registryDir, 'ferry.json');
    fs.writeFileSync(configFile, JSON.stringify({ 'access-log': file, 'access-log-format': 'json', apps: [{ root: fixture('forum-app') }] }));
    instance = await startDaemon(fixture('forum-app'), ['--config', configFile], registryDir);
    expect((await get(instance, '/public-for-all')).status).toBe(200);
    expect((await get(instance, '/public-for-all')).status).toBe(200);
    expect((await request(`${instance.url}/comments`, { method: 'POST', body: 'x' })).statusCode).toBeLessThan(500);
    const lines = await waitFor(() => {
      if (!fs.existsSync(file)) return undefined;
      const found = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
      return found.length >= 3 ? found : undefined;
    }, 'three JSON access lines');
    expect(lines.map((l) => [l.method, l.target, l.cache])).toEqual([
      ['GET', '/public-for-all', 'miss'],
      ['GET', '/public-for-all', 'hit'],
      ['POST', '/comments', 'bypass'],
    ]);
    expect(lines[0]).toMatchObject({ client: '127.0.0.1', protocol: 'HTTP/1.1', status: 200, app: 'forum-app', pid: expect.any(Number), reqId: expect.any(String) });
    expect(lines[1]).not.toHaveProperty('pid');
    expect(Date.parse(String(lines[0]!.time))).toBeGreaterThan(Date.now() - 60_000);
    expect(lines[0]!.durationMs).toEqual(expect.any(Number));
    await stopCleanly(instance);
  });
});

describe('--access-log -', () => {
  it('writes to the terminal of a foreground start', async () => {
    const registryDir = tempDir('ferry-access-');
    const port = await freePort();
    const child = spawnFerry(registryDir, ['start', fixture('pid-app'), '--port', String(port), '--access-log', '-']);
    let output = '';
    child.all?.on('data', (d: Buffer) => (output += d.toString()));
    try {
      await waitFor(() => output.includes('Ferry is serving'), 'the instance to serve', 30_000);
      expect((await request(`http://127.0.0.1:${port}/pid?on=stdout`)).statusCode).toBe(200);
      await waitFor(() => /"GET \/pid\?on=stdout HTTP\/1\.1" 200 \d+ .* app=pid-app pid=\d+ cache=miss rid=\S+\n/.test(output), 'the access line on stdout');
    } finally {
      child.kill('SIGINT');
      await child;
    }
    expect(processesMentioning(registryDir)).toEqual([]);
  });
});

describe('bad --access-log input', () => {
  it.each([
    [['--access-log-format', 'json'], 2, 'FERRY_ERR_CONFIG_INVALID', /--access-log-format needs --access-log/],
    [['--access-log', 'x.log', '--access-log-format', 'apache'], 2, 'FERRY_ERR_USAGE', /apache/],
    [['--access-log', '-', '--daemonize'], 2, 'FERRY_ERR_CONFIG_INVALID', /standard output, which is the log file/],
    [['--access-log', '/nonexistent-dir/access.log'], 5, 'FERRY_ERR_FILE_UNWRITABLE', /cannot open access log \/nonexistent-dir\/access\.log/],
  ])('%j exits %i with %s, and nothing is left running', async (args, exitCode, code, message) => {
    const registryDir = tempDir('ferry-access-');
    const port = await freePort();
    const run = await runFerry(registryDir, ['start', fixture('pid-app'), '--port', String(port), ...args, '--json']);
    expect(run.exitCode, run.stdout + run.stderr).toBe(exitCode);
    const { error } = JSON.parse(run.stdout) as { error: { code: string; message: string } };
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
    expect(processesMentioning(registryDir)).toEqual([]);
    expect(fs.readdirSync(registryDir)).toEqual([]);
  });
});
