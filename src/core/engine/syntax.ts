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

export const OBS_FOLD = 'A field line starts with whitespace (obs-fold or leading whitespace, RFC 9112 §5.2).';
export const SPACE_BEFORE_COLON = 'Whitespace between a field name and its colon (RFC 9112 §5.1).';
export const BAD_FIELD_NAME = 'A field name has a character that is not a token character.';
export const NO_COLON = 'A field line has no colon.';
export const BAD_FIELD_VALUE = 'A field value has a control character (NUL, CR, LF or another CTL).';

/**
 * The field line in buf[start, cr) (cr is the index of the line's CR, its LF follows), or the
 * reason it is refused. `base` is subtracted from the offsets recorded in the field, so that they
 * are relative to the raw head. One pass: the name's bytes are checked and lower-cased in the
 * same loop, the value's checked while its whitespace is trimmed.
 */
export function parseFieldLine(buf: Buffer, start: number, cr: number, base: number): HeaderField | string {
  let i = start;
  let upper = false;
  while (i < cr) {
    const b = buf[i] as number;
    if (TOKEN[b] !== 1) break;
    if (b >= 0x41 && b <= 0x5a) upper = true;
    i++;
  }
  if (i === cr) return i === start ? BAD_FIELD_NAME : NO_COLON;
  const stop = buf[i] as number;
  if (stop !== COLON) {
    if (stop === SP || stop === HTAB) return i === start ? OBS_FOLD : SPACE_BEFORE_COLON;
    return BAD_FIELD_NAME;
  }
  if (i === start) return BAD_FIELD_NAME;
  const name = latin1(buf, start, i);
  let from = i + 1;
  while (from < cr && (buf[from] === SP || buf[from] === HTAB)) from++;
  let to = from;
  for (let j = from; j < cr; j++) {
    const b = buf[j] as number;
    if (FIELD_VALUE[b] !== 1) return BAD_FIELD_VALUE;
    if (b !== SP && b !== HTAB) to = j + 1;
  }
  return {
    name,
    lower: upper ? name.toLowerCase() : name,
    value: from === to ? '' : latin1(buf, from, to),
    start: start - base,
    end: cr + 2 - base,
  };
}

export function isRefusal(value: object): value is Refusal {
  return (value as Refusal).kind === 'refused';
}
