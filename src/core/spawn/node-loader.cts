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
/** Direct mode: the scoreboard directory where the app's processes share their connection counts. */
const boardDir = process.env.FERRY_BOARD_DIR;
delete process.env.FERRY_BOARD_DIR;

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
      if (boardDir) balanceConnections(this, boardDir);
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

/** How often a direct-mode process publishes its connection count and reads its siblings'. */
const BOARD_TICK_MS = 250;
/** A count not rewritten for this long belongs to a process that is gone (or stopped). */
const BOARD_STALE_MS = 3_000;

/**
 * How many of its kept-alive connections a process should close (after their current answer) so
 * that the app's connections spread evenly: it holds more than its share, rounded up, and at least
 * two more than the emptiest process, so that a balanced pool (11 against 10) is left alone.
 */
export function connectionsToShed(own: number, others: readonly number[]): number {
  if (others.length === 0) return 0;
  const share = Math.ceil((own + others.reduce((a, b) => a + b, 0)) / (others.length + 1));
  if (own - Math.min(...others) < 2) return 0;
  return Math.max(0, own - share);
}

/**
 * Direct mode: the kernel hands a new connection to whichever process accepts first, and one
 * process can take a whole burst (a load balancer's keep-alive pool) while the others idle. So
 * each process writes its open connection count to a scoreboard file and reads its siblings'
 * (every BOARD_TICK_MS, no core involved, so this goes on while the core is down); a process
 * over its share answers its next requests with `Connection: close`, and those clients reconnect
 * to whichever process accepts, most likely an idle one.
 */
function balanceConnections(server: net.Server, dir: string): void {
  const ownFile = `${dir}/${process.pid}`;
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch {
    // a sibling made it (or it cannot be made: then there is no balance, and no harm)
  }
  let open = 0;
  let shed = 0;
  let published = -1;
  let publishedAtMs = 0;
  server.on('connection', (socket: net.Socket) => {
    open++;
    socket.once('close', () => open--);
  });
  server.prependListener('request', (_req: unknown, res: { setHeader(name: string, value: string): void }) => {
    if (shed === 0) return;
    shed--;
    res.setHeader('Connection', 'close');
  });
  const tick = (): void => {
    const nowMs = Date.now();
    try {
      if (open !== published || nowMs - publishedAtMs > BOARD_STALE_MS / 3) {
        fs.writeFileSync(ownFile, String(open));
        published = open;
        publishedAtMs = nowMs;
      }
      const others: number[] = [];
      for (const name of fs.readdirSync(dir)) {
        if (name === String(process.pid)) continue;
        const file = `${dir}/${name}`;
        if (nowMs - fs.statSync(file).mtimeMs > BOARD_STALE_MS) continue;
        const text = fs.readFileSync(file, 'utf8');
        const count = Number(text);
        // A file caught between its truncation and its write reads empty: skip it this time.
        if (text !== '' && Number.isInteger(count) && count >= 0) others.push(count);
      }
      shed = connectionsToShed(open, others);
    } catch {
      // A sibling's file vanished mid-read, or the directory went with the instance: try again later.
    }
  };
  setInterval(tick, BOARD_TICK_MS).unref();
  process.once('exit', () => {
    try {
      fs.unlinkSync(ownFile);
    } catch {
      // already gone
    }
  });
}
