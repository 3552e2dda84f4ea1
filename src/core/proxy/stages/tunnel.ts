// Stage 5 after a 101, tunnel: the app agreed to switch protocols, so the connection becomes a
// tunnel (socket-tunnel.ts) and only now: the client's socket is taken from the front with the
// bytes it sent behind the handshake (held until now, never sent to the app before its 101), the
// 101 goes to the client, then bytes flow both ways untouched. Counted at the 101 (a tunnel's
// lifetime is no latency); listed in status as `tunnel`, holding its
// session, until either side closes, the idle timeout, or a stop (ctx.tunnels).

import type { Socket } from 'node:net';
import type { ResponseHead } from '../../engine/response-head.js';
import { buildDownstreamHeaders } from '../headers.js';
import { responseHead, Tunnel } from '../socket-tunnel.js';
import { canAnswer } from './answers.js';
import type { ProxyRequest } from './proxy-request.js';
import { flatFields } from './request-fields.js';

export function openTunnel(request: ProxyRequest, head: ResponseHead, appSocket: Socket, fromApp: Buffer): void {
  const { ctx, exchange, group, tracked } = request;
  // The client went (or Ferry answered) while the app switched: nobody to splice it to.
  if (request.state !== 'forwarding' || !canAnswer(exchange) || !group) {
    appSocket.destroy();
    return;
  }
  clearTimeout(request.deadlineTimer);
  request.to('tunnel');
  request.status = 101;
  // The front lets go of the socket; the exchange's onDone('detached') leaves the request to this stage.
  const { socket: client, rest } = exchange.detach();
  const requestId = request.requestId;
  const idleTimeoutMs = ctx.websocketIdleTimeoutMs;
  const tunnel = new Tunnel(client, appSocket, {
    idleTimeoutMs,
    onIdle: () => ctx.log.debug('tunnel idle for the websocket idle timeout; closed', { reqId: requestId, idleTimeoutMs }),
  });
  ctx.tunnels.add(tunnel);
  client.once('close', () => {
    ctx.tunnels.delete(tunnel);
    closeTunnelled(request);
  });
  if (tracked) {
    tracked.state = 'tunnel';
    ctx.tracker.countStatus(101);
    group.stats.latency.observe((Date.now() - tracked.startedAtMs) / 1000);
  }
  group.stats.responses.count(101);
  client.write(responseHead(head.status, head.reason, buildDownstreamHeaders(flatFields(head.fields), true)));
  tunnel.splice(fromApp, rest.length > 0 ? [rest] : []);
}

/** Either side closed (the Tunnel closes both): the request is over, its session free. */
function closeTunnelled(request: ProxyRequest): void {
  if (request.state !== 'tunnel') return;
  request.to('done');
  request.session?.close();
  if (request.tracked) request.ctx.tracker.end(request.tracked);
}
