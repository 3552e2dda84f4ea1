// Incremental decoder of the chunked transfer coding (RFC 9112 §7.1), pure, strict: chunk-size
// is 1*HEXDIG (at most 16 digits, at most maxChunkBytes), extensions are `;token[=token|
// quoted-string]` without whitespace and bounded in total, every line ends in CRLF, and trailer
// fields follow the same rules as head fields (syntax.ts), bounded. Data is reported as
// subarrays of the input; a byte state machine runs only over the framing between them.

import { bodyEnd, type BodyDecoder, type BodyResult } from './body-result.js';
import { CR, LF, TOKEN, parseFieldLine, refuse, type HeaderField, type Refusal } from './syntax.js';

export interface ChunkedLimits {
  /** The largest chunk-size taken (a guard on the arithmetic, not a body size limit). */
  maxChunkBytes: number;
  /** Extension bytes (';' to the end of the size line) over the whole body. */
  maxExtensionBytes: number;
  /** The trailer section's bytes, lines and final CRLF included. */
  maxTrailerBytes: number;
  maxTrailerFields: number;
}

export const DEFAULT_CHUNKED_LIMITS: ChunkedLimits = {
  maxChunkBytes: Number.MAX_SAFE_INTEGER,
  maxExtensionBytes: 4096,
  maxTrailerBytes: 8192,
  maxTrailerFields: 32,
};

const enum State {
  SizeStart,
  Size,
  ExtNameStart,
  ExtName,
  ExtValueStart,
  ExtToken,
  ExtQuoted,
  ExtQuotedPair,
  ExtQuotedEnd,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  Trailer,
  Done,
}

/** qdtext (RFC 9110 §5.6.4): HTAB, SP, VCHAR but '"' and '\', obs-text. */
const QDTEXT = new Uint8Array(256);
QDTEXT[0x09] = 1;
for (let b = 0x20; b <= 0xff; b++) QDTEXT[b] = 1;
QDTEXT[0x22] = 0;
QDTEXT[0x5c] = 0;
QDTEXT[0x7f] = 0;

/** What may follow '\' in a quoted-pair: HTAB, SP, VCHAR, obs-text. */
const QUOTED_PAIR = new Uint8Array(256);
QUOTED_PAIR.set(QDTEXT);
QUOTED_PAIR[0x22] = 1;
QUOTED_PAIR[0x5c] = 1;

const HEX = new Int8Array(256).fill(-1);
for (let b = 0; b < 10; b++) HEX[0x30 + b] = b;
for (let b = 0; b < 6; b++) HEX[0x41 + b] = HEX[0x61 + b] = 10 + b;

const BAD_SIZE = 'A chunk size that is not hexadecimal digits (RFC 9112 §7.1).';
const SIZE_TOO_LARGE = 'A chunk size with more than 16 digits or over the limit.';
const BAD_EXTENSION = 'A chunk extension that is not ;token[=token|quoted-string] (RFC 9112 §7.1.1).';
const EXTENSIONS_TOO_LONG = 'Chunk extensions longer than this server accepts.';
const BAD_LINE_END = 'A chunk line or chunk data not followed by CRLF (RFC 9112 §7.1).';
const TRAILERS_TOO_LARGE = 'A trailer section larger than this server accepts.';
const TOO_MANY_TRAILERS = 'More trailer fields than this server accepts.';
const BARE_LF_TRAILER = 'A trailer line ends with a bare LF, not CRLF (RFC 9112 §2.2).';

const MAX_SIZE_DIGITS = 16;

/**
 * Fields a trailer must not carry (RFC 9110 §6.5.1): framing and routing are decided by the head,
 * and a recipient that merged trailers into the head would decide them again.
 */
const FORBIDDEN_TRAILERS = new Set(['content-length', 'transfer-encoding', 'host', 'trailer', 'content-type', 'content-encoding', 'content-range', 'expect', 'connection', 'upgrade', 'te', 'authorization', 'cookie', 'set-cookie']);
const FORBIDDEN_TRAILER = 'A trailer field that only a head may carry (RFC 9110 §6.5.1).';

export class ChunkedDecoder implements BodyDecoder {
  private readonly limits: ChunkedLimits;
  private state = State.SizeStart;
  private size = 0;
  private digits = 0;
  private remaining = 0;
  private extensionBytes = 0;
  private trailerBytes: Buffer | null = null;
  private trailerLength = 0;
  private trailerLineStart = 0;
  private trailers: HeaderField[] = [];
  private refusal: Refusal | undefined;

  constructor(limits: Partial<ChunkedLimits> = {}) {
    this.limits = { ...DEFAULT_CHUNKED_LIMITS, ...limits };
  }

  decode(chunk: Buffer): BodyResult {
    if (this.refusal) return this.refusal;
    const data: Buffer[] = [];
    const length = chunk.length;
    let i = 0;
    while (i < length) {
      if (this.state === State.Data) {
        const take = Math.min(this.remaining, length - i);
        data.push(chunk.subarray(i, i + take));
        i += take;
        this.remaining -= take;
        if (this.remaining === 0) this.state = State.DataCr;
        continue;
      }
      if (this.state === State.Trailer) {
        const end = this.readTrailer(chunk, i);
        if (typeof end === 'string') return this.fail(end);
        i = end;
        if ((this.state as State) === State.Done) {
          const section = (this.trailerBytes as Buffer).subarray(0, this.trailerLength);
          return bodyEnd(data, chunk, i, this.trailers, section);
        }
        continue;
      }
      const why = this.step(chunk[i] as number);
      if (why !== undefined) return this.fail(why);
      i++;
    }
    return { kind: 'body', data };
  }

  /** One byte of a size line or of a data chunk's CRLF; undefined when taken, else why not. */
  private step(b: number): string | undefined {
    switch (this.state) {
      case State.SizeStart:
      case State.Size: {
        const digit = HEX[b] as number;
        if (digit >= 0) {
          if (++this.digits > MAX_SIZE_DIGITS) return SIZE_TOO_LARGE;
          this.size = this.size * 16 + digit;
          if (this.size > this.limits.maxChunkBytes) return SIZE_TOO_LARGE;
          this.state = State.Size;
          return undefined;
        }
        if (this.state === State.SizeStart) return BAD_SIZE;
        if (b === CR) return this.toSizeLf();
        if (b === 0x3b) return this.toExtName();
        return BAD_SIZE;
      }
      case State.ExtNameStart:
        if (TOKEN[b] !== 1) return BAD_EXTENSION;
        this.state = State.ExtName;
        return this.countExtension();
      case State.ExtName:
        if (TOKEN[b] === 1) return this.countExtension();
        if (b === 0x3d) {
          this.state = State.ExtValueStart;
          return this.countExtension();
        }
        return this.afterExtension(b);
      case State.ExtValueStart:
        if (TOKEN[b] === 1) this.state = State.ExtToken;
        else if (b === 0x22) this.state = State.ExtQuoted;
        else return BAD_EXTENSION;
        return this.countExtension();
      case State.ExtToken:
        if (TOKEN[b] === 1) return this.countExtension();
        return this.afterExtension(b);
      case State.ExtQuoted:
        if (b === 0x22) this.state = State.ExtQuotedEnd;
        else if (b === 0x5c) this.state = State.ExtQuotedPair;
        else if (QDTEXT[b] !== 1) return BAD_EXTENSION;
        return this.countExtension();
      case State.ExtQuotedPair:
        if (QUOTED_PAIR[b] !== 1) return BAD_EXTENSION;
        this.state = State.ExtQuoted;
        return this.countExtension();
      case State.ExtQuotedEnd:
        return this.afterExtension(b);
      case State.SizeLf:
        if (b !== LF) return BAD_LINE_END;
        if (this.size === 0) {
          this.state = State.Trailer;
        } else {
          this.remaining = this.size;
          this.state = State.Data;
        }
        this.size = 0;
        this.digits = 0;
        return undefined;
      case State.DataCr:
        if (b !== CR) return BAD_LINE_END;
        this.state = State.DataLf;
        return undefined;
      case State.DataLf:
        if (b !== LF) return BAD_LINE_END;
        this.state = State.SizeStart;
        return undefined;
      default:
        return BAD_LINE_END;
    }
  }

  /** After an extension's name or value: another one, or the end of the size line. */
  private afterExtension(b: number): string | undefined {
    if (b === 0x3b) return this.toExtName();
    if (b === CR) return this.toSizeLf();
    return BAD_EXTENSION;
  }

  private toExtName(): string | undefined {
    this.state = State.ExtNameStart;
    return this.countExtension();
  }

  private toSizeLf(): undefined {
    this.state = State.SizeLf;
    return undefined;
  }

  private countExtension(): string | undefined {
    return ++this.extensionBytes > this.limits.maxExtensionBytes ? EXTENSIONS_TOO_LONG : undefined;
  }

  /**
   * Trailer bytes from chunk[i]: gathered (they are few, and rare) line by line; each complete
   * line is a field, or the empty line that ends the message. Returns where reading stopped.
   */
  private readTrailer(chunk: Buffer, i: number): number | string {
    const { maxTrailerBytes, maxTrailerFields } = this.limits;
    while (i < chunk.length) {
      const lf = chunk.indexOf(LF, i);
      const stop = lf < 0 ? chunk.length : lf + 1;
      if (this.trailerLength + stop - i > maxTrailerBytes) return TRAILERS_TOO_LARGE;
      this.gatherTrailer(chunk, i, stop);
      i = stop;
      if (lf < 0) return i;
      const buf = this.trailerBytes as Buffer;
      const start = this.trailerLineStart;
      const end = this.trailerLength;
      if (end - start < 2 || buf[end - 2] !== CR) return BARE_LF_TRAILER;
      this.trailerLineStart = end;
      if (end - start === 2) {
        this.state = State.Done;
        return i;
      }
      if (this.trailers.length === maxTrailerFields) return TOO_MANY_TRAILERS;
      const field = parseFieldLine(buf, start, end - 2, 0);
      if (typeof field === 'string') return field;
      if (FORBIDDEN_TRAILERS.has(field.lower)) return FORBIDDEN_TRAILER;
      this.trailers.push(field);
    }
    return i;
  }

  private gatherTrailer(chunk: Buffer, from: number, to: number): void {
    const need = this.trailerLength + to - from;
    if (this.trailerBytes === null || need > this.trailerBytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(64, need * 2));
      if (this.trailerBytes !== null) this.trailerBytes.copy(grown, 0, 0, this.trailerLength);
      this.trailerBytes = grown;
    }
    chunk.copy(this.trailerBytes, this.trailerLength, from, to);
    this.trailerLength = need;
  }

  private fail(reason: string): Refusal {
    this.refusal = refuse(400, reason);
    return this.refusal;
  }
}
