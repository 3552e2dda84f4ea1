// Incremental parser of HTTP/1.1 request heads over Buffers (pure, no I/O), strict per RFC 9112:
// `method SP request-target SP HTTP-version CRLF` with single spaces, HTTP/1.0 or HTTP/1.1 only
// (no HTTP/0.9 line, no HTTP/2.0), CRLF line endings, field lines as syntax.ts reads them, limits
// on the request line (414), the head and the number of fields (431), and the framing verdict of
// framing.ts (400/417). The result keeps the head's raw bytes, so that kept fields are forwarded
// by copying their lines.

import { METHODS } from 'node:http';
import type { Scheme } from './authority.js';
import { decideRequestFraming, type HttpVersion, type RequestFraming } from './framing.js';
import { HeadReader, type HeadEnd, type HeadLimits, type Incomplete } from './head-reader.js';
import { SP, TOKEN, isRefusal, latin1, refuse, type HeaderField, type Refusal } from './syntax.js';

export interface RequestHead {
  method: string;
  /** The request-target as sent. */
  target: string;
  version: HttpVersion;
  /** The field lines in order; their offsets point into raw. */
  fields: HeaderField[];
  /** The head's bytes, from the request line to the final CRLF. */
  raw: Buffer;
  framing: RequestFraming;
}

export type RequestHeadResult = HeadEnd<'head', RequestHead> | Refusal | Incomplete;

export interface RequestHeadOptions extends HeadLimits {
  /** The scheme of the connection: an authority's default port is dropped by it. */
  scheme: Scheme;
}

/**
 * Defaults: nginx's 8k request line (large_client_header_buffers), a 16 KiB head (Node's
 * default), and Apache's 100 fields (LimitRequestFields).
 */
export const DEFAULT_REQUEST_HEAD_OPTIONS: RequestHeadOptions = {
  maxStartLineBytes: 8192,
  maxHeadBytes: 16_384,
  maxFields: 100,
  scheme: 'http',
};

/** Visible ASCII but '#' (no fragment in a request-target, RFC 9112 §3.2). */
const TARGET = new Uint8Array(256);
for (let b = 0x21; b <= 0x7e; b++) TARGET[b] = 1;
TARGET[0x23] = 0;

/**
 * The methods Node's parser knows: the apps behind us are mostly Node servers, which refuse any
 * other, and a method nobody here implements gets 501 (RFC 9110 §9.1).
 */
const KNOWN_METHODS = new Set(METHODS);

const BAD_METHOD = 'The method is not a token followed by one space (RFC 9112 §3.1).';
const UNKNOWN_METHOD = 'The method is not one this server implements (RFC 9110 §9.1).';
const BAD_TARGET_CHAR = 'The request target has a character outside visible ASCII, or a fragment (RFC 9112 §3.2).';
const NO_VERSION = 'A request line without an HTTP version (HTTP/0.9 is not served, RFC 9112 §2.3).';
const BAD_VERSION = 'Only HTTP/1.0 and HTTP/1.1 requests are served here (RFC 9112 §2.3).';

/** "HTTP/1." */
const HTTP1 = [0x48, 0x54, 0x54, 0x50, 0x2f, 0x31, 0x2e];

export class RequestHeadParser extends HeadReader<HeadEnd<'head', RequestHead> | Refusal> {
  private method = '';
  private target = '';
  private version: HttpVersion = '1.1';
  private readonly scheme: Scheme;

  constructor(options: Partial<RequestHeadOptions> = {}) {
    const full = { ...DEFAULT_REQUEST_HEAD_OPTIONS, ...options };
    super(full, { startLineTooLong: 414, headTooLarge: 431, tooManyFields: 431, malformed: 400 });
    this.scheme = full.scheme;
  }

  protected readStartLine(buf: Buffer, start: number, cr: number): string | Refusal | undefined {
    let i = start;
    while (i < cr && TOKEN[buf[i] as number] === 1) i++;
    if (i === start || i === cr || buf[i] !== SP) return BAD_METHOD;
    const method = methodName(buf, start, i);
    const targetStart = ++i;
    while (i < cr && TARGET[buf[i] as number] === 1) i++;
    if (i === targetStart) return BAD_TARGET_CHAR;
    if (i === cr) return NO_VERSION;
    if (buf[i] !== SP) return BAD_TARGET_CHAR;
    const targetEnd = i++;
    if (cr - i !== 8) return BAD_VERSION;
    for (let k = 0; k < 7; k++) if (buf[i + k] !== HTTP1[k]) return BAD_VERSION;
    const minor = buf[i + 7];
    if (minor !== 0x30 && minor !== 0x31) return BAD_VERSION;
    if (!KNOWN_METHODS.has(method)) return refuse(501, UNKNOWN_METHOD);
    this.method = method;
    this.target = latin1(buf, targetStart, targetEnd);
    this.version = minor === 0x31 ? '1.1' : '1.0';
    return undefined;
  }

  protected finish(raw: Buffer, fields: HeaderField[], rest: Buffer): HeadEnd<'head', RequestHead> | Refusal {
    const { method, target, version } = this;
    const framing = decideRequestFraming(method, target, version, fields, raw, this.scheme);
    if (isRefusal(framing)) return framing;
    return { kind: 'head', head: { method, target, version, fields, raw, framing }, rest };
  }

  override feed(chunk: Buffer): RequestHeadResult {
    return super.feed(chunk);
  }
}

/** The method as a string; the common ones without allocating one. */
function methodName(buf: Buffer, start: number, end: number): string {
  const length = end - start;
  const first = buf[start];
  if (length === 3 && first === 0x47 && buf[start + 1] === 0x45 && buf[start + 2] === 0x54) return 'GET';
  if (length === 4 && first === 0x50 && buf[start + 1] === 0x4f && buf[start + 2] === 0x53 && buf[start + 3] === 0x54) return 'POST';
  if (length === 4 && first === 0x48 && buf[start + 1] === 0x45 && buf[start + 2] === 0x41 && buf[start + 3] === 0x44) return 'HEAD';
  return latin1(buf, start, end);
}
