// --sticky-sessions (pure): the process a client's cookie names, and the cookie that sends it back
// to the process that served it, for plain requests and upgrades alike.

import type { AppConfig } from '../../lib/config.js';
import { readCookie } from '../turbocache/http-fields.js';

type StickyApp = Pick<AppConfig, 'stickySessions' | 'stickyCookieName'>;

/** The sticky id in the client's Cookie field, when the app has sticky sessions. */
export function stickyIdOf(app: StickyApp, cookieHeader: string | undefined): string | undefined {
  return app.stickySessions ? readCookie(cookieHeader, app.stickyCookieName) : undefined;
}

/** The Set-Cookie value naming the process that answered, unless the client's cookie names it already. */
export function stickyCookieFor(app: StickyApp, cookieHeader: string | undefined, stickyId: string): string | undefined {
  if (!app.stickySessions || readCookie(cookieHeader, app.stickyCookieName) === stickyId) return undefined;
  return `${app.stickyCookieName}=${stickyId}; Path=/; HttpOnly; SameSite=Lax`;
}
