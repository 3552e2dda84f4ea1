// The --metrics-address endpoint: GET /metrics in Prometheus text format, without a token, on a
// loopback socket of its own (never the public port). Built here, listened on by main.ts.

import http from 'node:http';
import type { Logger } from '../log.js';
import { METRICS_CONTENT_TYPE } from './exposition.js';

export function createMetricsServer(render: () => Promise<string>, log: Logger): http.Server {
  return http.createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found: metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('Use GET /metrics\n');
      return;
    }
    render().then(
      (text) => {
        res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        log.error('could not render the metrics', { err });
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end('could not render the metrics; see the core log\n');
      },
    );
  });
}
