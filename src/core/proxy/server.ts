// createProxyServer: the public HTTP front. It routes each request to its app group, checks out
// a session and forwards; it does not listen (main.ts does), so tests can drive it on port 0.

import http from 'node:http';
import net, { type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { hasErrorCode } from '../../lib/error-codes.js';
import { accessEntryOf, beginNodeAccess } from '../access-log/node-http-entry.js';
import { CoreError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AppGroup } from '../pool/app-group.js';
import type { Session } from '../pool/session.js';
import type { WorkerProcess } from '../pool/worker.js';
import type { RequestOrigin } from './authority.js';
import { bodyTooLargeAnswer, clientErrorAnswer, isBodyTooLarge, serverLimitOptions } from './client-limits.js';
import { requestClientAddress, showsSpawnDetails } from './error-page-audience.js';
import { endConnection, nextRequestId, rawErrorResponse, sendErrorResponse, sendSpawnErrorPage, type ErrorResponse, type SpawnFacts } from './error-responses.js';
import { forwardRequest, isNeverSent } from './forward.js';
import { acceptFaultAnswer } from './injected-faults.js';
import { chooseRequestId, type ForwardingFacts } from './headers.js';
import { checkoutRefusal } from './checkout-refusal.js';
import type { CacheTransaction } from '../turbocache/cache-front.js';
import { bufferNodeBody, ClientGoneError, hasRequestBody, type RequestBodyBuffer, shouldBufferBody } from './request-body.js';
import { answerHealthCheck, healthVerdict, isHealthCheckRequest, type HealthState } from './health-check.js';
import { doorVerdict, SERVER_OPTIONS_ALLOW } from './request-door.js';
import { RequestTracker, type TrackedRequest } from './request-tracker.js';
import { stickyCookieFor, stickyIdOf } from './sticky-session.js';
import { publicDirsFor, serveStatic, staticOutcomes } from './static-files.js';
import type { Tunnel } from './socket-tunnel.js';
import { forwardUpgrade } from './tunnel.js';
import type { ProxyServer, ProxyServerOptions } from './proxy-server.js';

/** A kept-alive connection idle this long while handing over is closed (its client reconnects to the new core). */
const HANDOVER_IDLE_CLOSE_MS = 1_000;

/** Per-connection bookkeeping, for a handover that closes only idle connections. */
interface ConnectionState {
  busy: number;
  idleSinceMs: number;
}

/** Tries per request when app processes refuse connections (Passenger tries up to 10). */
const MAX_ATTEMPTS = 3;

/**
 * A pipelined request's response waits for the one before it; when that one closes the connection
 * (Connection: close) or the client goes, Node never closes the waiting response, so its request
 * would stay in flight for ever (and hold its process's session). Close it with the connection.
 */
function closeWithConnection(req: http.IncomingMessage, res: http.ServerResponse): void {
  const socket = req.socket;
  const onConnectionClose = (): void => {
    if (res.socket !== null || res.writableFinished) return;
    res.destroy();
    res.emit('close');
  };
  socket.once('close', onConnectionClose);
  // Its turn came: from here on Node closes it as any other response.
  res.once('socket', () => socket.off('close', onConnectionClose));
}

/** For the access line: the turbocache answered this request. */
function markCacheHit(res: http.ServerResponse): void {
  const access = accessEntryOf(res);
  if (access) access.cache = 'hit';
}

function incomingRequestId(req: http.IncomingMessage, trustForwarded: boolean): string {
  return chooseRequestId(req.headers['x-request-id'], trustForwarded, nextRequestId);
}

function checkoutError(req: http.IncomingMessage, res: http.ServerResponse, err: unknown, requestId: string, log: Logger, trustForwarded: boolean, group?: AppGroup): void {
  const refusal = checkoutRefusal(err, requestId, log);
  const spawnError = err instanceof CoreError && hasErrorCode(err, 'FERRY_ERR_POOL_UNAVAILABLE') ? (err.details.spawnError as SpawnFacts | undefined) : undefined;
  if (group && group.app.friendlyErrorPages !== 'off' && spawnError) {
    const client = requestClientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], trustForwarded);
    const showDetails = showsSpawnDetails(group.app.friendlyErrorPages, client);
    sendSpawnErrorPage(req, res, { ...spawnError, message: group.lastSpawnError?.message ?? (err as Error).message }, requestId, refusal.retryAfterS ?? 1, showDetails);
    return;
  }
  sendErrorResponse(req, res, refusal);
}

export function createProxyServer(opts: ProxyServerOptions): ProxyServer {
  const { pool, log, faults } = opts;
  const { maxBodyBytes } = opts.limits;
  const { bufferUploads, responseBufferHighWatermarkBytes } = opts.buffering;
  const responseBuffer = responseBufferHighWatermarkBytes > 0 ? { highWatermarkBytes: responseBufferHighWatermarkBytes, dir: opts.bufferDir } : undefined;
  const tracker = new RequestTracker();
  // Connections the accept fault fell on; their first request gets 503. Only with fault injection.
  const faultedConnections = faults ? new WeakSet<Socket | Duplex>() : undefined;
  // Connections whose request the door refused: they close after the answer, and nothing sent
  // behind it is taken (node:http parses a pipelined request at once; it may be a smuggled one).
  const refusedConnections = new WeakSet<Socket | Duplex>();
  const publicDirs = publicDirsFor(pool.groups);
  const staticOutcome = staticOutcomes(log);

  // Each admitted request's origin as the door parsed it (node:http's request has no room for it).
  const origins = new WeakMap<http.IncomingMessage, RequestOrigin>();
  const door = (req: http.IncomingMessage) => doorVerdict(req, { trustForwarded: opts.trustForwarded, maxBodyBytes });
  /** Admitted: from here on the request is in origin-form (RFC 9112 §3.2.2), as the app gets it. */
  const admit = (req: http.IncomingMessage, origin: RequestOrigin): void => {
    origins.set(req, origin);
    req.url = origin.target;
  };

  const facts = (req: http.IncomingMessage, requestId: string): ForwardingFacts => {
    const origin = origins.get(req);
    return {
      remoteAddress: req.socket.remoteAddress,
      trustForwarded: opts.trustForwarded,
      requestId,
      scheme: origin?.scheme ?? 'http',
      host: origin?.host?.text,
      forwardedHost: origin?.forwardedHost?.text,
    };
  };

  const forward = (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    session: Session,
    tracked: TrackedRequest,
    group: AppGroup,
    cache: CacheTransaction | undefined,
    body: RequestBodyBuffer | undefined,
    attempt = 1,
  ): void => {
    tracked.worker = session.worker;
    tracked.state = 'forwarding';
    // A process that refuses connections is broken: take it out and send the request elsewhere.
    const retryElsewhere = (err: Error & { code?: string }): boolean => {
      if (attempt >= MAX_ATTEMPTS || !isNeverSent(err, req, body !== undefined)) return false;
      log.warn('app process refused the connection; retrying the request on another process', { reqId: tracked.id, appPid: session.worker.pid, code: err.code, attempt });
      group.detach(session.worker.pid);
      tracked.state = 'queued';
      tracked.worker = undefined;
      Promise.resolve()
        .then(() => group.checkout())
        .then(
          (next) => {
            if (res.destroyed) next.close();
            else forward(req, res, next, tracked, group, cache, body, attempt + 1);
          },
          (checkoutErr: unknown) => checkoutError(req, res, checkoutErr, tracked.id, log, opts.trustForwarded, group),
        );
      return true;
    };
    const deadline = {
      maxRequestTimeMs: group.app.limits.maxRequestTimeMs,
      onStuck: (worker: WorkerProcess) => void group.replaceStuck(worker, tracked.id).catch((err: unknown) => log.error('could not replace a stuck process', { err })),
    };
    const setCookie = stickyCookieFor(group.app, req.headers.cookie, session.worker.stickyId);
    const worker = session.worker;
    forwardRequest(req, res, session, facts(req, tracked.id), log, tracked, {
      retryElsewhere,
      deadline,
      setCookie,
      onOobRequest: () => group.requestOobWork(worker),
      cache,
      maxBodyBytes,
      faults,
      body,
      responseBuffer,
    });
  };

  const connections = new Map<Duplex, ConnectionState>();
  // Handing over, or stopping behind a load balancer: every answer closes its connection.
  let closingConnections = false;
  const health = opts.health;
  const healthFacts = (state: HealthState) => ({ serving: state.serving, draining: state.draining, apps: pool.groups.map((g) => ({ name: g.name, canServe: g.canServe() })) });
  const { accessLog } = opts;

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    // First, so that every answer below (refusals, static files, cache hits) gets its line.
    const access = accessLog && beginNodeAccess(accessLog, req, res);
    const connection = connections.get(req.socket);
    if (connection) {
      connection.busy++;
      res.once('close', () => {
        connection.busy--;
        connection.idleSinceMs = Date.now();
      });
    }
    // Handing over: this answer closes the connection, so the client's next request reaches the
    // new core; stopping: another host.
    if (closingConnections) res.shouldKeepAlive = false;
    if (refusedConnections.has(req.socket)) {
      if (res.socket === null) closeWithConnection(req, res);
      else res.destroy();
      return;
    }
    if (health !== undefined && isHealthCheckRequest(req.url, health.path) && (req.method === 'GET' || req.method === 'HEAD')) {
      answerHealthCheck(req, res, healthVerdict(healthFacts(health.state)));
      return;
    }
    const requestId = incomingRequestId(req, opts.trustForwarded);
    if (access) access.requestId = requestId;
    if (res.socket === null) closeWithConnection(req, res);
    if (faultedConnections !== undefined && faultedConnections.delete(req.socket)) {
      tracker.countAnswered(503);
      sendErrorResponse(req, res, acceptFaultAnswer(requestId));
      return;
    }
    const verdict = door(req);
    if (!verdict.admitted) {
      tracker.countAnswered(verdict.refusal.status);
      refusedConnections.add(req.socket);
      sendErrorResponse(req, res, { ...verdict.refusal, requestId });
      return;
    }
    const { origin } = verdict;
    admit(req, origin);
    // An asterisk-form target asks about the server, not a resource: Ferry answers it (RFC 9110 §9.3.7).
    if (origin.target === '*') {
      tracker.countAnswered(200);
      res.writeHead(200, { Allow: SERVER_OPTIONS_ALLOW, 'Content-Length': 0 });
      res.end();
      return;
    }
    const group = pool.groupFor(origin.host?.name);
    if (!group) {
      tracker.countAnswered(404);
      sendErrorResponse(req, res, { status: 404, reason: `No application is served for the host '${origin.host?.text ?? ''}'.`, requestId });
      return;
    }
    if (access) access.app = group.name;
    const publicDir = req.method === 'GET' || req.method === 'HEAD' ? publicDirs.dirFor(group) : undefined;
    if (publicDir !== undefined) {
      serveStatic(req, res, publicDir, requestId, staticOutcome(group.name, requestId), () => handleDynamic(req, res, group, requestId));
      return;
    }
    handleDynamic(req, res, group, requestId);
  };

  // noDelay: answers leave at once, never held back by Nagle (a restarted core must not stall clients).
  const server = http.createServer({ ...serverLimitOptions(opts.limits), keepAliveTimeout: 5_000, noDelay: true }, onRequest);
  // Every header field, not the first 2,000 (the rest dropped silently): the door counts them.
  server.maxHeadersCount = 0;

  // Expect: 100-continue: a request refused at the door is refused before the client sends its body.
  server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const refused = !door(req).admitted || faultedConnections?.has(req.socket) === true;
    if (!refused) res.writeContinue();
    onRequest(req, res);
  });

  const handleDynamic = (req: http.IncomingMessage, res: http.ServerResponse, group: AppGroup, requestId: string): void => {
    // Closed while public/ was looked up (the client went, or its connection closed under a
    // pipelined request): its 'close' has been and gone, so nothing would ever end it.
    if (res.destroyed) return;
    const origin = origins.get(req);
    if (!opts.cache || !origin) return toApp(req, res, group, requestId, undefined);
    const begun = opts.cache.begin(req, res, origin);
    if (begun instanceof Promise) {
      // Another request for the same entry is at the app: this one waits for its answer.
      begun.then(
        (cache) => {
          if (cache) toApp(req, res, group, requestId, cache);
          else if (!res.destroyed) {
            if (accessLog) markCacheHit(res);
            tracker.countAnswered(res.statusCode, group.stats.responses);
          }
        },
        (err: unknown) => checkoutError(req, res, err, requestId, log, opts.trustForwarded, group),
      );
    } else if (begun) {
      toApp(req, res, group, requestId, begun);
    } else {
      if (accessLog) markCacheHit(res);
      tracker.countAnswered(res.statusCode, group.stats.responses);
    }
  };

  const toApp = (req: http.IncomingMessage, res: http.ServerResponse, group: AppGroup, requestId: string, cache: CacheTransaction | undefined): void => {
    const tracked = tracker.begin(requestId, req.method ?? 'GET', req.url ?? '/', group.name);
    const access = accessLog && accessEntryOf(res);
    if (access) {
      access.tracked = tracked;
      access.cache = cache === undefined ? undefined : cache.lookedUp ? 'miss' : 'bypass';
    }
    res.once('close', () => {
      tracker.end(tracked);
      tracker.countStatus(res.statusCode);
      group.stats.responses.count(res.statusCode);
      if (res.statusCode >= 500) group.countServerError(tracked.worker);
      group.stats.latency.observe((Date.now() - tracked.startedAtMs) / 1000);
      // The access log, at debug only: off, it costs this one comparison per request.
      if (log.debugEnabled) log.debug('request done', { reqId: requestId, method: tracked.method, path: tracked.path, app: group.name, status: res.statusCode, durationMs: Date.now() - tracked.startedAtMs, appPid: tracked.worker?.pid });
    });
    if (!shouldBufferBody(hasRequestBody(req), group.app.limits.concurrency, bufferUploads)) {
      checkoutAndForward(req, res, group, tracked, cache, undefined);
      return;
    }
    // Upload buffering: the whole body first, so a slow uploader holds no process.
    const body = bufferNodeBody(req, opts.bufferDir, maxBodyBytes);
    tracked.requestBody = body;
    tracked.state = 'receiving';
    res.once('close', () => body.dispose());
    body.received.then(
      () => {
        tracked.state = 'queued';
        if (!res.destroyed) checkoutAndForward(req, res, group, tracked, cache, body);
      },
      (err: unknown) => bodyError(req, res, err, tracked.id),
    );
  };

  /** A body that could not be buffered: too large (413), the client left (nothing to say), or the disk failed. */
  const bodyError = (req: http.IncomingMessage, res: http.ServerResponse, err: unknown, requestId: string): void => {
    if (err instanceof ClientGoneError || res.destroyed) return;
    if (isBodyTooLarge(err)) {
      log.info('request body over max-body-size; answered 413 before it reached the app', { reqId: requestId, maxBodyBytes: err.maxBodyBytes });
      // The rest of what the client sends is read and thrown away; the connection then closes.
      req.resume();
      sendErrorResponse(req, res, bodyTooLargeAnswer(requestId, err.maxBodyBytes));
      return;
    }
    log.error('could not buffer a request body', { reqId: requestId, err });
    sendErrorResponse(req, res, { status: 500, reason: 'The server could not store the request body.', requestId, close: true });
  };

  const checkoutAndForward = (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    group: AppGroup,
    tracked: TrackedRequest,
    cache: CacheTransaction | undefined,
    body: RequestBodyBuffer | undefined,
  ): void => {
    const requestId = tracked.id;
    let checkedOut: Session | Promise<Session>;
    try {
      checkedOut = group.checkout(stickyIdOf(group.app, req.headers.cookie));
    } catch (err) {
      checkoutError(req, res, err, requestId, log, opts.trustForwarded, group);
      return;
    }
    if (checkedOut instanceof Promise) {
      checkedOut.then(
        (session) => {
          if (res.destroyed) session.close();
          else forward(req, res, session, tracked, group, cache, body);
        },
        (err: unknown) => checkoutError(req, res, err, requestId, log, opts.trustForwarded, group),
      );
    } else {
      forward(req, res, checkedOut, tracked, group, cache, body);
    }
  };

  server.on('connection', (socket: Socket) => {
    tracker.connectionsAccepted++;
    tracker.connectionsActive++;
    connections.set(socket, { busy: 0, idleSinceMs: Date.now() });
    socket.once('close', () => {
      tracker.connectionsActive--;
      connections.delete(socket);
    });
    if (faultedConnections !== undefined && faults?.fails('accept', { remoteAddress: socket.remoteAddress })) faultedConnections.add(socket);
  });

  const handOver = async (deadlineMs: number): Promise<void> => {
    closingConnections = true;
    // net.Server's close, not http.Server's: the latter also drops idle kept-alive connections at
    // once, and a request a client sends on one at that moment would fail.
    net.Server.prototype.close.call(server);
    while (connections.size > 0 && Date.now() < deadlineMs) {
      const now = Date.now();
      for (const [socket, state] of connections) {
        if (state.busy === 0 && now - state.idleSinceMs >= HANDOVER_IDLE_CLOSE_MS) socket.destroy();
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (const socket of connections.keys()) socket.destroy();
  };

  // Upgrade requests (WebSocket): the door checks of any request, then the handshake goes to the
  // app, and the connection becomes a tunnel only if the app answers 101 (tunnel.ts).
  const tunnels = new Set<Tunnel>();
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    // The front listens on TCP or a unix socket, never TLS: a net.Socket.
    const client = socket as Socket;
    // node:http no longer listens for its errors: a client's reset must not reach the process.
    client.on('error', () => client.destroy());
    const requestId = incomingRequestId(req, opts.trustForwarded);
    // node:http has handed the connection over: a refusal is a raw answer, then the connection closes.
    const endWith = (answer: Omit<ErrorResponse, 'close'>): void => {
      client.resume(); // the rest of the request is read and dropped: a reset would cut the answer
      endConnection(client, rawErrorResponse(answer));
    };
    const refuse = (answer: Omit<ErrorResponse, 'close'>): void => {
      tracker.countAnswered(answer.status);
      endWith(answer);
    };
    if (faultedConnections !== undefined && faultedConnections.delete(socket)) return refuse(acceptFaultAnswer(requestId));
    // The same door as any request: framing, field count, Host, reserved paths, --max-body-size.
    const verdict = door(req);
    if (!verdict.admitted) return refuse({ ...verdict.refusal, requestId });
    // Its end could only be found by decoding it here; no WebSocket handshake has a body at all.
    if (req.headers['transfer-encoding'] !== undefined) return refuse({ status: 400, reason: 'An Upgrade request with a chunked body is not supported.', requestId });
    admit(req, verdict.origin);
    const group = pool.groupFor(verdict.origin.host?.name);
    if (!group) return refuse({ status: 404, reason: `No application is served for the host '${verdict.origin.host?.name ?? ''}'.`, requestId });

    // Listed in status (`tunnel` once the app has switched) until the connection closes.
    const tracked = tracker.begin(requestId, req.method ?? 'GET', req.url ?? '/', group.name);
    client.once('close', () => tracker.end(tracked));
    const onAnswered = (status: number): void => {
      tracker.countStatus(status);
      group.stats.responses.count(status);
      // Up to the app's answer: a tunnel's own lifetime is no latency.
      group.stats.latency.observe((Date.now() - tracked.startedAtMs) / 1000);
    };
    Promise.resolve()
      // Sticky too: socket.io polls over plain requests first, then upgrades on the same process.
      .then(() => group.checkout(stickyIdOf(group.app, req.headers.cookie)))
      .then(
        (session) => {
          if (client.destroyed) return session.close();
          tracked.worker = session.worker;
          tracked.state = 'forwarding';
          const worker = session.worker;
          forwardUpgrade(req, client, head, session, facts(req, requestId), tracked, {
            idleTimeoutMs: opts.websocketIdleTimeoutMs,
            log,
            tunnels,
            onOobRequest: () => group.requestOobWork(worker),
            onAnswered,
          });
        },
        (err: unknown) => {
          const answer = checkoutRefusal(err, requestId, log);
          onAnswered(answer.status);
          endWith(answer);
        },
      );
  });

  // The parser refused a request (malformed, headers too large, too slow): answer that client
  // alone, with a request id, and close its connection; nobody else notices.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const inFlight = (socket as { _httpMessage?: http.ServerResponse | null })._httpMessage;
    // A response already under way on this connection cannot be followed by another one.
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const answer = clientErrorAnswer(err.code, nextRequestId());
    log.debug('client request refused', { reqId: answer.requestId, status: answer.status, code: err.code });
    const raw = rawErrorResponse(answer);
    accessLog?.refusedByParser((socket as Socket).remoteAddress, answer.status, answer.requestId, Buffer.byteLength(raw));
    endConnection(socket, raw);
  });

  const closeTunnels = (): void => {
    for (const tunnel of tunnels) tunnel.close();
  };

  return { server, tracker, handOver, closeTunnels, closeIdle: () => server.closeIdleConnections(), closeAll: () => server.closeAllConnections() };
}
