import { describe, expect, it } from 'vitest';
import { checkError, describeCheck, isReady, readinessHost } from '../../../../src/core/pool/readiness.js';
import { UpstreamError } from '../../../../src/core/upstream/upstream-error.js';

describe('the readiness check (pure decisions)', () => {
  it('takes only a 2xx answer as ready: not a redirect, a 404, a 503 or no answer', () => {
    expect([200, 204, 299].map((status) => isReady({ status }))).toEqual([true, true, true]);
    expect([100, 199, 301, 304, 404, 500, 503].map((status) => isReady({ status }))).toEqual([false, false, false, false, false, false, false]);
    expect(isReady({ error: 'ECONNREFUSED' })).toBe(false);
  });

  it('describes a result as status shows it: the status, or the error', () => {
    expect(describeCheck({ status: 503 })).toBe('503');
    expect(describeCheck({ error: 'ECONNREFUSED' })).toBe('ECONNREFUSED');
  });

  it("names a check's error by Node's code, or by what the upstream client saw", () => {
    expect(checkError(Object.assign(new Error('connect ECONNREFUSED /x.sock'), { code: 'ECONNREFUSED' }), 1000)).toBe('ECONNREFUSED');
    expect(checkError(new UpstreamError('FERRY_UPSTREAM_TIMEOUT', 'no answer within 1000 ms'), 1000)).toBe('no answer within 1s');
    expect(checkError(new UpstreamError('FERRY_UPSTREAM_TIMEOUT', 'no answer within 300 ms'), 300)).toBe('no answer within 1s');
    expect(checkError(new UpstreamError('FERRY_UPSTREAM_CLOSED', 'the app closed the connection'), 1000)).toBe('connection closed before an answer');
    expect(checkError(new UpstreamError('FERRY_UPSTREAM_BAD_RESPONSE', 'bad'), 1000)).toBe('not a valid HTTP answer');
    expect(checkError(new Error('something else'), 1000)).toBe('something else');
  });

  it("sends the app's first host name as Host, else localhost", () => {
    expect(readinessHost({ hosts: ['shop.example', 'www.shop.example'] })).toBe('shop.example');
    expect(readinessHost({ hosts: [] })).toBe('localhost');
  });
});
