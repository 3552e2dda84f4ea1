import { describe, expect, it } from 'vitest';
import Status from '../../../src/commands/status.js';
import { FAST_STATUS_FLAGS, STATUS_DEFAULTS } from '../../../src/cli/status-fast.js';

describe('the fast path of ferry status', () => {
  it('understands exactly the flags of the oclif command, except --watch which oclif handles', () => {
    const oclif = Object.keys(Status.flags).filter((name) => name !== 'watch').sort();
    expect(Object.keys(FAST_STATUS_FLAGS).sort()).toEqual([...oclif, 'json'].sort());
  });

  it('uses the same defaults as the oclif command', () => {
    expect(Status.flags.show.default).toBe(STATUS_DEFAULTS.show);
    expect(Status.flags.timeout.default).toBe(STATUS_DEFAULTS.timeoutS);
  });
});
