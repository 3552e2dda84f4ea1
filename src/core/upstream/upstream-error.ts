// Why an exchange with an app process failed, when Node's own error does not say it: the codes
// stay inside the core (the proxy turns them into 502s; they never reach the CLI). A refused or missing socket keeps Node's ECONNREFUSED / ENOENT, which the
// proxy reads as "never sent" (proxy/never-sent.ts).

export type UpstreamErrorCode =
  /** The app closed the connection before its answer was complete. */
  | 'FERRY_UPSTREAM_CLOSED'
  /** The app's answer is not HTTP/1.1 as Ferry reads it (malformed or oversized head, bad chunk). */
  | 'FERRY_UPSTREAM_BAD_RESPONSE'
  /** The request cannot be written as is (a field with CR, LF or NUL). */
  | 'FERRY_UPSTREAM_BAD_REQUEST'
  /** The pool is closed: its process is stopping or gone. */
  | 'FERRY_UPSTREAM_POOL_CLOSED'
  /** A request of Ferry's own (the readiness check) got no whole answer in time. */
  | 'FERRY_UPSTREAM_TIMEOUT';

export class UpstreamError extends Error {
  constructor(
    readonly code: UpstreamErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}
