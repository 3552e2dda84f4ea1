import { describe, expect, it } from 'vitest';
import { friendlyErrorPagesFor } from '../../../../src/cli/launch-instance.js';
import { isLoopbackAddress } from '../../../../src/lib/loopback.js';
import { requestClientAddress, showsSpawnDetails } from '../../../../src/core/proxy/error-page-audience.js';

describe('isLoopbackAddress', () => {
  it('is 127.0.0.0/8, ::1 in any spelling and IPv4-mapped loopback; nothing else, and no names', () => {
    for (const address of ['127.0.0.1', '127.255.0.9', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) expect(isLoopbackAddress(address), address).toBe(true);
    for (const address of ['128.0.0.1', '10.0.0.1', '203.0.113.9', '::ffff:10.0.0.1', 'fe80::1', '::', 'localhost', 'unknown', '', undefined]) expect(isLoopbackAddress(address), String(address)).toBe(false);
  });
});

describe('requestClientAddress', () => {
  it('is the TCP peer on TCP, whatever X-Forwarded-For claims', () => {
    expect(requestClientAddress('203.0.113.9', '127.0.0.1', false)).toBe('203.0.113.9');
    expect(requestClientAddress('127.0.0.1', undefined, false)).toBe('127.0.0.1');
  });

  it("is the entry the trusted front added last behind --socket: earlier ones are the client's claim", () => {
    expect(requestClientAddress(undefined, '203.0.113.9', true)).toBe('203.0.113.9');
    expect(requestClientAddress(undefined, '127.0.0.1, 203.0.113.9', true)).toBe('203.0.113.9');
    expect(requestClientAddress(undefined, ['127.0.0.1', '203.0.113.9'], true)).toBe('203.0.113.9');
    expect(requestClientAddress(undefined, '203.0.113.9, 127.0.0.1', true)).toBe('127.0.0.1');
    expect(requestClientAddress(undefined, '[::1]', true)).toBe('::1');
  });

  it('is unknown behind --socket when the front named no client', () => {
    expect(requestClientAddress(undefined, undefined, true)).toBeUndefined();
    expect(requestClientAddress(undefined, ' , ', true)).toBeUndefined();
  });
});

describe('showsSpawnDetails', () => {
  it('shows them to local clients in the default mode, to all when asked for, to none when off', () => {
    expect(showsSpawnDetails('local', '127.0.0.1')).toBe(true);
    expect(showsSpawnDetails('local', '::1')).toBe(true);
    expect(showsSpawnDetails('local', '203.0.113.9')).toBe(false);
    expect(showsSpawnDetails('local', undefined)).toBe(false);
    expect(showsSpawnDetails('all', '203.0.113.9')).toBe(true);
    expect(showsSpawnDetails('all', undefined)).toBe(true);
    expect(showsSpawnDetails('off', '127.0.0.1')).toBe(false);
  });
});

describe('friendlyErrorPagesFor', () => {
  it('is local in development by default, all when --friendly-error-pages is given, off with --no-friendly-error-pages or elsewhere', () => {
    expect(friendlyErrorPagesFor(undefined, 'development')).toBe('local');
    expect(friendlyErrorPagesFor(undefined, 'production')).toBe('off');
    expect(friendlyErrorPagesFor(true, 'production')).toBe('all');
    expect(friendlyErrorPagesFor(true, 'development')).toBe('all');
    expect(friendlyErrorPagesFor(false, 'development')).toBe('off');
  });
});
