// The access log's lines, one per request: Apache/nginx "combined" (what log tools read) with
// Ferry's fields appended as key=value, or one JSON object. Pure and cheap: it runs once per
// request on the hot path when the access log is on.

import type { AccessLogFormat } from '../../lib/config.js';

export type { AccessLogFormat };

/** What the turbocache did: answered (hit), asked the app and may store (miss), or stayed out (bypass). */
export type CacheVerdict = 'hit' | 'miss' | 'bypass';

export interface AccessRecord {
  /** When the request arrived (ms since the epoch). */
  timeMs: number;
  client: string | undefined;
  /** Undefined for a request the parser refused before it had one (like nginx's "-"). */
  method: string | undefined;
  /** The request target in origin-form, as the app got it. */
  target: string | undefined;
  httpVersion: string | undefined;
  /** 499 when the client went away before any answer (nginx's code). */
  status: number;
  /** Bytes sent to the client for this request, headers included (nginx's $bytes_sent). */
  bytes: number;
  durationMs: number;
  app: string | undefined;
  /** The app process that answered; none for a cache hit, a static file or a refusal. */
  pid: number | undefined;
  /** Undefined: the turbocache had no part (off, static file, refusal). */
  cache: CacheVerdict | undefined;
  requestId: string | undefined;
  referer: string | undefined;
  userAgent: string | undefined;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** "[02/Dec/2026:05:06:07 +0000]" in local time, as Apache's %t; one Date per second, not per request. */
export class CombinedClock {
  private second = -1;
  private text = '';

  format(timeMs: number): string {
    const second = Math.floor(timeMs / 1000);
    if (second !== this.second) {
      this.second = second;
      this.text = combinedTime(new Date(second * 1000));
    }
    return this.text;
  }
}

export function combinedTime(d: Date): string {
  const offset = -d.getTimezoneOffset();
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  const zone = `${sign}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}`;
  return `[${pad2(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())} ${zone}]`;
}

// Anything a client controls is escaped as nginx does (\" \\ \xHH): a request cannot forge a
// line, a field or a terminal escape in the log.
const NEEDS_ESCAPE = /[^\x20-\x21\x23-\x5b\x5d-\x7e]/;

export function escapeField(text: string): string {
  if (!NEEDS_ESCAPE.test(text)) return text;
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0) as number;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (code > 0x7e) out += Buffer.from(ch).toString('hex').replace(/../g, '\\x$&');
    else out += ch;
  }
  return out;
}

function quoted(text: string | undefined): string {
  return text === undefined || text === '' ? '"-"' : `"${escapeField(text)}"`;
}

/** Milliseconds as seconds with three decimals, as nginx's $request_time (integer arithmetic: toFixed costs ~10x more, per request). */
export function seconds(ms: number): string {
  const whole = Math.round(ms);
  const frac = whole % 1000;
  return `${(whole - frac) / 1000}.${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}`;
}

/**
 * `CLIENT - - [TIME] "METHOD TARGET HTTP/V" STATUS BYTES "REFERER" "USER-AGENT" rt=S app=A pid=P
 * cache=C rid=ID`: the combined prefix any log tool parses, then Ferry's fields ("-" when none).
 */
export function formatCombined(r: AccessRecord, clock: CombinedClock): string {
  const request = r.method === undefined ? '-' : `${escapeField(r.method)} ${escapeField(r.target ?? '-')} HTTP/${escapeField(r.httpVersion ?? '-')}`;
  return (
    `${r.client ?? '-'} - - ${clock.format(r.timeMs)} "${request}" ${r.status} ${r.bytes} ${quoted(r.referer)} ${quoted(r.userAgent)}` +
    ` rt=${seconds(r.durationMs)} app=${r.app ?? '-'} pid=${r.pid ?? '-'} cache=${r.cache ?? '-'} rid=${r.requestId === undefined ? '-' : escapeField(r.requestId)}\n`
  );
}

function jsonField(name: string, value: string | undefined): string {
  return value === undefined ? '' : `,"${name}":${JSON.stringify(value)}`;
}

/**
 * One JSON object; fields that do not apply are left out rather than null. Built as a string (each
 * text through JSON.stringify): half the cost of stringifying an object per request.
 */
export function formatJson(r: AccessRecord): string {
  return (
    `{"time":"${new Date(r.timeMs).toISOString()}"${jsonField('client', r.client)}${jsonField('method', r.method)}${jsonField('target', r.target)}` +
    `${jsonField('protocol', r.httpVersion === undefined ? undefined : `HTTP/${r.httpVersion}`)},"status":${r.status},"bytes":${r.bytes},"durationMs":${Math.round(r.durationMs * 1000) / 1000}` +
    `${jsonField('app', r.app)}${r.pid === undefined ? '' : `,"pid":${r.pid}`}${jsonField('cache', r.cache)}${jsonField('reqId', r.requestId)}${jsonField('referer', r.referer)}${jsonField('userAgent', r.userAgent)}}\n`
  );
}

export function accessLineFormatter(format: AccessLogFormat): (r: AccessRecord) => string {
  if (format === 'json') return formatJson;
  const clock = new CombinedClock();
  return (r) => formatCombined(r, clock);
}
