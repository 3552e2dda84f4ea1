// The head of an answer to a client (pure): the status line, the handler's fields checked (a
// name that is no token or a value with CR/LF would split the response), and the framing and
// connection fields that only the front writes, decided here in one place (RFC 9112 §6.3, §9.3):
// no body for HEAD, 204 and 304; the handler's Content-Length; chunked when the length is unknown
// and the client speaks HTTP/1.1; else the body ends with the connection (HTTP/1.0).

import { parseContentLength, type HttpVersion } from '../engine/framing.js';
import { isFieldValue, isToken } from '../engine/syntax.js';

/** How the answer's body is delimited on the wire. */
export type AnswerFraming =
  /** No body (HEAD, 204, 304): whatever is written is dropped. */
  | 'none'
  /** Exactly the Content-Length the handler gave. */
  | 'length'
  /** Chunked: write() frames each chunk; writeBodyRaw() passes chunks already framed. */
  | 'chunked'
  /** Until the connection closes (an HTTP/1.0 client and no length). */
  | 'close';

/** What the answer's framing depends on besides the handler's fields. */
export interface AnswerContext {
  /** The request's version: HTTP/1.0 clients get no chunked coding. */
  version: HttpVersion;
  /** A HEAD request: the answer has no body whatever its fields say (RFC 9110 §9.3.2). */
  headRequest: boolean;
}

/** A head being written: checked at writeHead(), its framing settled when it goes out. */
export interface AnswerHead {
  /** The status line and the handler's fields; then, once settled, the front's and the empty line. */
  text: string;
  /** What the handler's fields declared: a body-less answer, a length, chunks, or nothing yet. */
  declared: 'none' | 'length' | 'chunked' | 'unknown';
  framing: AnswerFraming;
  /** For `length`: the body's bytes. */
  length: number;
  /** The connection closes after the answer. */
  close: boolean;
}

const CLOSE_LINE = 'Connection: close\r\n';
const KEEP_ALIVE_LINE = 'Connection: keep-alive\r\n';

/** Lower-case ASCII comparison without allocating for names already in lower case. */
function isNamed(name: string, lower: string): boolean {
  return name.length === lower.length && (name === lower || name.toLowerCase() === lower);
}

/**
 * The head for `status reason` with the flat list of fields [name, value, ...], not yet settled.
 * Throws a TypeError for what a handler must never ask (a bug, not a client's fault): an invalid
 * field, a Connection or Keep-Alive field (the front writes those: use the close option), a
 * Transfer-Encoding other than chunked, a Content-Length that is no number or given twice.
 */
export function startAnswerHead(status: number, reason: string, fields: readonly string[], context: AnswerContext): AnswerHead {
  if (!Number.isInteger(status) || status < 200 || status > 599) throw new TypeError(`not a final status: ${status}`);
  if (!isFieldValue(reason)) throw new TypeError(`not a valid reason phrase: ${JSON.stringify(reason)}`);
  if (fields.length % 2 !== 0) throw new TypeError('fields must be a flat list of names and values');
  let text = `HTTP/1.1 ${status} ${reason}\r\n`;
  let length = -1;
  let chunked = false;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i] as string;
    const value = fields[i + 1] as string;
    if (!isToken(name) || !isFieldValue(value)) throw new TypeError(`not a valid field line: ${JSON.stringify(`${name}: ${value}`)}`);
    switch (name.length) {
      case 10:
        if (isNamed(name, 'connection') || isNamed(name, 'keep-alive')) throw new TypeError(`the front writes ${name} itself; pass { close: true } to close`);
        break;
      case 14:
        if (isNamed(name, 'content-length')) {
          const parsed = parseContentLength(value);
          if (parsed === undefined || length >= 0) throw new TypeError(`not a single valid Content-Length: ${JSON.stringify(value)}`);
          length = parsed;
        }
        break;
      case 17:
        if (isNamed(name, 'transfer-encoding')) {
          if (value.length !== 7 || value.toLowerCase() !== 'chunked' || chunked) throw new TypeError(`the only Transfer-Encoding the front sends is chunked, once: ${JSON.stringify(value)}`);
          chunked = true;
          // An HTTP/1.0 client cannot read chunks: its body ends with the connection instead.
          if (context.version === '1.0') continue;
        }
        break;
    }
    text += `${name}: ${value}\r\n`;
  }
  if (length >= 0 && chunked) throw new TypeError('both Content-Length and Transfer-Encoding');
  // The fields of a body-less answer describe the representation (a HEAD's or 304's
  // Content-Length): kept as given.
  const bodiless = context.headRequest || status === 204 || status === 304;
  const declared = bodiless ? 'none' : length >= 0 ? 'length' : chunked ? 'chunked' : 'unknown';
  return { text, declared, framing: 'none', length: length < 0 ? 0 : length, close: false };
}

/**
 * Decides the framing and the connection's fate and ends the head's text. `knownLength` is the
 * whole body's length when it is known as the head goes out (end(chunk) before the head was
 * sent), else -1: an answer that declared no framing then gets a Content-Length, not chunks.
 */
export function settleAnswerHead(head: AnswerHead, version: HttpVersion, knownLength: number, close: boolean): void {
  let text = head.text;
  switch (head.declared) {
    case 'none':
      head.framing = 'none';
      break;
    case 'length':
      head.framing = 'length';
      break;
    case 'chunked':
      head.framing = version === '1.1' ? 'chunked' : 'close';
      break;
    case 'unknown':
      if (knownLength >= 0) {
        head.framing = 'length';
        head.length = knownLength;
        text += `Content-Length: ${knownLength}\r\n`;
      } else if (version === '1.1') {
        head.framing = 'chunked';
        text += 'Transfer-Encoding: chunked\r\n';
      } else {
        head.framing = 'close';
      }
      break;
  }
  head.close = close || head.framing === 'close';
  if (head.close) text += CLOSE_LINE;
  else if (version === '1.0') text += KEEP_ALIVE_LINE;
  head.text = `${text}\r\n`;
}

/** An interim answer's head (1xx but 101, e.g. 103 Early Hints), checked as a final one's fields. */
export function interimHead(status: number, reason: string, fields: readonly string[]): string {
  if (!Number.isInteger(status) || status < 100 || status > 199 || status === 101) throw new TypeError(`not an interim status: ${status}`);
  if (!isFieldValue(reason) || fields.length % 2 !== 0) throw new TypeError('not a valid interim answer');
  let text = `HTTP/1.1 ${status} ${reason}\r\n`;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i] as string;
    const value = fields[i + 1] as string;
    if (!isToken(name) || !isFieldValue(value)) throw new TypeError(`not a valid field line: ${JSON.stringify(`${name}: ${value}`)}`);
    text += `${name}: ${value}\r\n`;
  }
  return `${text}\r\n`;
}
