// Stage 2, static files: a GET/HEAD for a file under the app's public/ is answered by the core
// without waking the app, before the cache. static-files.ts decides the
// answer (which file, status, fields, byte range; public-dir.ts opens and checks
// it); this stage only writes it through the exchange. The file is read as the client's socket
// takes it: a ReadStream paused while the socket is full, so a slow client never makes the core
// hold a whole large file. A request that names no file there goes on to the cache stage.

import fs from 'node:fs';
import type { AppGroup } from '../../pool/app-group.js';
import { discardStaticAnswer, findStaticAnswer, staticFileOf, type FileBytes, type StaticAnswer } from '../static-files.js';
import { writeError } from './answers.js';
import { lookUpCache } from './cache-lookup.js';
import type { ProxyRequest } from './proxy-request.js';

/** Bytes read from the file ahead of the socket, at most (one read). */
const READ_AHEAD_BYTES = 64 * 1024;

export function serveFromPublic(request: ProxyRequest): void {
  const { ctx, exchange, group, origin } = request;
  const { statics } = ctx;
  const { method } = exchange;
  // An app without public/ pays a map lookup: no decoding of the path, no trip to the disk.
  const dir = statics && group && (method === 'GET' || method === 'HEAD') ? statics.dirs.dirFor(group) : undefined;
  const relative = dir && origin ? staticFileOf(method, origin.target) : undefined;
  if (relative === undefined || dir === undefined || !statics || !group) {
    lookUpCache(request);
    return;
  }
  request.to('finding-file');
  const req = { method, headers: request.headers };
  void findStaticAnswer(dir, relative, req, request.requestId, statics.outcome(group.name, request.requestId)).then((answer) => answerFromPublic(request, group, answer));
}

function answerFromPublic(request: ProxyRequest, group: AppGroup, answer: StaticAnswer): void {
  // The client went while the file was looked up.
  if (request.state === 'done') {
    discardStaticAnswer(answer);
    return;
  }
  if (answer.kind === 'absent') {
    lookUpCache(request);
    return;
  }
  const { ctx, exchange } = request;
  // Answered by the core for the app, as a cache hit is: counted for the app, not tracked.
  request.status = answer.kind === 'error' ? answer.error.status : answer.kind === 'not-modified' ? 304 : answer.status;
  ctx.tracker.countAnswered(request.status, group.stats.responses);
  switch (answer.kind) {
    case 'error':
      request.to('answered');
      writeError(exchange, answer.error);
      return;
    case 'not-modified':
      request.to('answered');
      exchange.writeHead(304, 'Not Modified', answer.fields);
      exchange.end();
      return;
    case 'file':
      exchange.writeHead(answer.status, answer.status === 200 ? 'OK' : 'Partial Content', answer.fields);
      if (answer.body === undefined) {
        request.to('answered');
        exchange.end();
        return;
      }
      request.to('sending-file');
      request.file = new FileSender(request, answer.body);
  }
}

/** The file's bytes to the exchange, paused while the client's socket is full (resumed by onDrain). */
class FileSender {
  private readonly stream: fs.ReadStream;

  constructor(
    private readonly request: ProxyRequest,
    bytes: FileBytes,
  ) {
    // autoClose: the descriptor closes at the end, on an error, or when close() destroys it.
    this.stream = fs.createReadStream('', { fd: bytes.fd, start: bytes.start, end: bytes.end, highWaterMark: READ_AHEAD_BYTES });
    this.stream.on('data', (chunk) => this.onData(chunk as Buffer));
    this.stream.on('end', () => this.onEnd());
    // A read error: the client sees the answer cut (its length promised more).
    this.stream.on('error', () => request.exchange.destroy());
  }

  private onData(chunk: Buffer): void {
    if (!this.request.exchange.write(chunk)) this.stream.pause();
  }

  private onEnd(): void {
    const { request } = this;
    if (request.state !== 'sending-file') return;
    request.to('answered');
    try {
      request.exchange.end();
    } catch {
      // Shorter than its Content-Length (the file was truncated while it was sent): the exchange
      // has cut the connection, so the client does not take the next answer for the rest of this.
    }
  }

  resume(): void {
    this.stream.resume();
  }

  close(): void {
    this.stream.destroy();
  }
}
