// Direct mode's balance rule: how many connections a process closes to even out its siblings.

import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

// The loader is a self-contained CommonJS file (it runs inside the app, alone): tested as built,
// since Vite does not load .cts sources. `npm test` builds first.
const { connectionsToShed } = createRequire(import.meta.url)('../../../../dist/core/spawn/node-loader.cjs') as typeof import('../../../../src/core/spawn/node-loader.cjs');

describe('connectionsToShed', () => {
  it('sheds down to the share when one process holds a whole burst', () => {
    expect(connectionsToShed(20, [0])).toBe(10);
    expect(connectionsToShed(16, [4])).toBe(6);
    expect(connectionsToShed(12, [0, 0, 0])).toBe(9);
  });

  it('leaves a balanced or nearly balanced pool alone', () => {
    expect(connectionsToShed(10, [10])).toBe(0);
    expect(connectionsToShed(11, [10])).toBe(0);
    expect(connectionsToShed(3, [2, 2])).toBe(0);
    expect(connectionsToShed(0, [20])).toBe(0);
  });

  it('sheds nothing alone or with nothing open', () => {
    expect(connectionsToShed(50, [])).toBe(0);
    expect(connectionsToShed(0, [0, 0])).toBe(0);
  });

  it('rounds the share up, so an odd total does not bounce a connection for ever', () => {
    // 21 over 2: the share is 11; the process with 12 sheds one, the one with 11 none.
    expect(connectionsToShed(12, [9])).toBe(1);
    expect(connectionsToShed(11, [10])).toBe(0);
  });
});
