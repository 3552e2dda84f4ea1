import { describe, expect, it } from 'vitest';
import { parseAuthority, requestOrigin, type OriginFacts } from '../../../../src/core/proxy/authority.js';

describe('parseAuthority', () => {
  it('lower-cases the host and drops the default port of the scheme, an empty port and a trailing dot', () => {
    expect(parseAuthority('Example.COM:80', 'http')).toEqual({ host: 'example.com', name: 'example.com', text: 'example.com' });
    expect(parseAuthority('example.com:443', 'https')?.text).toBe('example.com');
    expect(parseAuthority('example.com:', 'http')?.text).toBe('example.com');
    expect(parseAuthority('example.com.', 'http')?.text).toBe('example.com');
    expect(parseAuthority('example.com:080', 'http')?.text).toBe('example.com');
  });

  it('keeps any other port, normalised, as part of the host', () => {
    expect(parseAuthority('example.com:8080', 'http')).toEqual({ host: 'example.com', name: 'example.com', port: 8080, text: 'example.com:8080' });
    expect(parseAuthority('example.com:80', 'https')?.text).toBe('example.com:80');
    expect(parseAuthority('example.com:00443', 'http')?.text).toBe('example.com:443');
  });

  it('takes IPv4 and bracketed IPv6 literals; routing compares IPv6 without its brackets', () => {
    expect(parseAuthority('127.0.0.1:3000', 'http')?.text).toBe('127.0.0.1:3000');
    expect(parseAuthority('[::1]:3000', 'http')).toEqual({ host: '[::1]', name: '::1', port: 3000, text: '[::1]:3000' });
    expect(parseAuthority('[2001:DB8::1]', 'http')?.text).toBe('[2001:db8::1]');
  });

  it('takes every reg-name character of RFC 3986, percent-escapes included', () => {
    expect(parseAuthority("a-b_c~d!$&'()*+,;=%41", 'http')?.text).toBe("a-b_c~d!$&'()*+,;=%41");
  });

  it('refuses anything that is not host[:port]: paths, userinfo, spaces, a second colon, bad ports and literals', () => {
    const bad = ['t/a', 'blog.example/a', 'user@t', 't a', 't?a', 't#a', 't\\a', '', '.', ':80', 't:x', 't:1:2', 't:99999', 't:123456', 't:-1', '%4', '%zz', '::1', '[::1', '[::1]x', '[v1.x]', '[fe80::1%25eth0]', '[1.2.3.4]', 'ü.example'];
    for (const value of bad) expect([value, parseAuthority(value, 'http')]).toEqual([value, undefined]);
  });
});

function facts(over: Partial<OriginFacts> & { headers?: string[] }): OriginFacts {
  const { headers, ...rest } = over;
  return { method: 'GET', target: '/', httpVersion: '1.1', rawHeaders: headers ?? ['Host', 'example.com'], trustForwarded: false, ...rest };
}

describe('requestOrigin', () => {
  it('takes origin-form with its Host, parsed', () => {
    expect(requestOrigin(facts({ target: '/a?b=c', headers: ['host', 'Example.com:80'] }))).toEqual({
      ok: true,
      origin: { scheme: 'http', host: { host: 'example.com', name: 'example.com', text: 'example.com' }, forwardedHost: undefined, target: '/a?b=c' },
    });
  });

  it('takes any path the parser let through as origin-form, and * only for OPTIONS', () => {
    for (const target of ['/', '//double', '/%zz']) expect(requestOrigin(facts({ target })).ok).toBe(true);
    expect(requestOrigin(facts({ method: 'OPTIONS', target: '*' }))).toMatchObject({ ok: true, origin: { target: '*' } });
    expect(requestOrigin(facts({ target: '*' }))).toMatchObject({ ok: false });
  });

  it('turns absolute-form into origin-form, its authority the host and Host ignored (RFC 9112 §3.2.2)', () => {
    expect(requestOrigin(facts({ target: 'http://A.example:80/x?y=1', headers: ['Host', 'other.example'] }))).toMatchObject({ ok: true, origin: { host: { text: 'a.example' }, target: '/x?y=1' } });
    expect(requestOrigin(facts({ target: 'HTTPS://EXAMPLE.TEST' }))).toMatchObject({ ok: true, origin: { host: { text: 'example.test' }, target: '/' } });
    expect(requestOrigin(facts({ target: 'http://example.test?q' }))).toMatchObject({ ok: true, origin: { target: '/?q' } });
    // The scheme the client wrote is not taken: on TCP it is http.
    expect(requestOrigin(facts({ target: 'https://example.test:443/x' }))).toMatchObject({ ok: true, origin: { scheme: 'http', host: { text: 'example.test:443' } } });
  });

  it('refuses other targets, and absolute-form with userinfo, no host or a bad one', () => {
    for (const target of ['http://[::1', 'foo', 'mailto:x@y', '', 'ftp://a/x', 'http://user@a/x', 'http:///x', 'http://a#frag', 'http://t a/x']) {
      expect([target, requestOrigin(facts({ target })).ok]).toEqual([target, false]);
    }
  });

  it('refuses a duplicate Host, an invalid one, and none on HTTP/1.1, even with an absolute-form target (RFC 9112 §3.2)', () => {
    expect(requestOrigin(facts({ headers: ['Host', 'a.example', 'host', 'b.example'] }))).toEqual({ ok: false, reason: 'The request has more than one Host header.' });
    expect(requestOrigin(facts({ headers: ['Host', 't/a'] }))).toEqual({ ok: false, reason: 'The Host header is not a valid host[:port].' });
    expect(requestOrigin(facts({ headers: [] }))).toEqual({ ok: false, reason: 'An HTTP/1.1 request must have a Host header.' });
    expect(requestOrigin(facts({ target: 'http://a.example/', headers: ['Host', 'a.example', 'Host', 'a.example'] })).ok).toBe(false);
    expect(requestOrigin(facts({ target: 'http://a.example/', headers: ['Host', 'x/y'] })).ok).toBe(false);
  });

  it('lets an HTTP/1.0 request name no host', () => {
    expect(requestOrigin(facts({ httpVersion: '1.0', headers: [] }))).toEqual({ ok: true, origin: { scheme: 'http', host: undefined, forwardedHost: undefined, target: '/' } });
  });

  it("ignores X-Forwarded-Host and -Proto from a client that is not trusted (they are not forwarded either)", () => {
    const origin = requestOrigin(facts({ headers: ['Host', 'a', 'X-Forwarded-Host', 'evil', 'X-Forwarded-Host', 'x/y', 'X-Forwarded-Proto', 'gopher'] }));
    expect(origin).toMatchObject({ ok: true, origin: { scheme: 'http', forwardedHost: undefined } });
  });

  it("takes a trusted front's X-Forwarded-Proto as the scheme and its X-Forwarded-Host, parsed for that scheme", () => {
    const origin = requestOrigin(facts({ trustForwarded: true, headers: ['Host', 'internal:443', 'X-Forwarded-Proto', ' HTTPS ', 'X-Forwarded-Host', 'Public.Example:443'] }));
    expect(origin).toMatchObject({ ok: true, origin: { scheme: 'https', host: { text: 'internal' }, forwardedHost: { text: 'public.example' } } });
  });

  it('refuses from a trusted front a list or a repeat where one value belongs: it must overwrite, not append', () => {
    const refused = (headers: string[]): boolean => !requestOrigin(facts({ trustForwarded: true, headers: ['Host', 'a', ...headers] })).ok;
    expect(refused(['X-Forwarded-Host', 'a.example, b.example'])).toBe(true);
    expect(refused(['X-Forwarded-Host', 'a.example', 'X-Forwarded-Host', 'a.example'])).toBe(true);
    expect(refused(['X-Forwarded-Host', 'a/b'])).toBe(true);
    expect(refused(['X-Forwarded-Proto', 'https, http'])).toBe(true);
    expect(refused(['X-Forwarded-Proto', 'https', 'X-Forwarded-Proto', 'https'])).toBe(true);
    expect(refused(['X-Forwarded-Proto', 'gopher'])).toBe(true);
    expect(refused(['X-Forwarded-Host', 'a.example', 'X-Forwarded-Proto', 'http'])).toBe(false);
  });
});
