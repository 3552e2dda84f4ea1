// Incremental reading of a message head (pure, no I/O): splits the bytes into CRLF lines as they
// arrive, checks the size and count limits, and reads the field lines; subclasses read the start
// line and turn the whole into a request or response head. Each byte is looked at once: a line
// is searched for its LF from where the previous feed stopped, and checked when it is complete.
// A head that arrives in one buffer is parsed in place (no copy); one split across buffers is
// gathered in a buffer that doubles as needed, bounded by the head size limit.

import { CR, LF, parseFieldLine, refuse, type HeaderField, type Refusal } from './syntax.js';

export interface HeadLimits {
  /** Start line, field lines and the final empty line, in bytes. */
  maxHeadBytes: number;
  /** The start line alone (CRLF included). */
  maxStartLineBytes: number;
  /** Field lines. */
  maxFields: number;
}

/** The answers to the refusals the reader itself makes (a request's differ from a response's). */
export interface HeadStatuses {
  startLineTooLong: number;
  headTooLarge: number;
  tooManyFields: number;
  malformed: number;
}

export interface Incomplete {
  kind: 'incomplete';
}

export const INCOMPLETE: Incomplete = { kind: 'incomplete' };

const EMPTY = Buffer.alloc(0);

/** Where a head ended: `rest` holds the bytes after it (body, or the next message). */
export interface HeadEnd<K extends string, H> {
  kind: K;
  head: H;
  rest: Buffer;
}

/**
 * Empty lines tolerated before a request line (RFC 9112 §2.2 asks for at least one, which some
 * clients send after a POST body); more is not a client being lenient.
 */
const MAX_LEADING_EMPTY_LINES = 4;

export const BARE_LF = 'A line ends with a bare LF, not CRLF (RFC 9112 §2.2).';
const TOO_MANY_EMPTY_LINES = 'Too many empty lines before the start line (RFC 9112 §2.2).';
const START_LINE_TOO_LONG = 'The start line is longer than this server accepts.';
const HEAD_TOO_LARGE = 'The head is larger than this server accepts.';
const TOO_MANY_FIELDS = 'The head has more fields than this server accepts.';

export abstract class HeadReader<R> {
  /** The bytes of an incomplete head gathered so far, or null while parsing in place. */
  private gathered: Buffer | null = null;
  private gatheredLength = 0;
  /** Offsets in the current buffer: where the head starts, where the current line starts, where
   * the search for its LF resumes. */
  private headStart = 0;
  private lineStart = 0;
  private searchFrom = 0;
  private emptyLines = 0;
  private startLineDone = false;
  private fields: HeaderField[] = [];
  private refusal: Refusal | undefined;

  constructor(
    protected readonly limits: HeadLimits,
    private readonly statuses: HeadStatuses,
  ) {}

  /** Read the start line in buf[start, cr); undefined when taken, else why not (a reason for the
   * `malformed` status, or a refusal with its own). */
  protected abstract readStartLine(buf: Buffer, start: number, cr: number): string | Refusal | undefined;

  /** The head is complete: raw is its bytes (start line to the final CRLF). */
  protected abstract finish(raw: Buffer, fields: HeaderField[], rest: Buffer): R | Refusal;

  /** Forget a head under way (after an error the caller closes; after a head this is automatic). */
  reset(): void {
    this.gathered = null;
    this.gatheredLength = 0;
    this.headStart = 0;
    this.lineStart = 0;
    this.searchFrom = 0;
    this.emptyLines = 0;
    this.startLineDone = false;
    this.fields = [];
    this.refusal = undefined;
  }

  /**
   * Give the reader the next bytes. A refusal is final: the same refusal comes back until reset.
   * When the head is complete the reader is ready for the next one at once.
   */
  feed(chunk: Buffer): R | Refusal | Incomplete {
    if (this.refusal) return this.refusal;
    let buf: Buffer;
    let length: number;
    let chunkBase: number;
    if (this.gathered === null) {
      buf = chunk;
      length = chunk.length;
      chunkBase = 0;
    } else {
      chunkBase = this.gatheredLength;
      // More than the limit (plus the few empty lines before it) is never needed to decide.
      const take = Math.min(chunk.length, this.limits.maxHeadBytes + 2 * MAX_LEADING_EMPTY_LINES + 2 - chunkBase);
      this.append(chunk, take);
      buf = this.gathered as Buffer;
      length = this.gatheredLength;
    }
    const result = this.readLines(buf, length, chunk, chunkBase);
    if (result !== INCOMPLETE) return result;
    if (this.gathered === null) this.gatherFrom(chunk);
    return INCOMPLETE;
  }

  private readLines(buf: Buffer, length: number, chunk: Buffer, chunkBase: number): R | Refusal | Incomplete {
    const { maxHeadBytes, maxStartLineBytes, maxFields } = this.limits;
    for (;;) {
      let lf = this.searchFrom < length ? buf.indexOf(LF, this.searchFrom) : -1;
      if (lf >= length) lf = -1; // a stale byte past the gathered ones
      const start = this.lineStart;
      if (lf < 0) {
        this.searchFrom = length;
        if (!this.startLineDone && length - start > maxStartLineBytes) return this.fail(this.statuses.startLineTooLong, START_LINE_TOO_LONG);
        if (length - this.headStart > maxHeadBytes) return this.fail(this.statuses.headTooLarge, HEAD_TOO_LARGE);
        return INCOMPLETE;
      }
      const next = lf + 1;
      if (!this.startLineDone && next - start > maxStartLineBytes) return this.fail(this.statuses.startLineTooLong, START_LINE_TOO_LONG);
      if (next - this.headStart > maxHeadBytes) return this.fail(this.statuses.headTooLarge, HEAD_TOO_LARGE);
      if (lf === start || buf[lf - 1] !== CR) return this.fail(this.statuses.malformed, BARE_LF);
      const cr = lf - 1;
      this.lineStart = next;
      this.searchFrom = next;
      if (!this.startLineDone) {
        if (cr === start) {
          if (++this.emptyLines > MAX_LEADING_EMPTY_LINES) return this.fail(this.statuses.malformed, TOO_MANY_EMPTY_LINES);
          this.headStart = next;
          continue;
        }
        const why = this.readStartLine(buf, start, cr);
        if (typeof why === 'string') return this.fail(this.statuses.malformed, why);
        if (why !== undefined) return (this.refusal = why);
        this.startLineDone = true;
        continue;
      }
      if (cr === start) {
        const raw = buf.subarray(this.headStart, next);
        const rest = next - chunkBase === chunk.length ? EMPTY : chunk.subarray(next - chunkBase);
        const fields = this.fields;
        this.reset();
        const result = this.finish(raw, fields, rest);
        if ((result as Refusal).kind === 'refused') this.refusal = result as Refusal;
        return result;
      }
      if (this.fields.length === maxFields) return this.fail(this.statuses.tooManyFields, TOO_MANY_FIELDS);
      const field = parseFieldLine(buf, start, cr, this.headStart);
      if (typeof field === 'string') return this.fail(this.statuses.malformed, field);
      this.fields.push(field);
    }
  }

  private fail(status: number, reason: string): Refusal {
    this.refusal = refuse(status, reason);
    return this.refusal;
  }

  /** Keep the unfinished head of a buffer parsed in place; offsets move to the gathered copy. */
  private gatherFrom(chunk: Buffer): void {
    const from = this.headStart;
    const size = chunk.length - from;
    this.gathered = Buffer.allocUnsafe(Math.max(1024, size * 2));
    chunk.copy(this.gathered, 0, from);
    this.gatheredLength = size;
    this.headStart = 0;
    this.lineStart -= from;
    this.searchFrom -= from;
  }

  private append(chunk: Buffer, take: number): void {
    let gathered = this.gathered as Buffer;
    const need = this.gatheredLength + take;
    if (need > gathered.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, gathered.length * 2));
      gathered.copy(grown, 0, 0, this.gatheredLength);
      gathered = this.gathered = grown;
    }
    chunk.copy(gathered, this.gatheredLength, 0, take);
    this.gatheredLength = need;
  }
}
