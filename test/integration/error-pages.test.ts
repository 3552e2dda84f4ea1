// "Network clients see no internals on error pages; in development only loopback clients see the
// app's output." The friendly page of an app that cannot start quotes what the app printed, which
// often holds secrets. Behind a trusted front (--socket) the client is the one the front names
// last in X-Forwarded-For: a remote client gets a page that says where the details are; a local
// one, or every client with --friendly-error-pages, gets them. (A loopback TCP client seeing them:
// restart-app.test.ts, "error pages when the app cannot start".)

import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { copyFixture, runFerry, tempDir, trackOnlyInstance, waitFor, type TestInstance } from '../helpers/ferry.js';
import { parseRawResponse, rawExchange, type RawResponse } from '../helpers/raw-http.js';

const OUTPUT = 'new release is broken: FAIL flag present';
const SECRET = 'do-not-leak-me';
const instances: TestInstance[] = [];

afterEach(async () => {
  for (const instance of instances.splice(0)) {
    const stop = await runFerry(instance.registryDir, ['stop']);
    instance.forceCleanup();
    expect(stop.exitCode, stop.stderr).toBe(0);
    expect(instance.survivors()).toEqual([]);
  }
});

/** A GET over the unix socket, as the front server would send it, with its X-Forwarded-For (if any). */
async function getThroughFront(socketPath: string, forwardedFor?: string): Promise<RawResponse> {
  const xff = forwardedFor === undefined ? '' : `X-Forwarded-For: ${forwardedFor}\r\n`;
  const { received } = await rawExchange(socketPath, (s) => s.write(`GET / HTTP/1.1\r\nHost: site.example\r\n${xff}Connection: close\r\n\r\n`));
  const response = parseRawResponse(received);
  if (!response) throw new Error(`no HTTP response: ${JSON.stringify(received)}`);
  return response;
}

/** An instance on --socket (development, the default) whose app then fails to start again. */
async function brokenBehindFront(extraArgs: string[] = []): Promise<{ socketPath: string; logFile: string }> {
  const root = tempDir('ferry-front-');
  const registry = path.join(root, 'registry');
  fs.mkdirSync(registry);
  const socketPath = path.join(root, 'ferry.sock');
  const logFile = path.join(root, 'ferry.log');
  const appDir = copyFixture('fail-on-flag');
  const start = await runFerry(registry, ['start', appDir, '--daemonize', '--socket', socketPath, '--log-file', logFile, '--envvar', `SECRET_TOKEN=${SECRET}`, ...extraArgs]);
  expect(start.exitCode, start.stderr).toBe(0);
  trackOnlyInstance(registry, 0, instances);
  fs.writeFileSync(path.join(appDir, 'FAIL'), '');
  const restart = await runFerry(registry, ['restart-app']);
  expect(restart.exitCode, restart.stderr).toBe(0);
  await waitFor(async () => (await getThroughFront(socketPath, '127.0.0.1')).status === 503, 'a 503 while the app cannot start');
  return { socketPath, logFile };
}

function expectNoDetails(page: RawResponse): void {
  expect(page.status).toBe(503);
  expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(page.body).toContain("What failed and the app's last output are shown only to clients on the server's own machine (loopback)");
  expect(page.body).toContain(`<tr><th>Request id</th><td>${page.headers['x-request-id']}</td></tr>`);
  expect(page.body).not.toContain('FAIL flag');
  expect(page.body).not.toContain('exited-before-ready');
  expect(page.body).not.toContain('Exit code');
  expect(page.body).not.toContain(SECRET);
}

function expectDetails(page: RawResponse): void {
  expect(page.status).toBe(503);
  expect(page.body).toContain(OUTPUT);
  expect(page.body).toContain('exited-before-ready');
  expect(page.body).not.toContain(SECRET);
  expect(page.body).not.toContain('SECRET_TOKEN');
}

describe("the friendly error page shows the app's output", () => {
  it('in development, only to a client the trusted front names as local; others are told it is in the log', async () => {
    const { socketPath, logFile } = await brokenBehindFront();

    const remote = await getThroughFront(socketPath, '203.0.113.9');
    expectNoDetails(remote);
    // A client's own claim comes first; the front appends the address it saw.
    expectNoDetails(await getThroughFront(socketPath, '127.0.0.1, 203.0.113.9'));
    // A front that names nobody: who the client is is unknown, so not local.
    expectNoDetails(await getThroughFront(socketPath));
    expect(remote.body).toContain('The operator finds them in the server log.');
    // And they are there.
    expect(fs.readFileSync(logFile, 'utf8')).toContain(OUTPUT);

    expectDetails(await getThroughFront(socketPath, '127.0.0.1'));
    expectDetails(await getThroughFront(socketPath, '::1'));
  }, 60_000);

  it('to every client when the operator starts Ferry with --friendly-error-pages', async () => {
    const { socketPath } = await brokenBehindFront(['--friendly-error-pages']);
    expectDetails(await getThroughFront(socketPath, '203.0.113.9'));
  }, 60_000);
});
