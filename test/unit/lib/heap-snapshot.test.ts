import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { captureHeapSnapshot } from '../../../src/lib/diagnostics/heap-snapshot.js';
import { listeningPorts } from '../../../src/lib/diagnostics/js-stack.js';
import { INSPECTOR_PORT } from '../../helpers/inspector.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function scratch(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-heap-'));
  dirs.push(dir);
  return dir;
}

const LIMITS = { timeoutMs: 10_000, maxBytes: 512 * 1024 ** 2 };

describe('captureHeapSnapshot', () => {
  it('writes the snapshot (0600) through the inspector it opens, and closes the inspector again', async () => {
    const child = spawn(process.execPath, ['--inspect-port=127.0.0.1:0', '-e', "globalThis.marker = ['heap', 'marker', 7].join('-'); setInterval(() => {}, 1000)"], { stdio: ['ignore', 'ignore', 'pipe'] });
    let url: string | undefined;
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      const match = /Debugger listening on (ws:\/\/\S+)/.exec(text);
      if (match) url = match[1];
    });
    try {
      await vi.waitFor(() => expect(child.pid).toBeDefined());
      const pid = child.pid as number;
      // Node installs its SIGUSR1 handler during start-up: wait until it runs the script.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const file = path.join(scratch(), 'x.heapsnapshot');
      const result = await captureHeapSnapshot(pid, () => url, file, LIMITS);
      expect(result).toMatchObject({ ok: true });
      const text = fs.readFileSync(file, 'utf8');
      expect(text.startsWith('{"snapshot":')).toBe(true);
      expect(() => JSON.parse(text) as unknown).not.toThrow();
      expect(text).toContain('heap-marker-7');
      expect(result.ok && result.bytes).toBe(Buffer.byteLength(text));
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      expect(INSPECTOR_PORT.test(`Debugger listening on ${url}`)).toBe(true);
      await vi.waitFor(() => expect(listeningPorts(pid)).toEqual([]));
      expect(child.exitCode).toBeNull();
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);

  it('cuts off a snapshot past maxBytes and leaves no file', async () => {
    const child = spawn(process.execPath, ['--inspect-port=127.0.0.1:0', '-e', 'setInterval(() => {}, 1000)'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let url: string | undefined;
    child.stderr.setEncoding('utf8').on('data', (text: string) => (url = /Debugger listening on (ws:\/\/\S+)/.exec(text)?.[1] ?? url));
    try {
      await vi.waitFor(() => expect(child.pid).toBeDefined());
      await new Promise((resolve) => setTimeout(resolve, 300));
      const file = path.join(scratch(), 'x.heapsnapshot');
      expect(await captureHeapSnapshot(child.pid as number, () => url, file, { timeoutMs: 10_000, maxBytes: 1000 })).toEqual({ ok: false, reason: 'the snapshot passed 1000 bytes' });
      expect(fs.existsSync(file)).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);

  it('gives a reason and leaves no file when there is no inspector to open, and never writes over a file', async () => {
    const dir = scratch();
    const file = path.join(dir, 'gone.heapsnapshot');
    // A pid no process has: SIGUSR1 cannot be sent.
    expect(await captureHeapSnapshot(2 ** 22 + 1, () => undefined, file, LIMITS)).toEqual({ ok: false, reason: 'the inspector could not be opened' });
    expect(fs.existsSync(file)).toBe(false);
    const existing = path.join(dir, 'existing.heapsnapshot');
    fs.writeFileSync(existing, 'keep');
    const refused = await captureHeapSnapshot(process.pid, () => undefined, existing, LIMITS);
    expect(refused.ok).toBe(false);
    expect(fs.readFileSync(existing, 'utf8')).toBe('keep');
  });
});
