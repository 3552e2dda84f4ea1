// What the proxy's fault points (faults.ts) do to a request, as the client and the retry logic see
// them: the accept fault's answer, and the refusal an upstream-connect fault
// stands in for.

import type { Session } from '../pool/session.js';
import type { ErrorResponse } from './error-responses.js';

/** The accept fault's answer: a connection Ferry could not take, as a client should see it. */
export function acceptFaultAnswer(requestId: string): ErrorResponse {
  return { status: 503, reason: 'The server could not take this connection (injected fault: accept). Please try again.', requestId, retryAfterS: 1, close: true };
}

/** What the upstream pool reports when nothing listens on the process's socket: the request was never sent. */
export function injectedRefusal(session: Session): Error & { code: string } {
  return Object.assign(new Error(`connect ECONNREFUSED (injected fault: upstream-connect, app pid ${session.worker.pid})`), { code: 'ECONNREFUSED' });
}
