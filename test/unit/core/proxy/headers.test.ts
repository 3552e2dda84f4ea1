import { describe, expect, it } from 'vitest';
import { buildDownstreamHeaders, buildUpstreamHeaders, type ForwardingFacts } from '../../../../src/core/proxy/headers.js';

const TCP: ForwardingFacts = { remoteAddress: '10.0.0.7', trustForwarded: false, requestId: 'req-1' };
const TRUSTED_UNIX: ForwardingFacts = { remoteAddress: undefined, trustForwarded: true, requestId: 'req-2' };

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

  it('appends the client address to every incoming X-Forwarded-For on TCP', () => {
    const raw = ['X-Forwarded-For', '203.0.113.5', 'Host', 'a', 'x-forwarded-for', '198.51.100.2'];
    expect(values(buildUpstreamHeaders(raw, TCP), 'x-forwarded-for')).toEqual(['203.0.113.5, 198.51.100.2, 10.0.0.7']);
  });

  it('replaces incoming X-Forwarded-Proto and X-Forwarded-Host when the sender is not trusted', () => {
    const raw = ['Host', 'real.example', 'X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'spoofed.example'];
    const out = buildUpstreamHeaders(raw, TCP);
    expect(values(out, 'x-forwarded-proto')).toEqual(['http']);
    expect(values(out, 'x-forwarded-host')).toEqual(['real.example']);
  });

  it('names the client "unknown" when the connection has no remote address and is not trusted', () => {
    expect(values(buildUpstreamHeaders(['Host', 'a'], { ...TCP, remoteAddress: undefined }), 'x-forwarded-for')).toEqual(['unknown']);
  });

  it('keeps the incoming X-Forwarded-* when the front server is trusted', () => {
    const raw = [
      'Host', 'internal:8080',
      'X-Forwarded-For', '203.0.113.5',
      'X-Forwarded-Proto', 'https',
      'X-Forwarded-Proto', 'http',
      'X-Forwarded-Host', 'public.example',
    ];
    expect(buildUpstreamHeaders(raw, TRUSTED_UNIX)).toEqual([
      'Host', 'internal:8080',
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

  it('never lets a client strip Host, Content-Length or X-Forwarded-* by naming them in Connection', () => {
    const raw = ['Host', 'example.test', 'Content-Length', '3', 'Connection', 'host, content-length, x-forwarded-for, x-drop'];
    const out = buildUpstreamHeaders(raw, { remoteAddress: '127.0.0.1', trustForwarded: false, requestId: 'r1' });
    expect(out.slice(0, 4)).toEqual(['Host', 'example.test', 'Content-Length', '3']);
    expect(out).toContain('X-Forwarded-For');
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
    const out = buildUpstreamHeaders(raw, { ...TCP, upgrade: true });
    expect(out.slice(0, 8)).toEqual(raw);
  });

  it('drops Connection and Upgrade when the request is not an upgrade', () => {
    const out = buildUpstreamHeaders(['Host', 'a', 'Connection', 'Upgrade', 'Upgrade', 'websocket'], TCP);
    expect(values(out, 'connection')).toEqual([]);
    expect(values(out, 'upgrade')).toEqual([]);
  });

  it('keeps the order, case and duplicates of end-to-end headers', () => {
    const raw = ['x-Custom', 'one', 'Accept', 'text/html', 'X-CUSTOM', 'two', 'cookie', 'a=1', 'Cookie', 'b=2'];
    expect(buildUpstreamHeaders(raw, TCP).slice(0, raw.length)).toEqual(raw);
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
