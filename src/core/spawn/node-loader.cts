// Preloaded into every Node app process (node --require). Its one job: make the app's first
// listen() bind the unix socket the core chose, then tell the core the app is ready.
// CommonJS on purpose: --require preloads it before both CommonJS and ESM apps.

import fs = require('node:fs');
import net = require('node:net');

const socketPath = process.env.FERRY_APP_SOCKET;
/** The core reads readiness from this inherited pipe. */
const READY_FD = 3;

function report(message: Record<string, unknown>): void {
  try {
    fs.writeSync(READY_FD, JSON.stringify(message) + '\n');
  } catch {
    // The core is gone; the process will be cleaned up with its group.
  }
}

/** Direct mode: the public listening socket, shared by every process of the app (see direct-spawner). */
const listenFd = process.env.FERRY_LISTEN_FD ? Number(process.env.FERRY_LISTEN_FD) : undefined;
delete process.env.FERRY_LISTEN_FD;

if (socketPath) {
  delete process.env.FERRY_APP_SOCKET;
  const originalListen = net.Server.prototype.listen;
  let installed = false;

  net.Server.prototype.listen = function patchedListen(this: net.Server, ...args: unknown[]): net.Server {
    if (installed) {
      // A second server (metrics, admin) listens where it asked to; only the first serves HTTP.
      return (originalListen as (...a: unknown[]) => net.Server).apply(this, args);
    }
    installed = true;
    const callback = typeof args[args.length - 1] === 'function' ? (args[args.length - 1] as () => void) : undefined;
    const onError = (err: NodeJS.ErrnoException): void => {
      report({ type: 'listen-failed', message: err.message, code: err.code });
    };
    this.once('error', onError);
    this.once('listening', () => {
      this.removeListener('error', onError);
      report({ type: 'ready', socket: socketPath, pid: process.pid });
      try {
        fs.closeSync(READY_FD);
      } catch {
        // already closed
      }
    });
    if (callback) this.once('listening', callback);
    if (listenFd !== undefined) {
      stopGracefullyOnSigterm(this);
      return originalListen.call(this, { fd: listenFd });
    }
    try {
      fs.unlinkSync(socketPath);
    } catch {
      // no stale socket
    }
    return originalListen.call(this, socketPath);
  } as typeof net.Server.prototype.listen;
}

/**
 * Direct mode: when Ferry stops this process (SIGTERM), stop accepting from the shared socket,
 * let the requests under way finish, then exit; the other processes go on accepting. An app with
 * a SIGTERM handler of its own decides for itself.
 */
function stopGracefullyOnSigterm(server: net.Server): void {
  process.on('SIGTERM', function onSigterm() {
    if (process.listeners('SIGTERM').some((l) => l !== onSigterm)) return;
    server.close(() => process.exit(0));
    const httpServer = server as net.Server & { closeIdleConnections?: () => void };
    // Kept-alive connections go as soon as their request is answered.
    setInterval(() => httpServer.closeIdleConnections?.(), 50).unref();
  });
}
