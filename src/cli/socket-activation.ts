// systemd socket activation (sd_listen_fds(3)): when systemd passes ferry start a listening socket
// as fd 3 (LISTEN_FDS=1, LISTEN_PID=our pid), the instance serves it instead of binding its own.

import fs from 'node:fs';
import net from 'node:net';
import type { ListenAddress } from '../lib/config.js';
import { CliError } from './errors.js';
import type { BoundSocket } from './listen-socket.js';

/** sd_listen_fds(3): passed sockets start at fd 3. */
export const SD_LISTEN_FDS_START = 3;

export type ListenFdsDecision = { use: false } | { use: true; fd: number } | { use: false; error: string };

/** Reads LISTEN_FDS/LISTEN_PID: the fd to serve, nothing (not for us), or why they are unusable. */
export function decideListenFds(env: NodeJS.ProcessEnv, pid: number): ListenFdsDecision {
  if (env.LISTEN_FDS === undefined || env.LISTEN_FDS === '') return { use: false };
  // Meant for another process (we were started by one that got them): not ours to take.
  if (env.LISTEN_PID === undefined || Number(env.LISTEN_PID) !== pid) return { use: false };
  const count = Number(env.LISTEN_FDS);
  if (!Number.isInteger(count) || count < 0) return { use: false, error: `LISTEN_FDS=${env.LISTEN_FDS} is not a number of sockets` };
  if (count === 0) return { use: false };
  if (count > 1) return { use: false, error: `systemd passed ${count} sockets (LISTEN_FDS=${count}${env.LISTEN_FDNAMES ? `, ${env.LISTEN_FDNAMES}` : ''}); Ferry serves exactly one` };
  return { use: true, fd: SD_LISTEN_FDS_START };
}

/**
 * Whether the socket with this inode listens for streams: /proc/net/{tcp,tcp6} state 0A (LISTEN),
 * or /proc/net/unix flag __SO_ACCEPTCON with type SOCK_STREAM. Node has no getsockopt(SO_ACCEPTCONN),
 * and listening on an unbound socket would quietly bind it to a random port.
 */
export function isListeningStreamSocket(inode: number, procNet: (name: string) => string = (name) => fs.readFileSync(`/proc/net/${name}`, 'utf8')): boolean {
  const ino = String(inode);
  for (const table of ['tcp', 'tcp6']) {
    for (const line of safeLines(procNet, table)) {
      const f = line.trim().split(/\s+/);
      if (f[9] === ino) return f[3] === '0A';
    }
  }
  for (const line of safeLines(procNet, 'unix')) {
    const f = line.trim().split(/\s+/);
    if (f[6] === ino) return (parseInt(f[3] ?? '0', 16) & 0x10000) !== 0 && f[4] === '0001';
  }
  return false;
}

function safeLines(procNet: (name: string) => string, name: string): string[] {
  try {
    return procNet(name).split('\n').slice(1);
  } catch {
    return []; // no IPv6 on this host
  }
}

function invalid(message: string): CliError {
  return new CliError('FERRY_ERR_LISTEN_FDS_INVALID', message, [
    'Give the socket unit exactly one ListenStream= (a TCP address or a unix socket path), or start ferry without LISTEN_FDS/LISTEN_PID.',
  ]);
}

/** The socket systemd passed, wrapped like a socket ferry start bound itself, or undefined if none was passed. */
export async function takeActivatedSocket(env: NodeJS.ProcessEnv = process.env, pid = process.pid): Promise<{ bound: BoundSocket; listen: ListenAddress } | undefined> {
  const decision = decideListenFds(env, pid);
  if ('error' in decision) throw invalid(decision.error);
  if (!decision.use) return undefined;
  let stat: fs.Stats;
  try {
    stat = fs.fstatSync(decision.fd);
  } catch {
    throw invalid(`LISTEN_FDS=1 but fd ${decision.fd} is not open`);
  }
  if (!stat.isSocket() || !isListeningStreamSocket(stat.ino)) throw invalid(`fd ${decision.fd} (from LISTEN_FDS) is not a listening stream socket`);
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(invalid(`cannot serve fd ${decision.fd} from LISTEN_FDS: ${err.message}`)));
    server.listen({ fd: decision.fd }, resolve);
  });
  const address = server.address();
  const listen: ListenAddress =
    typeof address === 'string' ? { kind: 'unix', path: address } : { kind: 'tcp', address: address?.address ?? '0.0.0.0', port: address?.port ?? 0 };
  // No inode: the socket file is systemd's, so the watchdog must not remove it at stop.
  return { bound: { fd: decision.fd, release: () => server.close() }, listen };
}
