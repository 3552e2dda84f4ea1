import { describe, expect, it } from 'vitest';
import { SpawnError, summarizeOutput } from '../../../../src/core/spawn/spawn-error.js';

const NODE_CRASH = `loading configuration...
/srv/app/app.js:3
throw new Error('database URL is not configured');
^

Error: database URL is not configured
    at Object.<anonymous> (/srv/app/app.js:3:7)
    at Module._compile (node:internal/modules/cjs/loader:1554:14)

Node.js v20.20.2
`;

describe('summarizeOutput', () => {
  it("picks Node's error line over the stack and the version footer", () => {
    expect(summarizeOutput(NODE_CRASH)).toBe('Error: database URL is not configured');
  });

  it('picks the last line that is not noise when no error line is present', () => {
    expect(summarizeOutput('starting\nmissing config file /etc/app.conf\n\n')).toBe('missing config file /etc/app.conf');
  });

  it('returns an empty string for no output', () => {
    expect(summarizeOutput('')).toBe('');
  });
});

describe('SpawnError', () => {
  it('names the exit code and the cause for a process that exited before listening', () => {
    const err = new SpawnError({ category: 'exited-before-ready', step: 'load', app: 'web', exitCode: 1, outputTail: NODE_CRASH, durationMs: 80 }, 90_000);
    expect(err.code).toBe('FERRY_ERR_SPAWN_EXITED');
    expect(err.message).toBe("app 'web' exited with code 1 before it listened: Error: database URL is not configured");
  });

  it('names the start timeout in seconds for a process that never listened', () => {
    const err = new SpawnError({ category: 'timeout', step: 'load', app: 'web', outputTail: '', durationMs: 2000 }, 2000);
    expect(err.code).toBe('FERRY_ERR_SPAWN_TIMEOUT');
    expect(err.message).toBe("app 'web' did not listen within 2s (start timeout)");
  });
});
