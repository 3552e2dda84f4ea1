import { describe, expect, it } from 'vitest';
import { shouldBufferBody } from '../../../../src/core/proxy/request-body.js';

describe('shouldBufferBody', () => {
  it('buffers a body for an app of limited concurrency (WSGI, Rack, --concurrency N)', () => {
    expect(shouldBufferBody(true, 1, false)).toBe(true);
    expect(shouldBufferBody(true, 4, false)).toBe(true);
  });

  it('streams a body to an app of unlimited concurrency unless --buffer-uploads asks otherwise', () => {
    expect(shouldBufferBody(true, 0, false)).toBe(false);
    expect(shouldBufferBody(true, 0, true)).toBe(true);
  });

  it('has nothing to buffer for a request without a body', () => {
    expect(shouldBufferBody(false, 1, true)).toBe(false);
  });
});
