// Static files from the app's public/ directory, answered by the core without waking the app
// (as Passenger and nginx's try_files do): GET and HEAD, ETag and Last-Modified, conditional GET
// (304, 412) and single byte ranges (206, 416), streamed from the descriptor public-dir.ts opened
// and checked, so what is sent is the file that was checked. What to answer is decided here
// (decideFileAnswer is pure; findStaticAnswer opens the file and decides); stages/static.ts writes
// it through the front's Exchange.

import fs from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import path from 'node:path';
import type mimeTypes from 'mime-types';
import type { FileUser } from '../../lib/file-access.js';
import { throttledWarn, type Logger } from '../log.js';
import { evaluatePreconditions, fileValidators, parseRange, rangeStillApplies, type ByteRange } from './conditional-get.js';
import type { ErrorResponse } from './error-responses.js';
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

/** The groups' public/ directories; the MIME types loaded just after start when any app has one. */
export function publicDirsFor<G extends StaticApp>(groups: readonly G[]): PublicDirs<G> {
  const dirs = new PublicDirs(groups);
  if (dirs.any) setImmediate(() => void preloadStatic().catch(() => undefined));
  return dirs;
}

export interface StaticOutcome {
  /** A file was there but may not be served (answered 403); `reason` is for the log. */
  refused(relative: string, reason: string): void;
  /** Opening or checking failed unexpectedly (answered 500). */
  failed(err: unknown): void;
}

/** The log lines of refusals (throttled: a client can ask for many) and failures, for an app's request. */
export function staticOutcomes(log: Logger): (app: string, requestId: string) => StaticOutcome {
  const warn = throttledWarn(log);
  return (app, requestId) => ({
    refused: (file, reason) => warn('static file refused (403)', { app, reqId: requestId, file, reason }),
    failed: (err) => log.error('static file could not be served', { app, reqId: requestId, err }),
  });
}

/** What the static decision reads of a request. */
export interface StaticRequest {
  method: string;
  headers: IncomingHttpHeaders;
}

/**
 * The file under public/ a request names (its origin-form target), or undefined when it is no
 * GET/HEAD or names nothing Ferry serves (public-dir.ts's requestedFile): the app answers those.
 */
export function staticFileOf(method: string, target: string): string | undefined {
  if (method !== 'GET' && method !== 'HEAD') return undefined;
  const query = target.indexOf('?');
  return requestedFile(query === -1 ? target : target.slice(0, query));
}

/** What a file is answered with (pure). Fields are a flat list [name, value, ...], in send's order. */
export type FileDecision =
  /** 412 or 416 (Content-Range in `error.headers`). */
  | { kind: 'error'; error: ErrorResponse }
  | { kind: 'not-modified'; fields: string[] }
  /** 200 or 206; `body` the inclusive bytes to send, undefined for HEAD or an empty file. */
  | { kind: 'file'; status: 200 | 206; fields: string[]; body: ByteRange | undefined };

/**
 * The answer to GET/HEAD for a file of `size` bytes last modified at `mtimeMs`: preconditions
 * first (412, 304), then the range (206, 416, or the whole file). Errors are answered in full
 * (Content-Length), so the connection goes on to the next (pipelined) request.
 */
export function decideFileAnswer(req: StaticRequest, file: { size: number; mtimeMs: number }, contentType: string, requestId: string): FileDecision {
  const { size } = file;
  const v = fileValidators(size, file.mtimeMs);
  const precondition = evaluatePreconditions(req.headers, v);
  if (precondition === 'failed') {
    return { kind: 'error', error: { status: 412, reason: 'A precondition of the request (If-Match, If-Unmodified-Since) does not hold.', requestId } };
  }
  const range = precondition === 'proceed' && rangeStillApplies(req.headers['if-range'] as string | undefined, v) ? parseRange(req.headers.range, size) : undefined;
  if (range === 'unsatisfiable') {
    return { kind: 'error', error: { status: 416, reason: 'The requested range is not within the file.', requestId, headers: { 'Content-Range': `bytes */${size}` } } };
  }
  const validators = ['Cache-Control', 'public, max-age=0', 'Last-Modified', new Date(v.lastModifiedMs).toUTCString(), 'ETag', v.etag];
  if (precondition === 'not-modified') return { kind: 'not-modified', fields: validators };
  const { start, end } = range ?? { start: 0, end: size - 1 };
  const fields = [...validators, 'Accept-Ranges', 'bytes', 'Content-Type', contentType, 'Content-Length', String(end - start + 1)];
  if (range) fields.push('Content-Range', `bytes ${start}-${end}/${size}`);
  const body = req.method === 'HEAD' || end < start ? undefined : { start, end };
  return { kind: 'file', status: range ? 206 : 200, fields, body };
}

/** What a static request is answered with, the file opened when bytes of it are to be sent. */
export type StaticAnswer =
  /** Nothing to serve there (no such file, a directory): the app answers. */
  | { kind: 'absent' }
  /** 403 (refused), 500 (failed), 412, 416. */
  | { kind: 'error'; error: ErrorResponse }
  | { kind: 'not-modified'; fields: string[] }
  /** `body.fd` is open: the writer streams its bytes start..end and closes it. */
  | { kind: 'file'; status: 200 | 206; fields: string[]; body: FileBytes | undefined };

/** Bytes of an open, checked file (inclusive offsets). */
export interface FileBytes extends ByteRange {
  fd: number;
}

/**
 * Opens `relative` (from staticFileOf) under `dir` by public-dir.ts's rule and decides the answer.
 * Never rejects: a failure is logged through `outcome` and answered 500, a refusal 403.
 */
export async function findStaticAnswer(dir: PublicDir, relative: string, req: StaticRequest, requestId: string, outcome: StaticOutcome): Promise<StaticAnswer> {
  let file: PublicFile;
  let types: typeof mimeTypes;
  try {
    types = mime ?? (await preloadStatic());
    file = await openPublicFile(dir, relative);
  } catch (err) {
    outcome.failed(err);
    return { kind: 'error', error: { status: 500, reason: 'The server could not read this file.', requestId } };
  }
  if (file.kind === 'absent') return { kind: 'absent' };
  if (file.kind === 'refused') {
    outcome.refused(relative, file.reason);
    return { kind: 'error', error: { status: 403, reason: 'This file may not be served.', requestId } };
  }
  const decision = decideFileAnswer(req, file.stat, types.contentType(path.extname(relative)) || 'application/octet-stream', requestId);
  if (decision.kind === 'file' && decision.body !== undefined) return { ...decision, body: { ...decision.body, fd: file.fd } };
  fs.closeSync(file.fd);
  return decision.kind === 'file' ? { ...decision, body: undefined } : decision;
}

/** The answer's open descriptor closed: its request went before the answer could be written. */
export function discardStaticAnswer(answer: StaticAnswer): void {
  if (answer.kind === 'file' && answer.body !== undefined) fs.closeSync(answer.body.fd);
}
