// sd_notify(3): tells systemd how the service is doing (READY=1, STOPPING=1, WATCHDOG=1, ...) with
// one datagram to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or an abstract name "@...").
//
// Node cannot send on an AF_UNIX SOCK_DGRAM socket, so the datagram goes through libc by FFI with
// koffi, whose npm package carries prebuilt binaries for every Linux architecture: nothing compiles
// on the user's machine. The alternatives were worse: unix-dgram and sd-notify are native addons
// that need node-gyp and g++ at install; systemd-notify(1) sends from a short-lived child, which
// systemd attributes to the service only with NotifyAccess=all and, on systemd < 254, races with
// the child's exit. koffi is loaded only when NOTIFY_SOCKET is set, so plain runs never pay for it.

import { loadKoffi } from './koffi.js';

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_NOSIGNAL = 0x4000;
/** sizeof(struct sockaddr_un): a 2-byte family and 108 bytes of path. */
const SOCKADDR_UN_SIZE = 110;

/** The variables systemd sets for the service's main process and that no child should inherit. */
export const SYSTEMD_ENV = ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID', 'LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES'] as const;

/** Encodes $NOTIFY_SOCKET as a struct sockaddr_un and its length; undefined if it is not a valid address. */
export function notifySocketAddress(notifySocket: string): { address: Buffer; length: number } | undefined {
  if (!notifySocket.startsWith('/') && !notifySocket.startsWith('@')) return undefined;
  const name = Buffer.from(notifySocket, 'utf8');
  // An abstract address starts with a NUL byte instead of '@' and is not NUL-terminated.
  if (notifySocket.startsWith('@')) name[0] = 0;
  if (name.length > SOCKADDR_UN_SIZE - 2 - (notifySocket.startsWith('@') ? 0 : 1)) return undefined;
  const address = Buffer.alloc(SOCKADDR_UN_SIZE);
  address.writeUInt16LE(AF_UNIX, 0);
  name.copy(address, 2);
  return { address, length: 2 + name.length + (notifySocket.startsWith('@') ? 0 : 1) };
}

/**
 * The watchdog ping interval systemd asks for, in ms (half of WATCHDOG_USEC, as sd_watchdog_enabled
 * advises), or undefined when the watchdog is off or meant for another process.
 */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid: number): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isSafeInteger(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID !== undefined && env.WATCHDOG_PID !== '' && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 2000));
}

export interface SdNotifier {
  /** Sends one message ("READY=1\nSTATUS=..."); false if the datagram could not be sent. */
  notify(state: string): boolean;
  close(): void;
}

interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  sendto(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: number): number;
  close(fd: number): number;
}

let libc: Libc | undefined;

function loadLibc(): Libc {
  if (libc) return libc;
  const lib = loadKoffi().load('libc.so.6');
  libc = {
    socket: lib.func('int socket(int, int, int)') as Libc['socket'],
    sendto: lib.func('long sendto(int, const void *, size_t, int, const void *, uint32_t)') as Libc['sendto'],
    close: lib.func('int close(int)') as Libc['close'],
  };
  return libc;
}

/** A notifier for $NOTIFY_SOCKET, or undefined when systemd did not ask for notifications. */
export function openSdNotifier(env: NodeJS.ProcessEnv = process.env): SdNotifier | undefined {
  const target = env.NOTIFY_SOCKET ? notifySocketAddress(env.NOTIFY_SOCKET) : undefined;
  if (!target) return undefined;
  const c = loadLibc();
  const fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return undefined;
  let open = true;
  return {
    notify(state: string): boolean {
      if (!open) return false;
      const message = Buffer.from(state, 'utf8');
      return c.sendto(fd, message, message.length, MSG_NOSIGNAL, target.address, target.length) === message.length;
    },
    close(): void {
      if (!open) return;
      open = false;
      c.close(fd);
    },
  };
}
