import { describe, expect, it } from 'vitest';
import { decideListenFds, isListeningStreamSocket } from '../../../src/cli/socket-activation.js';

describe('decideListenFds', () => {
  it('takes fd 3 when LISTEN_FDS=1 is meant for this pid', () => {
    expect(decideListenFds({ LISTEN_FDS: '1', LISTEN_PID: '42' }, 42)).toEqual({ use: true, fd: 3 });
  });

  it('ignores sockets meant for another process, or none', () => {
    expect(decideListenFds({ LISTEN_FDS: '1', LISTEN_PID: '41' }, 42)).toEqual({ use: false });
    expect(decideListenFds({ LISTEN_FDS: '1' }, 42)).toEqual({ use: false });
    expect(decideListenFds({}, 42)).toEqual({ use: false });
    expect(decideListenFds({ LISTEN_FDS: '0', LISTEN_PID: '42' }, 42)).toEqual({ use: false });
  });

  it('refuses more than one socket, naming them, and a count that is not a number', () => {
    expect(decideListenFds({ LISTEN_FDS: '2', LISTEN_PID: '42', LISTEN_FDNAMES: 'http:https' }, 42)).toEqual({
      use: false,
      error: 'systemd passed 2 sockets (LISTEN_FDS=2, http:https); Ferry serves exactly one',
    });
    expect(decideListenFds({ LISTEN_FDS: 'x', LISTEN_PID: '42' }, 42)).toMatchObject({ use: false, error: expect.stringContaining('LISTEN_FDS=x') });
  });
});

// Lines as the kernel writes them (header first); inode is the 10th field of tcp, the 7th of unix.
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F91 0100007F:A000 01 00000000:00000000 00:00000000 00000000     0        0 2222 1 0000000000000000 20 4 30 10 -1
`;
const UNIX = `Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 3333 /run/app.sock
0000000000000000: 00000002 00000000 00000000 0002 01 4444 /run/systemd/notify
0000000000000000: 00000003 00000000 00000000 0001 03 5555
`;

describe('isListeningStreamSocket', () => {
  const procNet = (name: string): string => {
    if (name === 'tcp') return TCP;
    if (name === 'unix') return UNIX;
    throw new Error('ENOENT'); // no tcp6 on this host
  };

  it('knows a listening TCP socket and a listening unix stream socket by inode', () => {
    expect(isListeningStreamSocket(1111, procNet)).toBe(true);
    expect(isListeningStreamSocket(3333, procNet)).toBe(true);
  });

  it('rejects a connected TCP socket, a datagram socket, a connected unix stream and an unknown inode', () => {
    expect(isListeningStreamSocket(2222, procNet)).toBe(false);
    expect(isListeningStreamSocket(4444, procNet)).toBe(false);
    expect(isListeningStreamSocket(5555, procNet)).toBe(false);
    expect(isListeningStreamSocket(9999, procNet)).toBe(false);
  });
});
