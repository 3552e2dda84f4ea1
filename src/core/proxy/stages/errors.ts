// Stage errors: no process for the request (checkout-refusal.ts says what the client gets; the
// spawn error page when the app cannot start and its pages are friendly).

import { hasErrorCode } from '../../../lib/error-codes.js';
import { CoreError } from '../../errors.js';
import { checkoutRefusal } from '../checkout-refusal.js';
import { requestClientAddress, showsSpawnDetails } from '../error-page-audience.js';
import type { SpawnFacts } from '../error-responses.js';
import { writeError, writeSpawnErrorPage } from './answers.js';
import type { ProxyRequest } from './proxy-request.js';
import { answerStale } from './stale-answer.js';

export function checkoutFailed(request: ProxyRequest, err: unknown): void {
  if (request.state === 'done') return;
  // No process for it: the cache's stale copy, if it may stand in (stale-if-error).
  if (answerStale(request)) return;
  const { ctx, exchange, group } = request;
  const refusal = checkoutRefusal(err, request.requestId, ctx.log);
  request.status = refusal.status;
  request.to('answered');
  const spawnError = err instanceof CoreError && hasErrorCode(err, 'FERRY_ERR_POOL_UNAVAILABLE') ? (err.details.spawnError as SpawnFacts | undefined) : undefined;
  if (group && group.app.friendlyErrorPages !== 'off' && spawnError) {
    const client = requestClientAddress(exchange.remoteAddress, request.headers['x-forwarded-for'], ctx.trustForwarded);
    const showDetails = showsSpawnDetails(group.app.friendlyErrorPages, client);
    writeSpawnErrorPage(exchange, { ...spawnError, message: group.lastSpawnError?.message ?? (err as Error).message }, request.requestId, refusal.retryAfterS ?? 1, showDetails);
    return;
  }
  writeError(exchange, refusal);
}
