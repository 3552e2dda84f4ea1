// Server-sent events as a test reads them: how late each event arrived after the app sent it.

import { request } from 'undici';

/**
 * GETs `url` (an event stream of `data: {"n":…,"sentAt":epoch ms}` events) to its end and gives
 * each event's delay in ms, from the app's `sentAt` to the chunk's arrival, with the content type.
 */
export async function eventDelays(url: string): Promise<{ contentType: unknown; delays: number[] }> {
  const res = await request(url);
  const delays: number[] = [];
  let pending = '';
  for await (const chunk of res.body) {
    const now = Date.now();
    pending += (chunk as Buffer).toString();
    let end: number;
    while ((end = pending.indexOf('\n\n')) !== -1) {
      const event = JSON.parse(pending.slice('data: '.length, end)) as { n: number; sentAt: number };
      pending = pending.slice(end + 2);
      delays.push(now - event.sentAt);
    }
  }
  return { contentType: res.headers['content-type'], delays };
}
