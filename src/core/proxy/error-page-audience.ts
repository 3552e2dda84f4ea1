// Who may read the friendly error page's details. The app's last output often holds what it
// printed at start (connection strings, tokens), so in development only clients on this machine
// see it, unless the operator asked for every client with --friendly-error-pages (pure).

import type { FriendlyErrorPages } from '../../lib/config.js';
import { isLoopbackAddress } from '../../lib/loopback.js';

/**
 * The client's address as far as Ferry can tell: the TCP peer; behind a trusted front (unix
 * socket), the last X-Forwarded-For entry, the one the front itself added (those before it are
 * whatever the client claimed). Undefined when the front said nothing.
 */
export function requestClientAddress(remoteAddress: string | undefined, forwardedFor: string | string[] | undefined, trustForwarded: boolean): string | undefined {
  if (!trustForwarded) return remoteAddress;
  const joined = Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor;
  const last = joined?.split(',').at(-1)?.trim();
  // An IPv6 address may come bracketed ("[::1]"), as in Forwarded.
  return last ? last.replace(/^\[(.*)\]$/, '$1') : undefined;
}

/** Whether this client sees what failed and the app's output, or only that they are in the log. */
export function showsSpawnDetails(mode: FriendlyErrorPages, clientAddress: string | undefined): boolean {
  return mode === 'all' || (mode === 'local' && isLoopbackAddress(clientAddress));
}
