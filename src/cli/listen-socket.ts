// Binds the public listening socket for a new instance. ferry start binds it (so a port in use
// is reported before anything starts) and hands the raw fd to the watchdog, which never polls it:
// a Node process that listened itself would accept connections the core should get.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describeListenAddress, type ListenAddress } from '../lib/config.js';
import { scanRegistry, type InstanceInfo } from '../lib/instance-registry.js';
import { CliError } from './errors.js';
import { stopCommandFor } from './locate-instance.js';

export interface BoundSocket {
  /** The descriptor to pass to the watchdog as fd 3. */
  fd: number;
  /** Closes our copy; call right after the watchdog is spawned, in the same tick. */
  release(): void;
  /** For a unix socket: the inode of the socket file. */
  inode?: number;
}

const BACKLOG = 2048;

/** The live Ferry instance (of this registry) that listens on `listen`, if one does: EADDRINUSE is then ours to explain. */
function ferryListeningOn(listen: ListenAddress, registryDir: string | undefined): InstanceInfo | undefined {
  if (registryDir === undefined) return undefined;
  const wanted = listen.kind === 'unix' ? describeListenAddress({ ...listen, path: path.resolve(listen.path) }) : undefined;
  return scanRegistry(registryDir).live.find((i) =>
    i.properties.addresses.some((address) => {
      if (wanted !== undefined) return address === wanted;
      if (listen.kind !== 'tcp' || !URL.canParse(address)) return false;
      const url = new URL(address);
      return (url.port || '80') === String(listen.port);
    }),
  );
}

function listenError(err: NodeJS.ErrnoException, where: string, listen: ListenAddress, flag: string, registryDir?: string): CliError {
  const addressFlag = flag === '--port' ? '--address' : flag;
  if (err.code === 'EADDRINUSE') {
    const ferry = ferryListeningOn(listen, registryDir);
    if (ferry && registryDir !== undefined) {
      const apps = ferry.properties.apps.map((a) => a.root).join(', ');
      return new CliError('FERRY_ERR_LISTEN_IN_USE', `${where} is already in use by Ferry instance ${ferry.name} (watchdog pid ${ferry.properties.watchdog_pid}, serving ${apps})`, [
        `Stop that instance with: ${stopCommandFor(ferry.name, registryDir)}`,
        listen.kind === 'tcp' ? `Or choose another port with ${flag}.` : 'Or choose another path with --socket.',
      ]);
    }
    return new CliError('FERRY_ERR_LISTEN_IN_USE', `${where} is already in use by another program`, [
      listen.kind === 'tcp' ? `Stop the other server, or choose another port with ${flag}.` : 'Stop the other server, or choose another path with --socket.',
    ]);
  }
  if (err.code === 'ENOTFOUND' && listen.kind === 'tcp') {
    return new CliError('FERRY_ERR_USAGE', `cannot resolve host '${listen.address}' given to ${addressFlag}: no such host name`, [
      `Give an IP address of this host (127.0.0.1, ::1, or 0.0.0.0 for all), or a name it resolves (see /etc/hosts), with ${addressFlag}.`,
    ]);
  }
  if (err.code === 'EAI_AGAIN' && listen.kind === 'tcp') {
    return new CliError('FERRY_ERR_LISTEN_FAILED', `cannot resolve host '${listen.address}' given to ${addressFlag} right now (the name server did not answer)`, [
      `Try again, or give an IP address with ${addressFlag} (127.0.0.1, ::1, 0.0.0.0).`,
    ]);
  }
  if (err.code === 'EACCES' || err.code === 'EPERM') {
    return new CliError('FERRY_ERR_LISTEN_PERMISSION', `not allowed to listen on ${where} (${err.code})`, [
      listen.kind === 'tcp' ? `Ports below 1024 need root; use a higher port with ${flag} or run behind a front server.` : 'Choose a --socket path in a directory you can write to.',
    ]);
  }
  if (err.code === 'EADDRNOTAVAIL') {
    return new CliError('FERRY_ERR_LISTEN_FAILED', `${where}: no such address on this host`, [`Use an address this host has, such as 127.0.0.1 or ::1, with ${addressFlag}.`]);
  }
  return new CliError('FERRY_ERR_LISTEN_FAILED', `could not listen on ${where}: ${err.message}`);
}

/** A socket's directory must exist: bind(2) in a missing one fails with an error that reads as a permission problem. */
function checkSocketDirectory(target: string): void {
  const dir = path.dirname(target);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') return; // bind reports it
    throw new CliError('FERRY_ERR_LISTEN_FAILED', `cannot create --socket ${target}: its directory ${dir} does not exist`, [
      `Create the directory first (mkdir -p ${dir}), or choose a --socket path in an existing directory.`,
    ]);
  }
  if (!stat.isDirectory()) throw new CliError('FERRY_ERR_LISTEN_FAILED', `cannot create --socket ${target}: ${dir} is not a directory`, ['Choose a --socket path in a directory.']);
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

/**
 * `flag`: the option that chose a TCP address, named in the advice when binding fails.
 * `registryDir`: where to look for a Ferry instance that holds the address already, to name it.
 */
export async function bindListenSocket(listen: ListenAddress, flag = '--port', registryDir?: string): Promise<BoundSocket> {
  const server = net.createServer();
  if (listen.kind === 'tcp') {
    const where = `${listen.address}:${listen.port}`;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, where, listen, flag, registryDir)));
      server.listen({ host: listen.address, port: listen.port, backlog: BACKLOG, exclusive: true }, resolve);
    });
    return { fd: fdOf(server), release: () => server.close() };
  }

  const target = path.resolve(listen.path);
  checkSocketDirectory(target);
  if (fs.existsSync(target)) {
    if (!fs.lstatSync(target).isSocket()) {
      throw new CliError('FERRY_ERR_LISTEN_FAILED', `${target} exists and is not a socket`, ['Choose another path with --socket, or remove that file.']);
    }
    if (await socketAnswers(target)) throw listenError(Object.assign(new Error('in use'), { code: 'EADDRINUSE' }), target, listen, flag, registryDir);
  }
  // Bind under a temporary name and rename into place: closing our copy later makes libuv
  // unlink the path it bound, which is then the (gone) temporary name, not the live socket.
  const temporary = `${target}.${process.pid}.tmp`;
  fs.rmSync(temporary, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, target, listen, flag, registryDir)));
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
