import { describe, expect, it } from 'vitest';
import { readCookie } from '../../../../src/core/turbocache/http-fields.js';

describe('readCookie', () => {
  it('finds a cookie among others, trimming spaces', () => {
    expect(readCookie('a=1; _ferry_route=abc123 ; b=2', '_ferry_route')).toBe('abc123');
  });

  it('does not match a cookie whose name only ends like the one asked for', () => {
    expect(readCookie('x_ferry_route=nope', '_ferry_route')).toBeUndefined();
  });

  it('returns undefined without a Cookie header', () => {
    expect(readCookie(undefined, '_ferry_route')).toBeUndefined();
  });
});
