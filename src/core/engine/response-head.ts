// Incremental parser of the app's response heads (pure, no I/O): `HTTP-version SP status-code
// [SP reason-phrase] CRLF`, field lines as strict as a request's (syntax.ts), and the response's
// framing (RFC 9112 §6.3): no body for a HEAD request, 1xx, 204 and 304; Content-Length; chunked;
// else until the connection closes. The same Content-Length and Transfer-Encoding rules as for
// requests, because a response read differently here and at the client desyncs the client's
// connection. 1xx interim answers and 101 come back as their own kinds, so that the caller can
// relay them and read on (or start a tunnel). Every refusal is a 502 for the client.

import { decideBodyFraming, collectFramingFields, decideKeepAlive, NO_BODY, UNTIL_CLOSE, type BodyFraming, type HttpVersion } from './framing.js';
import { HeadReader, type HeadEnd, type HeadLimits, type Incomplete } from './head-reader.js';
import { FIELD_VALUE, SP, latin1, refuse, type HeaderField, type Refusal } from './syntax.js';

export interface ResponseHead {
  version: HttpVersion;
  status: number;
  /** The reason phrase as sent (possibly empty). */
  reason: string;
  fields: HeaderField[];
  /** The head's bytes, from the status line to the final CRLF. */
  raw: Buffer;
  /** How the body is delimited; `none` for interim answers and upgrades. */
  body: BodyFraming;
  /** The connection to the app may carry another request after this response. */
  keepAlive: boolean;
  /** Connection's options, lower-cased. */
  connection: readonly string[];
}

export type ResponseHeadResult =
  /** A final answer (status 200-599). */
  | HeadEnd<'head', ResponseHead>
  /** 1xx but 101 (100 Continue, 103 Early Hints, ...): relay it, a final answer follows. */
  | HeadEnd<'interim', ResponseHead>
  /** 101 Switching Protocols, or a 2xx to CONNECT: rest and all later bytes are the tunnel's. */
  | HeadEnd<'upgrade', ResponseHead>
  | Refusal
  | Incomplete;

/** An app's heads may carry large cookies: more room than a client's. */
export const DEFAULT_RESPONSE_HEAD_LIMITS: HeadLimits = { maxStartLineBytes: 8192, maxHeadBytes: 65_536, maxFields: 256 };

const BAD_STATUS_LINE = "The app's status line is not HTTP/1.x, a 3-digit status and a reason (RFC 9112 §4).";
const BAD_VERSION = 'The app answered with an HTTP version other than 1.0 and 1.1.';

/** "HTTP/1." */
const HTTP1 = [0x48, 0x54, 0x54, 0x50, 0x2f, 0x31, 0x2e];

type Ended = Exclude<ResponseHeadResult, Refusal | Incomplete>;

export class ResponseHeadParser extends HeadReader<Ended | Refusal> {
  private requestMethod = 'GET';
  private version: HttpVersion = '1.1';
  private status = 0;
  private reason = '';

  constructor(limits: Partial<HeadLimits> = {}) {
    super({ ...DEFAULT_RESPONSE_HEAD_LIMITS, ...limits }, { startLineTooLong: 502, headTooLarge: 502, tooManyFields: 502, malformed: 502 });
  }

  /** The next bytes of the answer to a request with this method (HEAD and CONNECT matter). */
  override feed(chunk: Buffer, requestMethod = 'GET'): ResponseHeadResult {
    this.requestMethod = requestMethod;
    return super.feed(chunk);
  }

  protected readStartLine(buf: Buffer, start: number, cr: number): string | undefined {
    if (cr - start < 12) return BAD_STATUS_LINE;
    for (let k = 0; k < 7; k++) if (buf[start + k] !== HTTP1[k]) return BAD_VERSION;
    const minor = buf[start + 7];
    if (minor !== 0x30 && minor !== 0x31) return BAD_VERSION;
    if (buf[start + 8] !== SP) return BAD_STATUS_LINE;
    let status = 0;
    for (let k = 9; k < 12; k++) {
      const d = (buf[start + k] as number) - 0x30;
      if (d < 0 || d > 9) return BAD_STATUS_LINE;
      status = status * 10 + d;
    }
    if (status < 100 || status > 599) return BAD_STATUS_LINE;
    // The reason phrase may be missing altogether, space included: common enough to take.
    let reason = '';
    if (cr > start + 12) {
      if (buf[start + 12] !== SP) return BAD_STATUS_LINE;
      for (let i = start + 13; i < cr; i++) if (FIELD_VALUE[buf[i] as number] !== 1) return BAD_STATUS_LINE;
      reason = latin1(buf, start + 13, cr);
    }
    this.version = minor === 0x31 ? '1.1' : '1.0';
    this.status = status;
    this.reason = reason;
    return undefined;
  }

  protected finish(raw: Buffer, fields: HeaderField[], rest: Buffer): Ended | Refusal {
    const { version, status } = this;
    const found = collectFramingFields(fields, raw);
    // The framing fields are checked even where no body follows: an app that sends a 204 with
    // Transfer-Encoding may well send a body too, and the next answer would start inside it.
    let body = decideBodyFraming(found, version);
    if (typeof body === 'string') return refuse(502, body);
    let kind: Ended['kind'] = 'head';
    if (status < 200) {
      kind = status === 101 ? 'upgrade' : 'interim';
      body = NO_BODY;
    } else if (this.requestMethod === 'CONNECT' && status < 300) {
      kind = 'upgrade';
      body = NO_BODY;
    } else if (status === 204 || status === 304 || this.requestMethod === 'HEAD') {
      body = NO_BODY;
    } else if (body.kind === 'none') {
      body = UNTIL_CLOSE;
    }
    const keepAlive = body.kind !== 'close' && decideKeepAlive(version, found.connection);
    const head: ResponseHead = { version, status, reason: this.reason, fields, raw, body, keepAlive, connection: found.connection };
    return { kind, head, rest };
  }
}
