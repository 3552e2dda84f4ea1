// The answers Ferry itself gives when it cannot get one from the app: honest status, a reason,
// a request id to find the log line, and never the environment or a stack.

import type http from 'node:http';
import crypto from 'node:crypto';

const PREFIX = crypto.randomBytes(3).toString('hex');
let counter = 0;

/** Short, unique within an instance's lifetime, and greppable in the logs. */
export function nextRequestId(): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return `${PREFIX}-${counter.toString(36)}`;
}

const REASONS: Record<number, string> = {
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export interface ErrorResponse {
  status: 500 | 502 | 503 | 504;
  /** One sentence for the client; no internals. */
  reason: string;
  requestId: string;
  retryAfterS?: number;
}

export function sendErrorResponse(req: http.IncomingMessage, res: http.ServerResponse, error: ErrorResponse): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${error.status} ${REASONS[error.status]}\n\n${error.reason}\nRequest id: ${error.requestId}\n`;
  const headers: http.OutgoingHttpHeaders = {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'X-Request-Id': error.requestId,
  };
  if (error.retryAfterS !== undefined) headers['Retry-After'] = String(error.retryAfterS);
  res.writeHead(error.status, REASONS[error.status], headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}
