// Reading a message body off the bytes that follow its head (pure, no I/O): the decoders of the
// three framings of RFC 9112 §6.3 behind one result type, so that the caller treats a body the
// same whatever its framing. Body bytes are reported as subarrays of the input (no copies), and
// the end of the message as an offset: the bytes after it belong to the next message.

import { bodyEnd, type BodyDecoder, type BodyResult } from './body-result.js';
import { ChunkedDecoder, type ChunkedLimits } from './chunked.js';
import type { BodyFraming } from './framing.js';

export type { BodyDecoder, BodyEnd, BodyMore, BodyResult } from './body-result.js';

/** A body of exactly `length` bytes (RFC 9112 §6.3 rule 6); 0 ends at once. */
export class LengthDecoder implements BodyDecoder {
  constructor(private remaining: number) {}

  decode(chunk: Buffer): BodyResult {
    if (chunk.length < this.remaining) {
      this.remaining -= chunk.length;
      return { kind: 'body', data: chunk.length === 0 ? [] : [chunk] };
    }
    const take = this.remaining;
    this.remaining = 0;
    return bodyEnd(take === 0 ? [] : [chunk.subarray(0, take)], chunk, take);
  }
}

/** A response read until the connection closes (RFC 9112 §6.3 rule 8): every byte is body. */
export class CloseDelimitedDecoder implements BodyDecoder {
  decode(chunk: Buffer): BodyResult {
    return { kind: 'body', data: chunk.length === 0 ? [] : [chunk] };
  }
}

/** The decoder for a framing; a message without a body ends at once (decode an empty buffer). */
export function createBodyDecoder(framing: BodyFraming, limits?: Partial<ChunkedLimits>): BodyDecoder {
  switch (framing.kind) {
    case 'none':
      return new LengthDecoder(0);
    case 'length':
      return new LengthDecoder(framing.length);
    case 'chunked':
      return new ChunkedDecoder(limits);
    case 'close':
      return new CloseDelimitedDecoder();
  }
}
