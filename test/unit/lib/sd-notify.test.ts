import { describe, expect, it } from 'vitest';
import { notifySocketAddress, openSdNotifier, watchdogIntervalMs } from '../../../src/lib/sd-notify.js';

describe('notifySocketAddress', () => {
  it('encodes a path as AF_UNIX with a terminating NUL', () => {
    const encoded = notifySocketAddress('/run/systemd/notify')!;
    expect(encoded.address.readUInt16LE(0)).toBe(1);
    expect(encoded.address.subarray(2, encoded.length).toString()).toBe('/run/systemd/notify\0');
  });

  it('encodes an abstract @name with a leading NUL and no terminator', () => {
    const encoded = notifySocketAddress('@ferry/notify')!;
    expect(encoded.length).toBe(2 + '@ferry/notify'.length);
    expect([...encoded.address.subarray(2, encoded.length)]).toEqual([0, ...Buffer.from('ferry/notify')]);
  });

  it('rejects a relative name and a path too long for sockaddr_un', () => {
    expect(notifySocketAddress('run/notify')).toBeUndefined();
    expect(notifySocketAddress(`/${'x'.repeat(107)}`)).toBeUndefined();
    expect(notifySocketAddress(`/${'x'.repeat(106)}`)).toBeDefined();
  });
});

describe('watchdogIntervalMs', () => {
  it('pings at half of WATCHDOG_USEC', () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' }, 7)).toBe(15_000);
  });

  it('is off without WATCHDOG_USEC, with a bad one, or when WATCHDOG_PID names another process', () => {
    expect(watchdogIntervalMs({}, 7)).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '0' }, 7)).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: 'soon' }, 7)).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '1000000', WATCHDOG_PID: '8' }, 7)).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '1000000', WATCHDOG_PID: '7' }, 7)).toBe(500);
  });
});

describe('openSdNotifier', () => {
  it('is undefined without a usable NOTIFY_SOCKET (and loads no FFI then)', () => {
    expect(openSdNotifier({})).toBeUndefined();
    expect(openSdNotifier({ NOTIFY_SOCKET: 'relative' })).toBeUndefined();
  });
});
