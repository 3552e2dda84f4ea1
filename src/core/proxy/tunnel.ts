// Upgrade requests (WebSocket and others). The handshake goes to the app as a request of its own,
// and the client and the app are spliced into a raw tunnel only once the app has answered
// `101 Switching Protocols`. Any other answer is relayed as a plain response and the connection
// is then closed: node:http has handed the socket over and parses nothing more on it, so whatever
// the client sends behind the handshake would otherwise reach the app unchecked (no forwarded
// headers, no limits, no request id). A tunnel closes when no byte has gone either way for the
// idle timeout, when either side ends or fails, and when the core stops (socket-tunnel.ts).

import http from 'node:http';
import type net from 'node:net';
import type { Logger } from '../log.js';
import type { Session } from '../pool/session.js';
import type { UpstreamAddress } from '../spawn/spawner.js';
import { endConnection, rawErrorResponse, type ErrorResponse } from './error-responses.js';
import { takeOobRequest } from './oob-request.js';
import { buildDownstreamHeaders, buildUpstreamHeaders, type ForwardingFacts } from './headers.js';
import type { TrackedRequest } from './request-tracker.js';
import { responseHead, Tunnel } from './socket-tunnel.js';

export interface UpgradeOptions {
  /** --websocket-idle-timeout: no byte either way for this long closes the connection (0 = never). */
  idleTimeoutMs: number;
  log: Logger;
  /** The front's open tunnels (so that a stop can close them): added on 101, removed on close. */
  tunnels: Set<Tunnel>;
  /** The app asked for out-of-band work in an answer that declined the upgrade. */
  onOobRequest?: () => void;
  /** The status the client got: the app's, or Ferry's own when the app failed. Called once. */
  onAnswered(status: number): void;
}

function upstreamTarget(address: UpstreamAddress): http.RequestOptions {
  return 'socketPath' in address ? { socketPath: address.socketPath } : { host: address.host, port: address.port };
}

/**
 * Forwards an Upgrade request that passed the front's door checks (its Content-Length is within
 * --max-body-size; a chunked body was refused) to the session's process, then tunnels or relays.
 * The caller handles the client socket's errors (by destroying it) from the moment node:http hands it over.
 */
export function forwardUpgrade(
  req: http.IncomingMessage,
  client: net.Socket,
  head: Buffer,
  session: Session,
  facts: ForwardingFacts,
  tracked: TrackedRequest,
  opts: UpgradeOptions,
): void {
  const { log } = opts;
  const { requestId } = facts;
  // waiting for the app's answer; relaying a declined one; spliced; or answered by Ferry itself.
  let phase: 'waiting' | 'relaying' | 'tunnel' | 'refused' = 'waiting';
  let tunnel: Tunnel | undefined;
  // Ferry's own answer, when the app gave none; after it, the connection closes.
  const refuse = (error: Omit<ErrorResponse, 'close'>): void => {
    phase = 'refused';
    upstreamReq.destroy();
    opts.onAnswered(error.status);
    client.resume(); // what the client still sends is dropped: a reset would cut the answer
    endConnection(client, rawErrorResponse(error));
  };

  // Nothing the client sends goes to the app before its answer, except the handshake's own body;
  // what comes behind it is held and goes only into a tunnel.
  client.pause();
  const heldBack: Buffer[] = [];
  // Once the app has answered, the rest of the client's body is no longer the handshake's.
  let stopBody = (): void => undefined;
  const upstreamReq = http.request({
    ...upstreamTarget(session.worker.address),
    method: req.method,
    path: req.url,
    headers: buildUpstreamHeaders(req.rawHeaders, { ...facts, upgrade: true }),
    agent: false,
  });

  client.once('close', () => {
    upstreamReq.destroy();
    tunnel?.close();
    session.close();
  });
  // One timer for both directions: the client's socket carries the bytes of both, and reading or
  // writing either refreshes it. Set before the answer too: an app that never answers is idle.
  client.setTimeout(opts.idleTimeoutMs);
  client.on('timeout', () => {
    // A tunnel's own idle timeout is the Tunnel's (socket-tunnel.ts).
    if (phase === 'relaying') {
      client.destroy(); // a declined answer that stalled: the client must see it broken
    } else if (phase === 'waiting') {
      log.warn('the app did not answer an upgrade request within the websocket idle timeout', { reqId: requestId, appPid: session.worker.pid, idleTimeoutMs: opts.idleTimeoutMs });
      refuse({ status: 504, reason: 'The application did not answer this upgrade request in time.', requestId });
    }
  });

  upstreamReq.on('upgrade', (res: http.IncomingMessage, upstream: net.Socket, fromApp: Buffer) => {
    // Node emits 'upgrade' for a 101 only (and for CONNECT, which never comes here).
    if (phase !== 'waiting' || client.destroyed) {
      upstream.destroy();
      return;
    }
    phase = 'tunnel';
    stopBody();
    opts.onAnswered(101);
    client.write(responseHead(101, res.statusMessage, buildDownstreamHeaders(res.rawHeaders, true)));
    const open = new Tunnel(client, upstream, {
      idleTimeoutMs: opts.idleTimeoutMs,
      onIdle: () => log.debug('tunnel idle for the websocket idle timeout; closed', { reqId: requestId, idleTimeoutMs: opts.idleTimeoutMs }),
    });
    tunnel = open;
    opts.tunnels.add(open);
    client.once('close', () => opts.tunnels.delete(open));
    tracked.state = 'tunnel';
    open.splice(fromApp, heldBack);
  });

  // The app declined to switch: its answer goes to the client as a plain response, then the
  // connection closes (Connection: close says so).
  upstreamReq.on('response', (res: http.IncomingMessage) => {
    if (phase !== 'waiting') {
      res.destroy();
      return;
    }
    phase = 'relaying';
    stopBody();
    tracked.state = 'responding';
    const status = res.statusCode ?? 502;
    const headers = buildDownstreamHeaders(res.rawHeaders);
    if (takeOobRequest(headers)) opts.onOobRequest?.();
    headers.push('Connection', 'close');
    opts.onAnswered(status);
    client.resume(); // what the client sends behind the handshake is read and dropped
    client.write(responseHead(status, res.statusMessage, headers));
    // Without Content-Length the body is delimited by the close (its chunked framing was Node's to undo).
    res.pipe(client, { end: false });
    res.once('end', () => endConnection(client));
    res.once('error', () => client.destroy());
  });

  upstreamReq.on('error', (err: Error & { code?: string }) => {
    if (phase === 'relaying') {
      client.destroy(); // the answer was under way: the client must see it broken
    } else if (phase === 'waiting' && !client.destroyed) {
      log.warn('app process failed during an upgrade request', { reqId: requestId, appPid: session.worker.pid, err: err.message, code: err.code });
      refuse({ status: 502, reason: 'The application process failed while handling this request.', requestId });
    }
  });

  stopBody = sendHandshakeBody(client, head, Number(req.headers['content-length'] ?? 0), upstreamReq, heldBack);
}

/**
 * Sends the handshake's body (its Content-Length, checked against the limit) to the app as it
 * comes, and ends the request; whatever follows it goes to `heldBack`, the client left paused.
 * Returns what stops it: an app may answer before it has the whole body.
 */
function sendHandshakeBody(client: net.Socket, head: Buffer, length: number, upstreamReq: http.ClientRequest, heldBack: Buffer[]): () => void {
  let left = length;
  const stop = (): void => {
    left = 0;
    client.off('data', take);
    client.pause();
  };
  const take = (chunk: Buffer): void => {
    const body = chunk.subarray(0, left);
    left -= body.length;
    const more = body.length === 0 || upstreamReq.write(body);
    if (left > 0) {
      if (!more) {
        client.pause();
        upstreamReq.once('drain', () => left > 0 && client.resume());
      }
      return;
    }
    stop();
    if (chunk.length > body.length) heldBack.push(chunk.subarray(body.length));
    upstreamReq.end();
  };
  take(head);
  if (left === 0) return stop;
  client.on('data', take);
  client.resume();
  return stop;
}
