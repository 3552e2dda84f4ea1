// Binds the public listening socket for a new instance. ferry start binds it (so a port in use
// is reported before anything starts) and hands the raw fd to the watchdog, which never polls it:
// a Node process that listened itself would accept connections the core should get.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { ListenAddress } from '../lib/config.js';
import { CliError } from './errors.js';

export interface BoundSocket {
  /** The descriptor to pass to the watchdog as fd 3. */
  fd: number;
  /** Closes our copy; call right after the watchdog is spawned, in the same tick. */
  release(): void;
  /** For a unix socket: the inode of the socket file. */
  inode?: number;
}

const BACKLOG = 2048;

function listenError(err: NodeJS.ErrnoException, where: string, listen: ListenAddress, flag: string): CliError {
  if (err.code === 'EADDRINUSE') {
    return new CliError('FERRY_ERR_LISTEN_IN_USE', `${where} is already in use by another program`, [
      listen.kind === 'tcp' ? `Stop the other server, or choose another port with ${flag}.` : 'Stop the other server, or choose another path with --socket.',
    ]);
  }
  if (err.code === 'EACCES' || err.code === 'EPERM') {
    return new CliError('FERRY_ERR_LISTEN_PERMISSION', `not allowed to listen on ${where} (${err.code})`, [
      listen.kind === 'tcp' ? `Ports below 1024 need root; use a higher port with ${flag} or run behind a front server.` : 'Choose a --socket path in a directory you can write to.',
    ]);
  }
  if (err.code === 'EADDRNOTAVAIL') {
    return new CliError('FERRY_ERR_LISTEN_FAILED', `${where}: no such address on this host`, [`Use an address this host has, such as 127.0.0.1 or ::1, with ${flag === '--port' ? '--address' : flag}.`]);
  }
  return new CliError('FERRY_ERR_LISTEN_FAILED', `could not listen on ${where}: ${err.message}`);
}

function fdOf(server: net.Server): number {
  // libuv's descriptor of a listening server; stable on Unix, undocumented.
  const fd = (server as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new CliError('FERRY_ERR_INTERNAL', 'could not get the descriptor of the listening socket');
  return fd;
}

/** True when something accepts connections on that unix socket path. */
function socketAnswers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/** `flag`: the option that chose a TCP address, named in the advice when binding fails. */
export async function bindListenSocket(listen: ListenAddress, flag = '--port'): Promise<BoundSocket> {
  const server = net.createServer();
  if (listen.kind === 'tcp') {
    const where = `${listen.address}:${listen.port}`;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, where, listen, flag)));
      server.listen({ host: listen.address, port: listen.port, backlog: BACKLOG, exclusive: true }, resolve);
    });
    return { fd: fdOf(server), release: () => server.close() };
  }

  const target = path.resolve(listen.path);
  if (fs.existsSync(target)) {
    if (!fs.lstatSync(target).isSocket()) {
      throw new CliError('FERRY_ERR_LISTEN_FAILED', `${target} exists and is not a socket`, ['Choose another path with --socket, or remove that file.']);
    }
    if (await socketAnswers(target)) throw listenError(Object.assign(new Error('in use'), { code: 'EADDRINUSE' }), target, listen, flag);
  }
  // Bind under a temporary name and rename into place: closing our copy later makes libuv
  // unlink the path it bound, which is then the (gone) temporary name, not the live socket.
  const temporary = `${target}.${process.pid}.tmp`;
  fs.rmSync(temporary, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, target, listen, flag)));
    // Created 0660 by the umask, not chmod'ed after: the socket's directory may be another user's
    // (APP/tmp/sockets), who could swap the name for a symlink that root's chmod would follow.
    // bind(2) runs within listen(), so the umask is ours again before anything else runs.
    const previousUmask = process.umask(0o117);
    try {
      server.listen({ path: temporary, backlog: BACKLOG }, resolve);
    } finally {
      process.umask(previousUmask);
    }
  });
  fs.renameSync(temporary, target);
  return { fd: fdOf(server), release: () => server.close(), inode: fs.lstatSync(target).ino };
}
