// Streams one request to an app process and its response back, both ways with backpressure,
// over the process's kept-alive connections; WebSocket/Upgrade requests become a raw tunnel.

import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log.js';
import type { Session } from '../pool/session.js';
import { sendErrorResponse } from './error-responses.js';
import { buildDownstreamHeaders, buildUpstreamHeaders, type ForwardingFacts } from './headers.js';

export function forwardRequest(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  session: Session,
  facts: ForwardingFacts,
  log: Logger,
): void {
  const worker = session.worker;
  const upstream = http.request({
    agent: worker.agent,
    socketPath: worker.socketPath,
    method: req.method,
    path: req.url,
    headers: buildUpstreamHeaders(req.rawHeaders, facts),
    setHost: false,
  });

  upstream.on('response', (upRes) => {
    res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, buildDownstreamHeaders(upRes.rawHeaders));
    upRes.pipe(res);
    upRes.on('error', () => res.destroy());
  });

  upstream.on('error', (err: NodeJS.ErrnoException) => {
    session.close();
    if (res.headersSent) {
      // The response was under way: the client must see a broken message, not a complete one.
      res.destroy();
      return;
    }
    log.warn('app process failed during a request', { requestId: facts.requestId, appPid: worker.pid, err: err.message, code: err.code });
    sendErrorResponse(req, res, {
      status: 502,
      reason: 'The application process failed while handling this request.',
      requestId: facts.requestId,
    });
  });

  res.on('close', () => {
    // Client gone early: stop the app's work on it rather than stream into the void.
    if (!res.writableFinished) upstream.destroy();
    session.close();
  });

  req.on('error', () => upstream.destroy());
  req.pipe(upstream);
}

/** Writes the handshake to the app and splices the two sockets together. */
export function tunnelUpgrade(
  req: http.IncomingMessage,
  clientSocket: Duplex,
  head: Buffer,
  session: Session,
  facts: ForwardingFacts,
  onFail: () => void,
): void {
  const worker = session.worker;
  const upstream = net.connect(worker.socketPath);
  let connected = false;
  const done = (): void => session.close();
  upstream.once('connect', () => {
    connected = true;
    const headers = buildUpstreamHeaders(req.rawHeaders, { ...facts, upgrade: true });
    let handshake = `${req.method} ${req.url} HTTP/1.1\r\n`;
    for (let i = 0; i < headers.length; i += 2) handshake += `${headers[i]}: ${headers[i + 1]}\r\n`;
    upstream.write(handshake + '\r\n');
    if (head.length > 0) upstream.write(head);
    clientSocket.pipe(upstream).pipe(clientSocket);
  });
  upstream.on('error', () => {
    if (!connected) onFail();
    clientSocket.destroy();
  });
  clientSocket.on('error', () => upstream.destroy());
  upstream.on('close', () => {
    clientSocket.destroy();
    done();
  });
  clientSocket.on('close', () => upstream.destroy());
}
