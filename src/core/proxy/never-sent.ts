// Whether a failed request may go to another app process: only when nothing of it reached the
// one that failed, so the app cannot have acted on it twice.

/**
 * The connection to the app process was never made (refused, or its socket file is gone), and
 * the body, if any, can be sent again (unread, or buffered).
 */
export function neverSent(code: string | undefined, bodyIntact: boolean): boolean {
  return (code === 'ECONNREFUSED' || code === 'ENOENT') && bodyIntact;
}
