// The sticky-session cookie (--sticky-sessions), read and written.

import { describe, expect, it } from 'vitest';
import { stickyCookieFor, stickyIdOf } from '../../../../src/core/proxy/sticky-session.js';

const sticky = { stickySessions: true, stickyCookieName: '_ferry_route' };
const plain = { stickySessions: false, stickyCookieName: '_ferry_route' };

describe('stickyIdOf', () => {
  it('reads the process id from the sticky cookie among others, only when the app has sticky sessions', () => {
    expect(stickyIdOf(sticky, 'a=1; _ferry_route=abc123; b=2')).toBe('abc123');
    expect(stickyIdOf(sticky, 'a=1')).toBeUndefined();
    expect(stickyIdOf(sticky, undefined)).toBeUndefined();
    expect(stickyIdOf(plain, '_ferry_route=abc123')).toBeUndefined();
  });
});

describe('stickyCookieFor', () => {
  it('names the process that answered unless the client cookie names it already', () => {
    expect(stickyCookieFor(sticky, 'a=1', 'abc123')).toBe('_ferry_route=abc123; Path=/; HttpOnly; SameSite=Lax');
    expect(stickyCookieFor(sticky, '_ferry_route=other', 'abc123')).toBe('_ferry_route=abc123; Path=/; HttpOnly; SameSite=Lax');
    expect(stickyCookieFor(sticky, '_ferry_route=abc123', 'abc123')).toBeUndefined();
    expect(stickyCookieFor(plain, undefined, 'abc123')).toBeUndefined();
  });
});
