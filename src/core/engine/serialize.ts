// Writing heads for the next hop (pure): a parsed request head for the app, a parsed response
// head for the client, each as one Buffer. Kept field lines are copied from the raw head byte for
// byte; the connection's own fields (RFC 9110 §7.6.1: Connection, the fields it names, and the
// standard hop-by-hop set) stay behind; the framing fields are written anew from the verdict, in
// one canonical form, so the next hop cannot read the body differently than we did. Policy, such
// as X-Forwarded-*, is the caller's: it comes in as edits.

import type { BodyFraming } from './framing.js';
import type { RequestHead } from './request-head.js';
import type { ResponseHead } from './response-head.js';
import { isFieldValue, isToken, writeLatin1, type HeaderField } from './syntax.js';

export interface HeadEdits {
  /** Lower-cased names of fields not to forward, besides the hop-by-hop ones. */
  remove?: ReadonlySet<string>;
  /** Fields added after the kept ones, in order. Replacing a field is removing and adding it. */
  add?: readonly (readonly [name: string, value: string])[];
}

export interface RequestEdits extends HeadEdits {
  /** Forward the client's upgrade request: Upgrade kept, `Connection: upgrade` sent. */
  upgrade?: boolean;
}

export interface ResponseEdits extends HeadEdits {
  /** The framing the client gets; by default the app's. `close` also sends `Connection: close`. */
  body?: BodyFraming;
  /** Tell the client this connection closes after the answer. */
  close?: boolean;
  /** Relay a 101: Upgrade kept, `Connection: upgrade` sent. */
  upgrade?: boolean;
}

/** Connection-specific fields (RFC 9110 §7.6.1), and the framing ones we write ourselves. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * Fields that naming them in Connection does not remove: the message's identity and framing, and
 * what a cache key or the app's idea of the user rests on (a client that strips Cookie while the
 * key still has it gets an anonymous page stored as someone's, issue 16).
 */
const NEVER_HOP_BY_HOP = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'cookie',
  'authorization',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-request-id',
]);

function isHopByHop(field: HeaderField, connection: readonly string[], keepUpgrade: boolean): boolean {
  const { lower } = field;
  if (HOP_BY_HOP.has(lower)) return !(keepUpgrade && lower === 'upgrade');
  return connection.length > 0 && connection.includes(lower) && !NEVER_HOP_BY_HOP.has(lower);
}

function framingLines(body: BodyFraming): string {
  switch (body.kind) {
    case 'length':
      return `Content-Length: ${body.length}\r\n`;
    case 'chunked':
      return 'Transfer-Encoding: chunked\r\n';
    default:
      return '';
  }
}

function addedLines(add: HeadEdits['add']): string {
  if (!add || add.length === 0) return '';
  let text = '';
  for (const [name, value] of add) {
    // An edit made from client data must not become a second field or a second message.
    if (!isToken(name) || !isFieldValue(value)) throw new TypeError(`not a valid field line: ${JSON.stringify(`${name}: ${value}`)}`);
    text += `${name}: ${value}\r\n`;
  }
  return text;
}

/** head text, then the kept raw lines, then tail text (which ends the head), in one Buffer. */
function assemble(head: string, raw: Buffer, kept: readonly HeaderField[], tail: string): Buffer {
  let size = head.length + tail.length;
  for (const field of kept) size += field.end - field.start;
  const out = Buffer.allocUnsafe(size);
  let at = writeLatin1(out, head, 0);
  for (const field of kept) at += raw.copy(out, at, field.start, field.end);
  writeLatin1(out, tail, at);
  return out;
}

/**
 * The request head for the app: HTTP/1.1 (the upstream connection is ours and kept alive),
 * origin-form target, Host from the parsed authority (canonical, so the app, routing and the
 * cache agree), the client's end-to-end fields, the body's framing, then the edits.
 */
export function serializeRequestHead(head: RequestHead, edits: RequestEdits = {}): Buffer {
  const { framing } = head;
  const upgrade = edits.upgrade === true && framing.upgrade !== undefined;
  const remove = edits.remove;
  const kept: HeaderField[] = [];
  for (const field of head.fields) {
    const { lower } = field;
    if (lower === 'host' || lower === 'content-length' || isHopByHop(field, framing.connection, upgrade)) continue;
    if (remove !== undefined && remove.has(lower)) continue;
    kept.push(field);
  }
  let start = `${head.method} ${framing.path} HTTP/1.1\r\n`;
  if (framing.authority) start += `Host: ${framing.authority.text}\r\n`;
  const tail = `${framingLines(framing.body)}${upgrade ? 'Connection: upgrade\r\n' : ''}${addedLines(edits.add)}\r\n`;
  return assemble(start, head.raw, kept, tail);
}

/**
 * The response head for the client: HTTP/1.1 status line with the app's status and reason, its
 * end-to-end fields, the framing (the app's unless edits say otherwise), then the edits. A
 * Content-Length of a body-less answer (HEAD, 304) is the representation's and stays as sent.
 */
export function serializeResponseHead(head: ResponseHead, edits: ResponseEdits = {}): Buffer {
  const body = edits.body ?? head.body;
  const upgrade = edits.upgrade === true && head.status === 101;
  const remove = edits.remove;
  const kept: HeaderField[] = [];
  for (const field of head.fields) {
    const { lower } = field;
    if (isHopByHop(field, head.connection, upgrade)) continue;
    if (lower === 'content-length' && body.kind !== 'none') continue;
    if (remove !== undefined && remove.has(lower)) continue;
    kept.push(field);
  }
  const start = `HTTP/1.1 ${head.status} ${head.reason}\r\n`;
  const connection = upgrade ? 'Connection: upgrade\r\n' : edits.close === true || body.kind === 'close' ? 'Connection: close\r\n' : '';
  const tail = `${framingLines(body)}${connection}${addedLines(edits.add)}\r\n`;
  return assemble(start, head.raw, kept, tail);
}
