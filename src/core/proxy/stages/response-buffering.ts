// Response buffering for slow clients (respond.ts calls it): once the client's socket takes no
// more, what the app sends waits in a ResponseBuffer (memory, then a file of the BufferDir), so the
// app is read as fast as it writes and its session is freed when it is done, while the client
// drains at its own pace (the request is then 'draining'). The app is slowed down only past the
// high watermark; without response buffering, plain backpressure (respond.ts).

import { HeldAnswer } from './held-answer.js';
import type { ProxyRequest } from './proxy-request.js';

/**
 * The client's socket refused a chunk (it was still taken): with response buffering on, hold
 * what comes next and go on reading the app (true); without, stop reading it (false).
 */
export function startHolding(request: ProxyRequest): boolean {
  const options = request.ctx.responseBuffer;
  if (options === undefined || options.highWatermarkBytes <= 0) return false;
  let held = request.held;
  if (held === undefined) {
    held = new HeldAnswer(options);
    request.held = held;
    if (request.tracked) request.tracked.responseBuffer = held.buffer;
  }
  held.mode = 'holding';
  return true;
}

/** A chunk of the app's answer while holding; false: stop reading the app (over the watermark, or the buffer failed). */
export function hold(request: ProxyRequest, held: HeldAnswer, chunk: Buffer): boolean {
  try {
    held.buffer.push(chunk);
  } catch (err) {
    holdFailed(request, err as Error);
    return false;
  }
  if (held.buffer.size < held.options.highWatermarkBytes) return true;
  held.appPaused = true;
  return false;
}

/** The client took what it had: give it the held rest, in order, as far as it takes it; the answer ends once the app has finished and nothing is left. */
export function drainHeld(request: ProxyRequest, held: HeldAnswer): void {
  const { buffer } = held;
  let full = false;
  try {
    let chunk: Buffer | undefined;
    while (!full && (chunk = buffer.shift()) !== undefined) full = !request.exchange.write(chunk);
  } catch (err) {
    holdFailed(request, err as Error);
    return;
  }
  if (held.appPaused && buffer.size < held.options.highWatermarkBytes) {
    held.appPaused = false;
    request.resumeSource();
  }
  if (buffer.size > 0) return;
  held.mode = 'passing';
  if (request.state === 'draining') {
    request.to('answered');
    request.exchange.end();
  }
}

/** The spill file failed (disk full, say): the client cannot get the whole answer, so it gets a broken one. */
function holdFailed(request: ProxyRequest, err: Error): void {
  request.ctx.log.error('could not buffer a response for a slow client; closing its connection', { reqId: request.requestId, err });
  request.upstream?.abort(err);
  request.exchange.destroy();
}
