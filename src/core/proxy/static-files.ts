// Static files from the app's public/ directory, answered by the core without waking the app
// (as Passenger and nginx's try_files do): GET and HEAD, ETag and Last-Modified, conditional GET
// (304, 412) and single byte ranges (206, 416), streamed from the descriptor public-dir.ts opened
// and checked, so what is sent is the file that was checked.

import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream';
import type mimeTypes from 'mime-types';
import type { FileUser } from '../../lib/file-access.js';
import { evaluatePreconditions, fileValidators, parseRange, rangeStillApplies } from './conditional-get.js';
import { sendErrorResponse } from './error-responses.js';
import { openPublicFile, requestedFile, resolvePublicDir, type PublicDir, type PublicFile } from './public-dir.js';

export type { PublicDir };

// Loaded on first need (an app with public/): mime-types and its database cost ~20 ms of start-up.
let mime: typeof mimeTypes | undefined;
let loading: Promise<typeof mimeTypes> | undefined;

/** Loads the MIME types ahead of the first static request (called when an app has a public/ directory). */
export function preloadStatic(): Promise<typeof mimeTypes> {
  loading ??= import('mime-types').then((m) => (mime = m.default));
  return loading;
}

/** What PublicDirs needs to know of an app group. */
export interface StaticApp {
  app: { root: string; user?: FileUser };
  stats: { restarts: number };
}

/**
 * Each app's public/, looked up when the core starts and again after each restart of the app (a
 * deploy that switches a `current` link is served with the processes it starts), and between
 * restarts never: an app without public/ pays nothing per request, and what public/ points to
 * cannot be changed under a running app.
 */
export class PublicDirs<G extends StaticApp> {
  private readonly resolved = new Map<G, { restarts: number; dir: PublicDir | undefined }>();

  constructor(groups: readonly G[]) {
    for (const group of groups) this.dirFor(group);
  }

  get any(): boolean {
    return [...this.resolved.values()].some((r) => r.dir !== undefined);
  }

  dirFor(group: G): PublicDir | undefined {
    const seen = this.resolved.get(group);
    if (seen && seen.restarts === group.stats.restarts) return seen.dir;
    const dir = resolvePublicDir(group.app.root, group.app.user);
    this.resolved.set(group, { restarts: group.stats.restarts, dir });
    return dir;
  }
}

export interface StaticOutcome {
  /** A file was there but may not be served (answered 403); `reason` is for the log. */
  refused(relative: string, reason: string): void;
  /** Opening or checking failed unexpectedly (answered 500). */
  failed(err: unknown): void;
}

/**
 * Serves GET/HEAD for a file under `dir`; calls `next()` when the request names no file there (a
 * directory, a dotfile, a path that does not exist), so the app answers instead.
 */
export function serveStatic(req: http.IncomingMessage, res: http.ServerResponse, dir: PublicDir, requestId: string, outcome: StaticOutcome, next: () => void): void {
  const relative = requestedFile((req.url ?? '/').split('?', 1)[0] as string);
  if (relative === undefined) {
    next();
    return;
  }
  void (async () => {
    let file: PublicFile;
    let types: typeof mimeTypes;
    try {
      types = mime ?? (await preloadStatic());
      file = await openPublicFile(dir, relative);
    } catch (err) {
      outcome.failed(err);
      if (!res.destroyed) sendErrorResponse(req, res, { status: 500, reason: 'The server could not read this file.', requestId });
      return;
    }
    if (file.kind === 'absent') return next();
    if (file.kind === 'refused') {
      outcome.refused(relative, file.reason);
      return sendErrorResponse(req, res, { status: 403, reason: 'This file may not be served.', requestId });
    }
    if (res.destroyed) return fs.closeSync(file.fd);
    answerWithFile(req, res, file, types.contentType(path.extname(relative)) || 'application/octet-stream', requestId);
  })();
}

function answerWithFile(req: http.IncomingMessage, res: http.ServerResponse, file: Extract<PublicFile, { kind: 'file' }>, contentType: string, requestId: string): void {
  const { fd, stat } = file;
  const close = (): void => fs.closeSync(fd);
  const v = fileValidators(stat.size, stat.mtimeMs);
  const precondition = evaluatePreconditions(req.headers, v);
  const range = precondition === 'proceed' && rangeStillApplies(req.headers['if-range'] as string | undefined, v) ? parseRange(req.headers.range, stat.size) : undefined;
  // Answered in full, so the connection goes on to the next (pipelined) request.
  if (precondition === 'failed') {
    close();
    sendErrorResponse(req, res, { status: 412, reason: 'A precondition of the request (If-Match, If-Unmodified-Since) does not hold.', requestId });
    return;
  }
  if (range === 'unsatisfiable') {
    close();
    sendErrorResponse(req, res, { status: 416, reason: 'The requested range is not within the file.', requestId, headers: { 'Content-Range': `bytes */${stat.size}` } });
    return;
  }
  const validators = { 'Cache-Control': 'public, max-age=0', 'Last-Modified': new Date(v.lastModifiedMs).toUTCString(), ETag: v.etag };
  if (precondition === 'not-modified') {
    close();
    res.writeHead(304, validators);
    res.end();
    return;
  }
  const { start, end } = range ?? { start: 0, end: stat.size - 1 };
  res.writeHead(range ? 206 : 200, {
    ...validators,
    'Accept-Ranges': 'bytes',
    'Content-Type': contentType,
    'Content-Length': end - start + 1,
    ...(range ? { 'Content-Range': `bytes ${start}-${end}/${stat.size}` } : {}),
  });
  if (req.method === 'HEAD' || end < start) {
    close();
    res.end();
    return;
  }
  // A read error or a client gone mid-way destroys both ends; the stream closes the descriptor.
  pipeline(fs.createReadStream('', { fd, start, end }), res, () => undefined);
}
