import { describe, expect, it } from 'vitest';
import { doorVerdict, isReservedPath, type DoorRequest } from '../../../../src/core/proxy/request-door.js';

function request(over: Partial<DoorRequest> = {}): DoorRequest {
  const rawHeaders = over.rawHeaders ?? ['Host', 'example.com'];
  const headers: DoorRequest['headers'] = {};
  for (let i = 0; i < rawHeaders.length; i += 2) headers[(rawHeaders[i] as string).toLowerCase()] = rawHeaders[i + 1];
  return { method: 'GET', url: '/', httpVersion: '1.1', headers, ...over, rawHeaders };
}

const OPTIONS = { trustForwarded: false, maxBodyBytes: 1024 };

describe('doorVerdict', () => {
  it('admits a plain request with its parsed origin', () => {
    expect(doorVerdict(request({ url: '/a' }), OPTIONS)).toEqual({
      admitted: true,
      origin: { scheme: 'http', host: { host: 'example.com', name: 'example.com', text: 'example.com' }, forwardedHost: undefined, target: '/a' },
    });
  });

  it('refuses, and closes the connection, in this order: framing 400, field count 431, origin 400, reserved path 404, body size 413', () => {
    const refusal = (over: Partial<DoorRequest>): unknown => {
      const verdict = doorVerdict(request(over), OPTIONS);
      return verdict.admitted ? undefined : [verdict.refusal.status, verdict.refusal.close];
    };
    const many = Array.from({ length: 101 }, (_, i) => [`X-${i}`, 'v']).flat();
    expect(refusal({ httpVersion: '2.0', rawHeaders: ['Host', 't/a', ...many] })).toEqual([400, true]);
    expect(refusal({ rawHeaders: ['Host', 't/a', ...many] })).toEqual([431, true]);
    expect(refusal({ url: '/ferry/oob-work', rawHeaders: ['Host', 't/a'] })).toEqual([400, true]);
    expect(refusal({ url: '/ferry/oob-work', rawHeaders: ['Host', 'a', 'Content-Length', '99999'] })).toEqual([404, true]);
    expect(refusal({ url: '/upload', rawHeaders: ['Host', 'a', 'Content-Length', '99999'] })).toEqual([413, true]);
    expect(refusal({ url: '/upload', rawHeaders: ['Host', 'a', 'Content-Length', '1024'] })).toBeUndefined();
  });
});

describe('isReservedPath', () => {
  it("matches Ferry's out-of-band work path however an app's router might take it", () => {
    for (const target of ['/ferry/oob-work', '/ferry/oob-work?x=1', '/Ferry/OOB-Work/', '/ferry//oob-work', '//ferry/oob-work', '/x/../ferry/oob-work', '/./ferry/oob-work', '/%2e%2e/ferry/oob-work', '/ferry/oob%2Dwork', '/%66erry/%6f%6fb-work', '/ferry%2foob-work', '\\ferry\\oob-work', '/ferry/x%2f..%2foob-work']) {
      expect([target, isReservedPath(target)]).toEqual([target, true]);
    }
  });

  it('leaves every other path to the app', () => {
    for (const target of ['/', '*', '/ferry', '/ferry/oob-work-done', '/ferry/oob', '/app/ferry/oob-work', '/ferry/oob-work%zz', '/?/ferry/oob-work']) {
      expect([target, isReservedPath(target)]).toEqual([target, false]);
    }
  });
});
