// Static files from the app's public/ directory, answered by the core without waking the app
// (as Passenger and nginx's try_files do), with conditional GET and ranges from `send`.

import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import type sendType from 'send';

// Loaded on first need (an app with public/): `send` and its dependencies cost ~100 ms of start-up.
let send: typeof sendType | undefined;
let loading: Promise<typeof sendType> | undefined;

/** Loads `send` ahead of the first static request (called when an app has a public/ directory). */
export function preloadStatic(): Promise<typeof sendType> {
  loading ??= import('send').then((m) => (send = m.default));
  return loading;
}

/** The app's public/ directory, if it has one. */
export function findPublicDir(appRoot: string): string | undefined {
  const dir = path.join(appRoot, 'public');
  try {
    return fs.statSync(dir).isDirectory() ? dir : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Serves GET/HEAD for a file under `publicDir`; calls `next()` when there is no such file (or it
 * is a directory, a dotfile, or outside the directory), so the app answers instead.
 */
export function serveStatic(req: http.IncomingMessage, res: http.ServerResponse, publicDir: string, next: () => void): void {
  if (!send) {
    preloadStatic().then(
      () => serveStatic(req, res, publicDir, next),
      () => next(),
    );
    return;
  }
  const pathname = (req.url ?? '/').split('?', 1)[0] as string;
  const stream = send(req, pathname, { root: publicDir, dotfiles: 'ignore', index: false });
  let handedOver = false;
  const handOver = (): void => {
    if (handedOver) return;
    handedOver = true;
    next();
  };
  stream.on('error', (err: { status?: number }) => {
    if (!res.headersSent && (err.status === 404 || err.status === 403 || err.status === 400)) handOver();
    else res.destroy();
  });
  stream.on('directory', handOver);
  stream.pipe(res);
}
