// What a body decoder reports (pure types and one constructor), apart from the decoders so that
// each decoder (length, close-delimited, chunked) and their factory can share it without a circle.

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
