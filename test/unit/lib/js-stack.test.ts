import { describe, expect, it } from 'vitest';
import { INSPECTOR_LINE } from '../../../src/lib/diagnostics/js-stack.js';

describe('INSPECTOR_LINE', () => {
  it("takes the URL of Node's line for a loopback inspector only: the core connects to what an app's stderr names", () => {
    const url = (line: string): string | undefined => INSPECTOR_LINE.exec(line)?.[1];
    expect(url('Debugger listening on ws://127.0.0.1:40893/9e927c78-16e3-44cb-b462-4635ae70f95e')).toBe('ws://127.0.0.1:40893/9e927c78-16e3-44cb-b462-4635ae70f95e');
    expect(url('Debugger listening on ws://[::1]:9229/9e927c78-16e3-44cb-b462-4635ae70f95e')).toBe('ws://[::1]:9229/9e927c78-16e3-44cb-b462-4635ae70f95e');
    expect(url('Debugger listening on ws://attacker.example:80/x')).toBeUndefined();
    expect(url('Debugger listening on ws://10.0.0.1:9229/x')).toBeUndefined();
  });
});
