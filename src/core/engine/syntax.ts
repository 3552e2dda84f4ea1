// The byte-level rules every part of the wire format shares (pure): character classes, the field
// line (RFC 9112 §5: `field-name ":" OWS field-value OWS`), and the refusal every parser returns.
// Request heads, response heads and chunked trailers all read their field lines through
// parseFieldLine, so the three cannot drift apart.

/** A message the engine will not take, with the status its sender gets and why (a fixed sentence). */
export interface Refusal {
  kind: 'refused';
  status: number;
  reason: string;
}

export function refuse(status: number, reason: string): Refusal {
  return { kind: 'refused', status, reason };
}

/** One field line of a head or a trailer section, in the order received. */
export interface HeaderField {
  /** The name as sent. */
  name: string;
  /** The name lower-cased, for comparisons. */
  lower: string;
  /** The value without its leading and trailing whitespace (RFC 9112 §5). */
  value: string;
  /** Offset of the line's first byte in the raw bytes it came from. */
  start: number;
  /** Offset just past the line's LF: [start, end) is forwarded as is when the field is kept. */
  end: number;
}

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;
export const COLON = 0x3a;

/** tchar (RFC 9110 §5.6.2): the characters of a method, a field name, a coding or an extension. */
export const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TOKEN[c.charCodeAt(0)] = 1;
for (let b = 0x30; b <= 0x39; b++) TOKEN[b] = 1;
for (let b = 0x41; b <= 0x5a; b++) TOKEN[b] = 1;
for (let b = 0x61; b <= 0x7a; b++) TOKEN[b] = 1;

/** A field name's characters: 1 for a token character, 2 for an upper-case letter, 0 otherwise. */
const NAME_CHAR = new Uint8Array(256);
for (let b = 0; b < 256; b++) NAME_CHAR[b] = TOKEN[b] === 1 ? (b >= 0x41 && b <= 0x5a ? 2 : 1) : 0;

/** field-vchar, SP and HTAB (RFC 9110 §5.5): no NUL, CR, LF, other controls or DEL. */
export const FIELD_VALUE = new Uint8Array(256);
FIELD_VALUE[HTAB] = 1;
for (let b = 0x20; b <= 0x7e; b++) FIELD_VALUE[b] = 1;
for (let b = 0x80; b <= 0xff; b++) FIELD_VALUE[b] = 1;

interface Latin1Buffer extends Buffer {
  latin1Slice(start: number, end: number): string;
  latin1Write(text: string, offset: number, length: number): number;
}

/** Bytes as a string, one char per byte: headers are octets (RFC 9110 §5.5), never UTF-8 here. */
export function latin1(buf: Buffer, start: number, end: number): string {
  return (buf as Latin1Buffer).latin1Slice(start, end);
}

/** Writes a string of chars < 256 one byte per char; returns the offset after it. */
export function writeLatin1(buf: Buffer, text: string, offset: number): number {
  return offset + (buf as Latin1Buffer).latin1Write(text, offset, text.length);
}

export function isToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) if (TOKEN[text.charCodeAt(i)] !== 1) return false;
  return true;
}

/** A value safe to write into a field line: field-vchar, SP and HTAB only. */
export function isFieldValue(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff || FIELD_VALUE[c] !== 1) return false;
  }
  return true;
}

/**
 * Field names seen on most messages, as constant strings: a name that matches one byte for byte
 * (in this casing or lower case) costs no string allocation and no lower-casing.
 */
const COMMON_NAMES = [
  'Host', 'User-Agent', 'Accept', 'Accept-Language', 'Accept-Encoding', 'Accept-Charset', 'Referer', 'Cookie', 'Connection',
  'Keep-Alive', 'Content-Length', 'Content-Type', 'Content-Encoding', 'Transfer-Encoding', 'Authorization', 'Cache-Control',
  'Pragma', 'If-None-Match', 'If-Modified-Since', 'If-Match', 'If-Range', 'Range', 'Origin', 'Upgrade', 'Expect', 'TE', 'Trailer',
  'Upgrade-Insecure-Requests', 'DNT', 'Sec-Fetch-Dest', 'Sec-Fetch-Mode', 'Sec-Fetch-Site', 'Sec-Fetch-User', 'Priority',
  'X-Forwarded-For', 'X-Forwarded-Proto', 'X-Forwarded-Host', 'X-Real-IP', 'X-Request-Id', 'X-Requested-With', 'Forwarded', 'Via',
  'Date', 'Server', 'Set-Cookie', 'ETag', 'Last-Modified', 'Expires', 'Age', 'Vary', 'Location', 'Link',
];

interface KnownName {
  bytes: Buffer;
  name: string;
  lower: string;
}

const KNOWN_BY_LENGTH: KnownName[][] = [];
for (const name of COMMON_NAMES) {
  const lower = name.toLowerCase();
  for (const form of new Set([name, lower])) (KNOWN_BY_LENGTH[form.length] ??= []).push({ bytes: Buffer.from(form, 'latin1'), name: form, lower });
}

function knownName(buf: Buffer, start: number, end: number): KnownName | undefined {
  const bucket = KNOWN_BY_LENGTH[end - start];
  if (bucket === undefined) return undefined;
  next: for (const known of bucket) {
    const { bytes } = known;
    for (let k = 0; k < bytes.length; k++) if (buf[start + k] !== bytes[k]) continue next;
    return known;
  }
  return undefined;
}

export const OBS_FOLD = 'A field line starts with whitespace (obs-fold or leading whitespace, RFC 9112 §5.2).';
export const SPACE_BEFORE_COLON = 'Whitespace between a field name and its colon (RFC 9112 §5.1).';
export const BAD_FIELD_NAME = 'A field name has a character that is not a token character.';
export const NO_COLON = 'A field line has no colon.';
export const BAD_FIELD_VALUE = 'A field value has a control character (NUL, CR, LF or another CTL).';

/**
 * The field line in buf[start, cr) (cr is the index of the line's CR, its LF follows), or the
 * reason it is refused. `base` is subtracted from the offsets recorded in the field, so that they
 * are relative to the raw head. One pass: the name's bytes are checked and lower-cased in the
 * same loop; the value's in one loop, its whitespace trimmed from both ends after.
 */
export function parseFieldLine(buf: Buffer, start: number, cr: number, base: number): HeaderField | string {
  let i = start;
  let kinds = 0;
  while (i < cr) {
    const kind = NAME_CHAR[buf[i] as number] as number;
    if (kind === 0) break;
    kinds |= kind;
    i++;
  }
  const upper = (kinds & 2) !== 0;
  if (i === cr) return i === start ? BAD_FIELD_NAME : NO_COLON;
  const stop = buf[i] as number;
  if (stop !== COLON) {
    if (stop === SP || stop === HTAB) return i === start ? OBS_FOLD : SPACE_BEFORE_COLON;
    return BAD_FIELD_NAME;
  }
  if (i === start) return BAD_FIELD_NAME;
  const known = knownName(buf, start, i);
  const name = known !== undefined ? known.name : latin1(buf, start, i);
  let from = i + 1;
  for (let j = from; j < cr; j++) if (FIELD_VALUE[buf[j] as number] !== 1) return BAD_FIELD_VALUE;
  while (from < cr && (buf[from] === SP || buf[from] === HTAB)) from++;
  let to = cr;
  while (to > from && (buf[to - 1] === SP || buf[to - 1] === HTAB)) to--;
  return {
    name,
    lower: known !== undefined ? known.lower : upper ? name.toLowerCase() : name,
    value: from === to ? '' : latin1(buf, from, to),
    start: start - base,
    end: cr + 2 - base,
  };
}

export function isRefusal(value: object): value is Refusal {
  return (value as Refusal).kind === 'refused';
}
