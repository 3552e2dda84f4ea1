// Parsing of the HTTP fields the turbocache decides on (pure): Cache-Control lists with
// case-insensitive names and quoted strings (RFC 9111 §5.2), delta-seconds, HTTP-dates, Vary.

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
      while (i < n && (value[i] === ' ' || value[i] === '\t')) i++;
      let argument: string | true = true;
      if (value[i] === '=') {
        i++;
        while (i < n && (value[i] === ' ' || value[i] === '\t')) i++;
        if (value[i] === '"') {
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

/** delta-seconds (RFC 9111 §1.2.2): digits only; undefined when not. Huge values saturate. */
export function parseDeltaSeconds(value: string | true | undefined): number | undefined {
  if (typeof value !== 'string' || !/^[0-9]+$/.test(value)) return undefined;
  return Math.min(Number(value), 2 ** 31);
}

/**
 * An HTTP-date (RFC 9110 §5.6.7: IMF-fixdate, or the obsolete RFC 850 and asctime forms) in ms
 * since the epoch; undefined when it is none of them (for Expires that means "already expired").
 */
export function parseHttpDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  const imf = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;
  const rfc850 = /^(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), \d{2}-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-\d{2} \d{2}:\d{2}:\d{2} GMT$/;
  const asctime = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;
  if (!imf.test(text) && !rfc850.test(text) && !asctime.test(text)) return undefined;
  const ms = Date.parse(asctime.test(text) ? `${text} GMT` : text);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Field names listed in Vary values, lowercase; '*' stays '*'. */
export function parseVary(values: readonly string[]): string[] {
  const names: string[] = [];
  for (const value of values) {
    for (const part of value.split(',')) {
      const name = part.trim().toLowerCase();
      if (name) names.push(name);
    }
  }
  return names;
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
