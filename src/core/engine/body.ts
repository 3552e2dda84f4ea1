// Reading a message body off the bytes that follow its head (pure, no I/O): the decoders of the
// three framings of RFC 9112 §6.3 behind one result type, so that the caller treats a body the
// same whatever its framing. Body bytes are reported as subarrays of the input (no copies), and
// the end of the message as an offset: the bytes after it belong to the next message.

import { ChunkedDecoder, type ChunkedLimits } from './chunked.js';
import type { BodyFraming } from './framing.js';
import type { HeaderField, Refusal } from './syntax.js';

export interface BodyMore {
  /** The input is all body (or framing), and the message goes on. */
  kind: 'body';
  data: Buffer[];
}

export interface BodyEnd {
  kind: 'end';
  /** The last body bytes of the message in this input. */
  data: Buffer[];
  /** A chunked message's trailer fields (offsets into trailerSection); empty otherwise. */
  trailers: HeaderField[];
  /** The raw trailer field lines and the final CRLF (empty for other framings). */
  trailerSection: Buffer;
  /** Bytes of this input that belonged to the message: input[0, consumed) is forwarded as is. */
  consumed: number;
  /** What follows the message: the next request (pipelining) or nothing. */
  rest: Buffer;
}

export type BodyResult = BodyMore | BodyEnd | Refusal;

export interface BodyDecoder {
  decode(chunk: Buffer): BodyResult;
}

const EMPTY = Buffer.alloc(0);
const NO_FIELDS: HeaderField[] = [];

export function bodyEnd(data: Buffer[], chunk: Buffer, consumed: number, trailers: HeaderField[] = NO_FIELDS, trailerSection: Buffer = EMPTY): BodyEnd {
  return { kind: 'end', data, trailers, trailerSection, consumed, rest: consumed === chunk.length ? EMPTY : chunk.subarray(consumed) };
}

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
