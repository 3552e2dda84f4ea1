// What a slow client has not taken yet of one answer (response-buffering.ts fills and drains it;
// the ProxyRequest holds it). Its own file, so that the request's file needs nothing of a stage.

import { ResponseBuffer, type ResponseBufferOptions } from '../response-buffer.js';

/** What a slow client has not taken yet, for one answer. */
export class HeldAnswer {
  readonly buffer: ResponseBuffer;
  /** holding: the app's chunks go to the buffer until the client has taken all of it; passing: straight to the client. */
  mode: 'holding' | 'passing' = 'holding';
  /** The buffer reached the high watermark: the upstream exchange stopped reading the app until resume(). */
  appPaused = false;

  constructor(readonly options: ResponseBufferOptions) {
    this.buffer = new ResponseBuffer(options.dir);
  }
}
