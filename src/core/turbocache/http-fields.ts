// Parsing of the HTTP fields the turbocache decides on (pure): Cache-Control lists with
// case-insensitive names and quoted strings (RFC 9111 §5.2), delta-seconds, HTTP-dates (Vary: vary.ts).

/** Parsed Cache-Control: directive name (lowercase) to its argument, or true when it has none. */
export interface CacheControl {
  directives: Map<string, string | true>;
  /** Directives that appeared more than once (their value is then invalid, RFC 9111 §4.2.1). */
  repeated: Set<string>;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/**
 * Parses one or more Cache-Control field values. A comma or an `=` inside a quoted string belongs
 * to that string (`no-cache="Set-Cookie, X"` is one directive), so text inside quotes can never
 * pose as a directive; names compare case-insensitively.
 */
export function parseCacheControl(values: readonly string[] | string | undefined): CacheControl {
  const directives = new Map<string, string | true>();
  const repeated = new Set<string>();
  if (values === undefined) return { directives, repeated };
  for (const value of typeof values === 'string' ? [values] : values) {
    let i = 0;
    const n = value.length;
    while (i < n) {
      // Skip list separators and whitespace, then read a token.
      while (i < n && (value[i] === ',' || value[i] === ' ' || value[i] === '\t')) i++;
      const start = i;
      while (i < n && TCHAR.test(value[i] as string)) i++;
      const name = value.slice(start, i).toLowerCase();
      const spaceBefore = value[i] === ' ' || value[i] === '\t';
      while (i < n && (value[i] === ' ' || value[i] === '\t')) i++;
      let argument: string | true = true;
      if (value[i] === '=') {
        i++;
        // No whitespace around "=" in the grammar (RFC 9111 §5.2): the directive counts (what
        // forbids storing still does), but its argument is invalid ('', so no delta-seconds).
        const spaced = spaceBefore || value[i] === ' ' || value[i] === '\t';
        while (i < n && (value[i] === ' ' || value[i] === '\t')) i++;
        if (spaced) argument = '';
        else if (value[i] === '"') {
          let text = '';
          i++;
          while (i < n && value[i] !== '"') {
            if (value[i] === '\\' && i + 1 < n) i++;
            text += value[i];
            i++;
          }
          i++; // closing quote
          argument = text;
        } else {
          const argStart = i;
          while (i < n && value[i] !== ',' && value[i] !== ' ' && value[i] !== '\t') i++;
          argument = value.slice(argStart, i);
        }
      }
      // Anything else up to the next comma is junk that cannot start a directive.
      while (i < n && value[i] !== ',') {
        if (value[i] === '"') {
          i++;
          while (i < n && value[i] !== '"') i += value[i] === '\\' ? 2 : 1;
        }
        i++;
      }
      if (name === '') continue;
      if (directives.has(name)) repeated.add(name);
      else directives.set(name, argument);
    }
  }
  return { directives, repeated };
}

/**
 * A targeted cache field (CDN-Cache-Control, Ferry-Cache-Control: RFC 9213 §2.1), a Structured
 * Fields Dictionary (RFC 8941 §4.2.2), as the directives Cache-Control parsing gives; undefined
 * when it is empty or does not parse, and so is to be ignored as if absent. Unlike Cache-Control,
 * the grammar is strict (lowercase keys, no space around `=`). Parameters are ignored. An Integer
 * keeps its digits; any other value keeps its source text (`"60"`, `1.5`, `?0`), so that no
 * delta-seconds is read from what is not an Integer (RFC 9213 §2.1: values are not coerced).
 */
export function parseTargetedCacheControl(values: readonly string[]): CacheControl | undefined {
  if (values.length === 0) return undefined;
  const text = values.join(', ');
  const directives = new Map<string, string | true>();
  const repeated = new Set<string>();
  const p = { text, i: 0 };
  skip(p, ' ');
  if (p.i === text.length) return undefined;
  for (;;) {
    const key = sfKey(p);
    if (key === undefined) return undefined;
    let value: string | true = true;
    if (text[p.i] === '=') {
      p.i++;
      const start = p.i;
      if (text[p.i] === '(' ? !sfInnerList(p) : !sfBareItem(p)) return undefined;
      const raw = text.slice(start, p.i);
      value = raw === '?1' ? true : raw;
    }
    if (!sfParameters(p)) return undefined;
    // A repeated key counts as repeated (invalid freshness), not last-wins: less is stored.
    if (directives.has(key)) repeated.add(key);
    else directives.set(key, value);
    skip(p, ' \t');
    if (p.i === text.length) return { directives, repeated };
    if (text[p.i] !== ',') return undefined;
    p.i++;
    skip(p, ' \t');
    if (p.i === text.length) return undefined;
  }
}

interface Cursor {
  text: string;
  i: number;
}

function skip(p: Cursor, chars: string): void {
  while (p.i < p.text.length && chars.includes(p.text[p.i] as string)) p.i++;
}

/** key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ) */
function sfKey(p: Cursor): string | undefined {
  const match = /^[a-z*][a-z0-9_\-.*]*/.exec(p.text.slice(p.i));
  if (!match) return undefined;
  p.i += match[0].length;
  return match[0];
}

/** Integer, Decimal, String, Token, Byte Sequence or Boolean (RFC 8941 §3.3); false when none. */
function sfBareItem(p: Cursor): boolean {
  const match = /^(?:-?[0-9]{1,12}\.[0-9]{1,3}(?![0-9])|-?[0-9]{1,15}(?![0-9.])|"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*"|[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*|:[A-Za-z0-9+/=]*:|\?[01])/.exec(p.text.slice(p.i));
  if (!match) return false;
  p.i += match[0].length;
  return true;
}

/** *( ";" *SP key [ "=" bare-item ] ) */
function sfParameters(p: Cursor): boolean {
  while (p.text[p.i] === ';') {
    p.i++;
    skip(p, ' ');
    if (sfKey(p) === undefined) return false;
    if (p.text[p.i] === '=') {
      p.i++;
      if (!sfBareItem(p)) return false;
    }
  }
  return true;
}

/** "(" *SP [ item *( 1*SP item ) *SP ] ")" parameters */
function sfInnerList(p: Cursor): boolean {
  p.i++;
  for (;;) {
    skip(p, ' ');
    if (p.text[p.i] === ')') {
      p.i++;
      return sfParameters(p);
    }
    if (!sfBareItem(p) || !sfParameters(p)) return false;
    if (p.text[p.i] !== ' ' && p.text[p.i] !== ')') return false;
  }
}

/** delta-seconds (RFC 9111 §1.2.2): digits only; undefined when not. Huge values saturate. */
export function parseDeltaSeconds(value: string | true | undefined): number | undefined {
  if (typeof value !== 'string' || !/^[0-9]+$/.test(value)) return undefined;
  return Math.min(Number(value), 2 ** 31);
}

const MONTHS = 'JanFebMarAprMayJunJulAugSepOctNovDec';

/**
 * An HTTP-date (RFC 9110 §5.6.7: IMF-fixdate, or the obsolete RFC 850 and asctime forms) in ms
 * since the epoch; undefined when it is none of them (for Expires that means "already expired").
 * `nowMs` places an RFC 850 date's two-digit year (the answer's arrival, for its Expires).
 */
export function parseHttpDate(value: string | undefined, nowMs = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  const imf = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;
  const rfc850 = /^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d{2})-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
  const asctime = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;
  const old = rfc850.exec(text);
  if (old) return rfc850Ms(old, nowMs);
  if (!imf.test(text) && !asctime.test(text)) return undefined;
  const ms = Date.parse(asctime.test(text) ? `${text} GMT` : text);
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * An RFC 850 date's time (its parts as the pattern matched them), in the latest year with its
 * two last digits that is not more than 50 years after now (RFC 9110 §5.6.7: one further ahead
 * is the century before). Not Date.parse's year: it takes 50-99 for 19xx, whatever the date.
 */
function rfc850Ms(parts: RegExpExecArray, nowMs: number): number {
  const [day, month, yy, h, m, s] = parts.slice(1).map((part) => (/^\d+$/.test(part) ? Number(part) : MONTHS.indexOf(part) / 3)) as [number, number, number, number, number, number];
  const limit = new Date(nowMs);
  limit.setUTCFullYear(limit.getUTCFullYear() + 50);
  let year = Math.floor(limit.getUTCFullYear() / 100) * 100 + yy;
  while (Date.UTC(year, month, day, h, m, s) > limit.getTime()) year -= 100;
  return Date.UTC(year, month, day, h, m, s);
}


/** One cookie's value from a Cookie header (RFC 6265 §5.4), or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return undefined;
}
