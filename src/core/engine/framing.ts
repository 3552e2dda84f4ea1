// How a request is delimited and what it asks of the connection (pure): RFC 9112 §6 (body
// length), §3.2 (target forms, Host), §9.3 (persistence), RFC 9110 §10.1.1 (Expect) and §7.8
// (Upgrade). Strict where a front and an app could read one message as two: Transfer-Encoding must
// be exactly `chunked`, one Content-Length of digits only, never both, one valid Host. The pieces
// the response side shares (Content-Length, Transfer-Encoding, Connection) are exported.

import { parseAuthority, type Authority, type Scheme } from './authority.js';
import { refuse, type HeaderField, type Refusal } from './syntax.js';

export type HttpVersion = '1.0' | '1.1';

/** How the body of a message is delimited (RFC 9112 §6.3). */
export type BodyFraming =
  /** No body at all. */
  | { kind: 'none' }
  /** Exactly `length` bytes (a Content-Length, possibly 0). */
  | { kind: 'length'; length: number }
  /** Chunked transfer coding, ended by the last chunk and trailers. */
  | { kind: 'chunked' }
  /** Everything until the connection closes (responses only). */
  | { kind: 'close' };

export const NO_BODY: BodyFraming = { kind: 'none' };
export const CHUNKED: BodyFraming = { kind: 'chunked' };
export const UNTIL_CLOSE: BodyFraming = { kind: 'close' };

/** The four forms of request-target (RFC 9112 §3.2). */
export type TargetForm = 'origin' | 'absolute' | 'authority' | 'asterisk';

export interface RequestFraming {
  body: BodyFraming;
  targetForm: TargetForm;
  /** The target to forward: origin-form (an absolute-form target turned into it, RFC 9112
   * §3.2.2), `*`, or CONNECT's authority. */
  path: string;
  /** The request's host: an absolute-form or authority-form target's, else Host's; undefined
   * only for an HTTP/1.0 request that names none. */
  authority: Authority | undefined;
  /** The connection may carry another request after this one (RFC 9112 §9.3). */
  keepAlive: boolean;
  /** `Expect: 100-continue` on HTTP/1.1: the client waits for a 100 before sending the body. */
  expectContinue: boolean;
  /** The Upgrade value when the client asks to switch protocols (`Connection: upgrade`). */
  upgrade: string | undefined;
  /** Connection's options, lower-cased: the fields they name are hop-by-hop (RFC 9110 §7.6.1). */
  connection: readonly string[];
}

/** The framing-related fields of a head, gathered in one pass over it. */
export interface FramingFields {
  contentLength: string | undefined;
  contentLengthCount: number;
  transferEncoding: string | undefined;
  transferEncodingCount: number;
  host: string | undefined;
  hostCount: number;
  connection: string[];
  expect: string | undefined;
  upgrade: string | undefined;
  /** A Content-Length or Transfer-Encoding value followed by a tab (see trailingTab). */
  framingTab: boolean;
}

/**
 * Whether the whitespace after a field's value, in raw, has a tab. OWS may, but Node's parser
 * refuses a tab after a Content-Length or Transfer-Encoding value; an app behind us that runs it
 * would see another message than we did, so those are refused here too.
 */
function trailingTab(field: HeaderField, raw: Buffer): boolean {
  for (let i = field.end - 3; i > field.start; i--) {
    const b = raw[i];
    if (b === 0x09) return true;
    if (b !== 0x20) return false;
  }
  return false;
}

/** One pass over the fields for those framing depends on; raw is the head they point into. */
export function collectFramingFields(fields: readonly HeaderField[], raw: Buffer): FramingFields {
  const found: FramingFields = {
    contentLength: undefined,
    contentLengthCount: 0,
    transferEncoding: undefined,
    transferEncodingCount: 0,
    host: undefined,
    hostCount: 0,
    connection: [],
    expect: undefined,
    upgrade: undefined,
    framingTab: false,
  };
  for (const field of fields) {
    // The length first: most fields are none of these and leave at one comparison.
    switch (field.lower.length) {
      case 4:
        if (field.lower === 'host') {
          found.host = field.value;
          found.hostCount++;
        }
        break;
      case 6:
        if (field.lower === 'expect') found.expect = found.expect === undefined ? field.value : `${found.expect}, ${field.value}`;
        break;
      case 7:
        if (field.lower === 'upgrade') found.upgrade = found.upgrade === undefined ? field.value : `${found.upgrade}, ${field.value}`;
        break;
      case 10:
        if (field.lower === 'connection') addOptions(found.connection, field.value);
        break;
      case 14:
        if (field.lower === 'content-length') {
          found.contentLength = field.value;
          found.contentLengthCount++;
          if (trailingTab(field, raw)) found.framingTab = true;
        }
        break;
      case 17:
        if (field.lower === 'transfer-encoding') {
          found.transferEncoding = field.value;
          found.transferEncodingCount++;
          if (trailingTab(field, raw)) found.framingTab = true;
        }
        break;
    }
  }
  return found;
}

/** Connection's comma-separated options (RFC 9110 §7.6.1), lower-cased, empty elements skipped. */
function addOptions(into: string[], value: string): void {
  // One option is the common case: keep-alive or close.
  if (value.indexOf(',') < 0) {
    const option = value.toLowerCase();
    if (option !== '') into.push(option);
    return;
  }
  for (const part of value.split(',')) {
    const option = part.trim().toLowerCase();
    if (option !== '') into.push(option);
  }
}

/** Content-Length = 1*DIGIT (RFC 9110 §8.6), as a safe integer; undefined when it is not one. */
export function parseContentLength(value: string): number | undefined {
  if (value.length === 0 || value.length > 16) return undefined;
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return undefined;
    n = n * 10 + (c - 0x30);
  }
  return n <= Number.MAX_SAFE_INTEGER ? n : undefined;
}

/** Exactly one Transfer-Encoding field whose value is `chunked` (any case): the only one taken. */
export function isChunkedOnly(found: FramingFields): boolean {
  const value = found.transferEncoding;
  return found.transferEncodingCount === 1 && value !== undefined && value.length === 7 && value.toLowerCase() === 'chunked';
}

const TE_NOT_CHUNKED = 'The only Transfer-Encoding accepted is chunked, alone and once (RFC 9112 §6.1).';
const TE_ON_HTTP10 = 'An HTTP/1.0 message cannot have a Transfer-Encoding (RFC 9112 §6.1).';
const TE_AND_CL = 'A message with both Transfer-Encoding and Content-Length (RFC 9112 §6.1).';
const SEVERAL_CL = 'More than one Content-Length (RFC 9112 §6.3).';
const BAD_CL = 'A Content-Length that is not a number of bytes (RFC 9110 §8.6).';
const FRAMING_TAB = 'A tab after a Content-Length or Transfer-Encoding value.';

/**
 * The body framing of a message from its fields, or why it is ambiguous (RFC 9112 §6.1, §6.3).
 * Several Content-Length fields and lists ("5, 5") are refused even when equal, as nginx does.
 */
export function decideBodyFraming(found: FramingFields, version: HttpVersion): BodyFraming | string {
  if (found.framingTab) return FRAMING_TAB;
  if (found.transferEncodingCount > 0) {
    if (version === '1.0') return TE_ON_HTTP10;
    if (!isChunkedOnly(found)) return TE_NOT_CHUNKED;
    if (found.contentLengthCount > 0) return TE_AND_CL;
    return CHUNKED;
  }
  if (found.contentLengthCount === 0) return NO_BODY;
  if (found.contentLengthCount > 1) return SEVERAL_CL;
  const length = parseContentLength(found.contentLength as string);
  if (length === undefined) return BAD_CL;
  return { kind: 'length', length };
}

/** Persistence (RFC 9112 §9.3): HTTP/1.1 unless `close`, HTTP/1.0 only with `keep-alive`. */
export function decideKeepAlive(version: HttpVersion, connection: readonly string[]): boolean {
  return version === '1.1' ? !connection.includes('close') : connection.includes('keep-alive') && !connection.includes('close');
}

const NO_HOST = 'An HTTP/1.1 request without Host (RFC 9112 §3.2).';
const SEVERAL_HOSTS = 'More than one Host (RFC 9112 §3.2).';
const BAD_HOST = 'Host is not a valid host[:port] (RFC 9112 §3.2).';
const BAD_TARGET = 'The request target is neither a path, an http(s) URL, CONNECT host:port nor OPTIONS * (RFC 9112 §3.2).';
const BAD_EXPECT = 'The only expectation met is 100-continue (RFC 9110 §10.1.1).';

/** The request's framing and connection semantics, or the refusal (400, or 417 for Expect). */
export function decideRequestFraming(method: string, target: string, version: HttpVersion, fields: readonly HeaderField[], raw: Buffer, scheme: Scheme): RequestFraming | Refusal {
  const found = collectFramingFields(fields, raw);
  const body = decideBodyFraming(found, version);
  if (typeof body === 'string') return refuse(400, body);

  if (found.hostCount > 1) return refuse(400, SEVERAL_HOSTS);
  if (found.hostCount === 0 && version === '1.1') return refuse(400, NO_HOST);
  let authority: Authority | undefined;
  if (found.host !== undefined) {
    authority = parseAuthority(found.host, scheme);
    if (!authority) return refuse(400, BAD_HOST);
  }

  let targetForm: TargetForm;
  let path = target;
  if (method === 'CONNECT') {
    // RFC 9110 §9.3.6: CONNECT names host:port and nothing else.
    targetForm = 'authority';
    authority = parseAuthority(target, scheme, true);
    if (!authority) return refuse(400, BAD_TARGET);
  } else if (target.charCodeAt(0) === 0x2f) {
    targetForm = 'origin';
  } else if (target === '*') {
    if (method !== 'OPTIONS') return refuse(400, BAD_TARGET);
    targetForm = 'asterisk';
  } else {
    const absolute = splitAbsoluteForm(target, scheme);
    if (!absolute) return refuse(400, BAD_TARGET);
    // RFC 9112 §3.2.2: the target's authority wins over Host.
    targetForm = 'absolute';
    authority = absolute.authority;
    path = absolute.path;
  }

  let expectContinue = false;
  if (found.expect !== undefined && found.expect !== '' && version === '1.1') {
    // RFC 9110 §10.1.1: an HTTP/1.0 client's expectation is ignored.
    if (found.expect.toLowerCase() !== '100-continue') return refuse(417, BAD_EXPECT);
    expectContinue = true;
  }
  // RFC 9110 §7.8: Upgrade counts only on HTTP/1.1, with the upgrade option in Connection.
  const upgrade = version === '1.1' && found.upgrade !== undefined && found.upgrade !== '' && found.connection.includes('upgrade') ? found.upgrade : undefined;

  return {
    body,
    targetForm,
    path,
    authority,
    keepAlive: decideKeepAlive(version, found.connection),
    expectContinue,
    upgrade,
    connection: found.connection,
  };
}

/** `http(s)://authority[/path][?query]` split into its authority and origin-form, or undefined. */
function splitAbsoluteForm(target: string, scheme: Scheme): { authority: Authority; path: string } | undefined {
  const sep = target.indexOf('://');
  if (sep !== 4 && sep !== 5) return undefined;
  const written = target.slice(0, sep).toLowerCase();
  if (written !== 'http' && written !== 'https') return undefined;
  const from = sep + 3;
  let end = from;
  while (end < target.length) {
    const c = target.charCodeAt(end);
    if (c === 0x2f || c === 0x3f) break; // '/' or '?'
    end++;
  }
  // The connection (or a trusted front) says which scheme it is, not the client's URL.
  const authority = parseAuthority(target.slice(from, end), scheme);
  if (!authority) return undefined;
  const rest = target.slice(end);
  return { authority, path: rest === '' ? '/' : rest.charCodeAt(0) === 0x3f ? `/${rest}` : rest };
}
