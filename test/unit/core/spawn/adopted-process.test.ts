import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { processStartTicks } from '../../../../src/lib/instance-registry.js';
import { AdoptedProcess } from '../../../../src/core/spawn/adopted-process.js';
import { describeUpstream, parseUpstream } from '../../../../src/core/spawn/spawner.js';

describe('AdoptedProcess', () => {
  it('reports the exit of a process it did not spawn, once, with an unknown status', async () => {
    const child = spawn('sleep', ['0.3'], { stdio: 'ignore' });
    const pid = child.pid as number;
    const adopted = new AdoptedProcess(pid, processStartTicks(pid));
    expect(adopted.isAlive()).toBe(true);
    const exits: unknown[] = [];
    adopted.on('exit', (code, signal) => exits.push([code, signal]));
    await new Promise((resolve) => child.once('exit', resolve));
    await new Promise((resolve) => setTimeout(resolve, 600)); // two polls
    adopted.check();
    expect(exits).toEqual([[null, null]]);
    expect(adopted.exitCode).toBe(-1);
  });

  it('takes a pid with another start time for a different process (a reused pid)', () => {
    const adopted = new AdoptedProcess(process.pid, (processStartTicks(process.pid) as number) + 1);
    expect(adopted.isAlive()).toBe(false);
    let exited = false;
    adopted.once('exit', () => (exited = true));
    adopted.check();
    expect(exited).toBe(true);
  });
});

describe('parseUpstream', () => {
  it('reads back what describeUpstream wrote, and refuses anything else', () => {
    for (const address of [{ socketPath: '/tmp/ferry.x/apps.s/app.abc' }, { host: '127.0.0.1', port: 4312 }]) {
      expect(parseUpstream(describeUpstream(address))).toEqual(address);
    }
    expect(parseUpstream('ftp://x')).toBeUndefined();
    expect(parseUpstream('http://127.0.0.1')).toBeUndefined();
  });
});
