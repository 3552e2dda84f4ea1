// What a client gets when no process could be checked out for its request (pure but for the
// throttled log line): shutting down, shed under load, or the app cannot start. Either front.

import { hasErrorCode } from '../../lib/error-codes.js';
import { CoreError } from '../errors.js';
import { throttledWarn, type LogFields, type Logger } from '../log.js';
import type { ErrorResponse } from './error-responses.js';

/** One throttled warning per logger: refusals come once per request exactly when the core is busiest. */
const overloadWarnings = new WeakMap<Logger, (msg: string, fields?: LogFields) => void>();
function warnOverload(log: Logger): (msg: string, fields?: LogFields) => void {
  let warn = overloadWarnings.get(log);
  if (!warn) overloadWarnings.set(log, (warn = throttledWarn(log)));
  return warn;
}

/** What a client gets when no process could be checked out for its request; logged here. */
export function checkoutRefusal(err: unknown, requestId: string, log: Logger): ErrorResponse {
  if (err instanceof CoreError && hasErrorCode(err, 'FERRY_ERR_SHUTTING_DOWN')) {
    return { status: 503, reason: 'The server is restarting or shutting down; try again shortly.', requestId, retryAfterS: 1 };
  }
  if (err instanceof CoreError && (hasErrorCode(err, 'FERRY_ERR_POOL_QUEUE_FULL') || hasErrorCode(err, 'FERRY_ERR_POOL_QUEUE_TIMEOUT'))) {
    warnOverload(log)('request shed: app under heavy load', { reqId: requestId, code: err.code, reason: err.message });
    return {
      status: 503,
      reason: hasErrorCode(err, 'FERRY_ERR_POOL_QUEUE_FULL')
        ? 'This application is under heavy load (request queue full). Please try again shortly.'
        : 'This application is under heavy load (waited too long for a free process). Please try again shortly.',
      requestId,
      retryAfterS: 1,
    };
  }
  if (err instanceof CoreError && hasErrorCode(err, 'FERRY_ERR_POOL_UNAVAILABLE')) {
    const retryAfterMs = Number(err.details.retryAfterMs ?? 1000);
    warnOverload(log)('request refused: app unavailable', { reqId: requestId, reason: err.message });
    return {
      status: 503,
      reason: 'The application could not be started. The operator can find the cause in the server log.',
      requestId,
      retryAfterS: Math.max(1, Math.ceil(retryAfterMs / 1000)),
    };
  }
  log.error('request failed before reaching the app', { reqId: requestId, err });
  return { status: 500, reason: 'The server could not handle this request.', requestId };
}

