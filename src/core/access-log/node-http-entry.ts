// The access log over node:http (the old engine, server.ts): a request's entry rides on its
// response, and its line is written when the response closes.

import type http from 'node:http';
import type { AccessEntry, AccessLog } from './access-log.js';

/**
 * Where a request's entry rides: a property of its response, not a WeakMap (measured: a WeakMap
 * entry per request cost ~2 us in the garbage collector's ephemeron work, more than the line).
 */
const ENTRY = Symbol('ferry.accessEntry');
type WithEntry = http.ServerResponse & { [ENTRY]?: AccessEntry };

/** The entry of a request the access log follows (undefined when it is off). */
export function accessEntryOf(res: http.ServerResponse): AccessEntry | undefined {
  return (res as WithEntry)[ENTRY];
}

/** Follows one request from its arrival; its line is written when its answer closes. */
export function beginNodeAccess(accessLog: AccessLog, req: http.IncomingMessage, res: http.ServerResponse): AccessEntry {
  // Taken at arrival: once a request with a body is done, node:http has let go of its socket.
  const socket = req.socket;
  const entry = accessLog.begin(socket.bytesWritten, accessLog.clientOf(socket.remoteAddress, req.headers['x-forwarded-for']));
  // Pipelined behind another answer: its own bytes start when the connection is its turn.
  if (res.socket === null) res.once('socket', () => (entry.startBytes = socket.bytesWritten));
  (res as WithEntry)[ENTRY] = entry;
  res.once('close', () => {
    const facts = { method: req.method ?? '-', target: req.url ?? '-', httpVersion: req.httpVersion, referer: req.headers.referer, userAgent: req.headers['user-agent'] };
    accessLog.end(entry, facts, res.headersSent, res.statusCode, socket.bytesWritten - entry.startBytes);
  });
  return entry;
}
