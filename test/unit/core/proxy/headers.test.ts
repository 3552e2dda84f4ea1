import { describe, expect, it } from 'vitest';
import { buildDownstreamHeaders, buildUpstreamHeaders, chooseRequestId, type ForwardingFacts } from '../../../../src/core/proxy/headers.js';

// The hosts as the door parsed them (authority.ts): the request's Host, and a trusted front's X-Forwarded-Host.
const TCP: ForwardingFacts = { remoteAddress: '10.0.0.7', trustForwarded: false, requestId: 'req-1', scheme: 'http', host: 'example.com', forwardedHost: undefined };
const TRUSTED_UNIX: ForwardingFacts = { remoteAddress: undefined, trustForwarded: true, requestId: 'req-2', scheme: 'http', host: 'internal:8080', forwardedHost: undefined };

/** Every value of a header (case-insensitive) in a raw [name, value, ...] list. */
function values(raw: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if ((raw[i] as string).toLowerCase() === name.toLowerCase()) out.push(raw[i + 1] as string);
  return out;
}

describe('buildUpstreamHeaders', () => {
  it('removes hop-by-hop headers, including those named in Connection', () => {
    const raw = [
      'Host', 'example.com',
      'Connection', 'keep-alive, X-Private-Hop',
      'Keep-Alive', 'timeout=5',
      'X-Private-Hop', 'secret',
      'TE', 'trailers',
      'Trailer', 'X-Checksum',
      'Proxy-Authorization', 'Basic Zm9vOmJhcg==',
      'Proxy-Connection', 'keep-alive',
      'Upgrade', 'h2c',
      'Accept', '*/*',
    ];
    expect(buildUpstreamHeaders(raw, TCP)).toEqual([
      'Host', 'example.com',
      'Accept', '*/*',
      'X-Forwarded-For', '10.0.0.7',
      'X-Real-IP', '10.0.0.7',
      'X-Forwarded-Proto', 'http',
      'X-Forwarded-Host', 'example.com',
      'X-Request-Id', 'req-1',
    ]);
  });

  it('drops Transfer-Encoding, since the upstream client frames the body it re-sends', () => {
    const out = buildUpstreamHeaders(['Host', 'a', 'Transfer-Encoding', 'chunked', 'Content-Length', '5'], TCP);
    expect(values(out, 'transfer-encoding')).toEqual([]);
    expect(values(out, 'content-length')).toEqual(['5']);
  });

  it('gives the app the Host the door parsed, in place of the one sent (an absolute-form target names its own)', () => {
    const out = buildUpstreamHeaders(['Accept', '*/*', 'host', 'Example.COM:80'], TCP);
    expect(out.slice(0, 4)).toEqual(['Host', 'example.com', 'Accept', '*/*']);
    expect(values(out, 'host')).toEqual(['example.com']);
    // HTTP/1.0 without Host: none is made up.
    expect(values(buildUpstreamHeaders(['Accept', '*/*'], { ...TCP, host: undefined }), 'host')).toEqual([]);
  });

  it("replaces a TCP client's X-Forwarded-For and X-Real-IP with its address: Ferry is the first hop the app can trust", () => {
    const raw = ['X-Forwarded-For', '203.0.113.5', 'Host', 'a', 'x-forwarded-for', '198.51.100.2', 'X-Real-IP', '203.0.113.5'];
    const out = buildUpstreamHeaders(raw, TCP);
    expect(values(out, 'x-forwarded-for')).toEqual(['10.0.0.7']);
    expect(values(out, 'x-real-ip')).toEqual(['10.0.0.7']);
  });

  it('replaces incoming X-Forwarded-Proto and X-Forwarded-Host, and drops Forwarded, when the sender is not trusted', () => {
    const raw = ['Host', 'example.com', 'X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'spoofed.example', 'Forwarded', 'for=1.2.3.4;host=spoofed.example'];
    const out = buildUpstreamHeaders(raw, TCP);
    expect(values(out, 'x-forwarded-proto')).toEqual(['http']);
    expect(values(out, 'x-forwarded-host')).toEqual(['example.com']);
    expect(values(out, 'forwarded')).toEqual([]);
  });

  it("never forwards a client's X-Ferry-* (Ferry's own requests to its apps), trusted front or not", () => {
    const raw = ['Host', 'a', 'X-Ferry-OOB-Work', '1', 'x-ferry-anything', 'x'];
    for (const facts of [TCP, TRUSTED_UNIX]) expect(buildUpstreamHeaders(raw, facts).filter((h) => /^x-ferry-/i.test(h))).toEqual([]);
  });

  it('names the client "unknown" when the connection has no remote address and is not trusted', () => {
    expect(values(buildUpstreamHeaders(['Host', 'a'], { ...TCP, remoteAddress: undefined }), 'x-forwarded-for')).toEqual(['unknown']);
  });

  it("keeps a trusted front's X-Forwarded-For, X-Real-IP and Forwarded, and its scheme and host as the door parsed them", () => {
    const raw = [
      'Host', 'internal:8080',
      'X-Forwarded-For', '203.0.113.5',
      'X-Forwarded-Proto', 'HTTPS',
      'X-Forwarded-Host', 'Public.Example',
      'X-Real-IP', '203.0.113.5',
      'Forwarded', 'for=203.0.113.5',
    ];
    expect(buildUpstreamHeaders(raw, { ...TRUSTED_UNIX, scheme: 'https', forwardedHost: 'public.example' })).toEqual([
      'Host', 'internal:8080',
      'X-Real-IP', '203.0.113.5',
      'Forwarded', 'for=203.0.113.5',
      'X-Forwarded-For', '203.0.113.5',
      'X-Forwarded-Proto', 'https',
      'X-Forwarded-Host', 'public.example',
      'X-Request-Id', 'req-2',
    ]);
  });

  it('falls back to http and the Host header when a trusted front sent no X-Forwarded-*', () => {
    expect(buildUpstreamHeaders(['Host', 'internal:8080'], TRUSTED_UNIX)).toEqual([
      'Host', 'internal:8080',
      'X-Forwarded-Proto', 'http',
      'X-Forwarded-Host', 'internal:8080',
      'X-Request-Id', 'req-2',
    ]);
  });

  it('never lets a client strip Host, Content-Length, Cookie, Authorization or X-Forwarded-* by naming them in Connection', () => {
    const raw = ['Host', 'example.com', 'Content-Length', '3', 'Cookie', 'user_id=alice', 'Authorization', 'Bearer t', 'X-Drop', '1', 'Connection', 'host, content-length, Cookie, AUTHORIZATION, x-forwarded-for, x-drop'];
    const out = buildUpstreamHeaders(raw, TCP);
    expect(out.slice(0, 8)).toEqual(['Host', 'example.com', 'Content-Length', '3', 'Cookie', 'user_id=alice', 'Authorization', 'Bearer t']);
    expect(out).toContain('X-Forwarded-For');
    expect(values(out, 'x-drop')).toEqual([]);
    expect(out.map((h) => h.toLowerCase())).not.toContain('connection');
  });

  it('sets X-Request-Id and replaces one sent by the client', () => {
    const out = buildUpstreamHeaders(['X-Request-Id', 'client-chosen', 'Host', 'a', 'x-request-id', 'another'], TCP);
    expect(values(out, 'x-request-id')).toEqual(['req-1']);
  });

  it('removes Expect, since the proxy already answered 100-continue', () => {
    const out = buildUpstreamHeaders(['Host', 'a', 'Expect', '100-continue', 'Content-Length', '5'], TCP);
    expect(values(out, 'expect')).toEqual([]);
    expect(values(out, 'content-length')).toEqual(['5']);
  });

  it('keeps Connection and Upgrade for an upgrade request', () => {
    const raw = ['Host', 'a', 'Connection', 'Upgrade', 'Upgrade', 'websocket', 'Sec-WebSocket-Key', 'dGhlIHNhbXBsZQ=='];
    const out = buildUpstreamHeaders(raw, { ...TCP, host: 'a', upgrade: true });
    expect(out.slice(0, 8)).toEqual(raw);
  });

  it('drops Connection and Upgrade when the request is not an upgrade', () => {
    const out = buildUpstreamHeaders(['Host', 'a', 'Connection', 'Upgrade', 'Upgrade', 'websocket'], TCP);
    expect(values(out, 'connection')).toEqual([]);
    expect(values(out, 'upgrade')).toEqual([]);
  });

  it('keeps the order, case and duplicates of end-to-end headers', () => {
    const raw = ['x-Custom', 'one', 'Accept', 'text/html', 'X-CUSTOM', 'two', 'cookie', 'a=1', 'Cookie', 'b=2'];
    expect(buildUpstreamHeaders(raw, { ...TCP, host: undefined }).slice(0, raw.length)).toEqual(raw);
  });
});

describe('chooseRequestId', () => {
  const next = (): string => 'ferry-1';

  it("keeps a trusted front's id, so one id follows the request end to end", () => {
    expect(chooseRequestId('front-id:1.2', true, next)).toBe('front-id:1.2');
  });

  it("makes a new one for a TCP client's (it must not choose what marks its log lines), for junk and for none", () => {
    expect(chooseRequestId('forged-id', false, next)).toBe('ferry-1');
    expect(chooseRequestId('bad id\n', true, next)).toBe('ferry-1');
    expect(chooseRequestId('x'.repeat(129), true, next)).toBe('ferry-1');
    expect(chooseRequestId(['a', 'b'], true, next)).toBe('ferry-1');
    expect(chooseRequestId(undefined, true, next)).toBe('ferry-1');
  });
});

describe('buildDownstreamHeaders', () => {
  it('removes hop-by-hop headers, including those named in Connection', () => {
    const raw = [
      'Content-Type', 'text/plain',
      'Connection', 'close, X-Backend-Trace',
      'X-Backend-Trace', 'node-3',
      'Keep-Alive', 'timeout=5',
      'Transfer-Encoding', 'chunked',
      'Content-Length', '12',
    ];
    expect(buildDownstreamHeaders(raw)).toEqual(['Content-Type', 'text/plain', 'Content-Length', '12']);
  });

  it('keeps Upgrade and Connection on a 101, which make the switch, and still drops the headers Connection names', () => {
    const raw = ['Upgrade', 'websocket', 'Connection', 'Upgrade, X-Backend-Trace', 'X-Backend-Trace', 'node-3', 'Sec-WebSocket-Accept', 'abc='];
    expect(buildDownstreamHeaders(raw, true)).toEqual(['Upgrade', 'websocket', 'Connection', 'Upgrade, X-Backend-Trace', 'Sec-WebSocket-Accept', 'abc=']);
    expect(buildDownstreamHeaders(raw)).toEqual(['Sec-WebSocket-Accept', 'abc=']);
  });

  it('keeps every Set-Cookie header, in order', () => {
    const raw = ['Set-Cookie', 'a=1; Path=/', 'Vary', 'Accept', 'set-cookie', 'b=2; HttpOnly'];
    expect(buildDownstreamHeaders(raw)).toEqual(raw);
  });

  it('returns an empty list for no headers', () => {
    expect(buildDownstreamHeaders([])).toEqual([]);
  });
});
