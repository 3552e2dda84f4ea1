import { spawn } from 'node:child_process';
import { describe, expect, it, vi } from 'vitest';
import { closeInspectorsOpenedSince, INSPECTOR_LINE, listeningPorts } from '../../../src/lib/diagnostics/js-stack.js';

describe('INSPECTOR_LINE', () => {
  it("takes the URL of Node's line for a loopback inspector only: the core connects to what an app's stderr names", () => {
    const url = (line: string): string | undefined => INSPECTOR_LINE.exec(line)?.[1];
    expect(url('Debugger listening on ws://127.0.0.1:40893/9e927c78-16e3-44cb-b462-4635ae70f95e')).toBe('ws://127.0.0.1:40893/9e927c78-16e3-44cb-b462-4635ae70f95e');
    expect(url('Debugger listening on ws://[::1]:9229/9e927c78-16e3-44cb-b462-4635ae70f95e')).toBe('ws://[::1]:9229/9e927c78-16e3-44cb-b462-4635ae70f95e');
    expect(url('Debugger listening on ws://attacker.example:80/x')).toBeUndefined();
    expect(url('Debugger listening on ws://10.0.0.1:9229/x')).toBeUndefined();
  });
});

describe('closeInspectorsOpenedSince', () => {
  it('closes an inspector that opened after the snapshot, and leaves the process running', async () => {
    const child = spawn(process.execPath, ['--inspect-port=127.0.0.1:0', '-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      await vi.waitFor(() => expect(child.pid).toBeDefined());
      const pid = child.pid as number;
      // Node installs its SIGUSR1 handler during start-up: signal until a port opens.
      const before = new Set(listeningPorts(pid));
      await vi.waitFor(
        () => {
          process.kill(pid, 'SIGUSR1');
          expect(listeningPorts(pid).length).toBeGreaterThan(0);
        },
        { timeout: 10_000, interval: 200 },
      );
      const opened = listeningPorts(pid);
      expect(await closeInspectorsOpenedSince(pid, before)).toEqual(opened);
      await vi.waitFor(() => expect(listeningPorts(pid)).toEqual([]));
      expect(child.exitCode).toBeNull();
      // A port already there before is not touched (nothing new now: nothing closed).
      expect(await closeInspectorsOpenedSince(pid, new Set())).toEqual([]);
    } finally {
      child.kill('SIGKILL');
    }
  }, 20_000);
});
