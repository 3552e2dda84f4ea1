import { describe, expect, it } from 'vitest';
import { parseAuthority } from '../../../../src/core/engine/authority.js';

describe('parseAuthority', () => {
  it.each([
    ['Example.COM', 'example.com', 'example.com', undefined],
    ['example.com.', 'example.com', 'example.com', undefined],
    ['example.com:80', 'example.com', 'example.com', undefined],
    ['example.com:', 'example.com', 'example.com', undefined],
    ['example.com:08080', 'example.com', 'example.com:8080', 8080],
    ['127.0.0.1:3000', '127.0.0.1', '127.0.0.1:3000', 3000],
    ['[::1]', '::1', '[::1]', undefined],
    ['[2001:DB8::1]:8443', '2001:db8::1', '[2001:db8::1]:8443', 8443],
    ['a%2Db', 'a%2db', 'a%2db', undefined],
  ])('takes %s as host name %s, canonical %s', (value, name, text, port) => {
    expect(parseAuthority(value, 'http')).toMatchObject({ name, text, port });
  });

  it.each(['', 't/a', 'a b', 'u@a', 'a:65536', 'a:8x', 'a:1:2', '[::1', '[::1]x', '[fe80::1%25eth0]', '[v1.x]', 'a%zz', 'caf\xe9', 'a?b', ':80'])('refuses %j', (value) => {
    expect(parseAuthority(value, 'http')).toBeUndefined();
  });

  it("drops the scheme's own default port only", () => {
    expect(parseAuthority('a:443', 'https')?.text).toBe('a');
    expect(parseAuthority('a:80', 'https')?.text).toBe('a:80');
  });

  it('requires a port when asked (CONNECT)', () => {
    expect(parseAuthority('a', 'http', true)).toBeUndefined();
    expect(parseAuthority('a:443', 'http', true)?.text).toBe('a:443');
  });
});
