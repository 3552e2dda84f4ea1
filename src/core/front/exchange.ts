// One request on a front connection and its answer: the object a handler gets. The request side
// is the parsed head (no header objects: the engine's field list), the client's address and the
// body, delivered as decoded chunks to a listener the handler sets, with pause and resume. The
// answer side writes straight to the socket: a head built in one buffer (and sent with the first
// body bytes), the body framed as the head says, or a whole ready answer in one write. The
// connection (connection.ts) owns the socket's reading, the timers and the order of answers; it
// implements ExchangeHost, so that this module does not import it back.

import type { Socket } from 'node:net';
import type { RequestHead } from '../engine/request-head.js';
import { writeLatin1, type HeaderField } from '../engine/syntax.js';
import { interimHead, settleAnswerHead, startAnswerHead, type AnswerHead } from './answer-head.js';

/** Where the request's body is. Transitions: BODY_NEXT. */
export type BodyState =
  /** Not asked for: nothing of it is read (reading pauses once bytes wait). */
  | 'unread'
  /** Decoded chunks go to the listener's onBodyData as they arrive. */
  | 'reading'
  /** Asked for, then paused by the handler: nothing is delivered, reading pauses. */
  | 'paused'
  /** Read and dropped, so that the connection can carry the next request. */
  | 'discarding'
  /** All of it has been read (or the request has none). */
  | 'complete';

/** Where the answer is. Transitions: ANSWER_NEXT. */
export type AnswerState =
  /** Nothing sent yet. */
  | 'unanswered'
  /** 100 Continue sent; the final answer is still to come. */
  | 'continued'
  /** writeHead() called: the head waits for the first body bytes, at most until the front's
   * current turn of work ends. */
  | 'head-held'
  /** The head is out; the body is under way. */
  | 'body'
  /** All of the answer has been handed to the socket. */
  | 'ended'
  /** Destroyed by the handler, or the connection ended before the answer did. */
  | 'aborted';

const BODY_NEXT: Readonly<Record<BodyState, readonly BodyState[]>> = {
  unread: ['reading', 'discarding'],
  reading: ['paused', 'discarding', 'complete'],
  paused: ['reading', 'discarding'],
  discarding: ['complete'],
  complete: [],
};

const ANSWER_NEXT: Readonly<Record<AnswerState, readonly AnswerState[]>> = {
  unanswered: ['continued', 'head-held', 'ended', 'aborted'],
  continued: ['head-held', 'ended', 'aborted'],
  'head-held': ['body', 'ended', 'aborted'],
  body: ['ended', 'aborted'],
  ended: ['aborted'],
  aborted: [],
};

/** How an exchange ended, as its listener's onDone hears it. */
export type ExchangeOutcome =
  /** Answered, and the request read (or the connection closed after the answer, as announced). */
  | 'answered'
  /** The client closed the connection (or it broke) before the exchange was over. */
  | 'client-closed'
  /** The whole request did not arrive within the body timeout. */
  | 'timed-out'
  /** The body broke the rules (bad chunked coding, over the size limit): the front answered. */
  | 'body-refused'
  /** The handler destroyed it, or threw. */
  | 'destroyed'
  /** The handler took the socket over (an upgrade). */
  | 'detached';

/**
 * What a handler hears of its exchange; methods, not closures, so that a per-request object of
 * the handler's can be the listener itself. `this` is the listener.
 */
export interface ExchangeListener {
  /** A decoded piece of the body: a view of the bytes read, valid after the call. */
  onBodyData?(chunk: Buffer, exchange: Exchange): void;
  /** The body is complete; a chunked one's trailer fields (their offsets are into their own section). */
  onBodyEnd?(trailers: readonly HeaderField[], exchange: Exchange): void;
  /** The socket takes writes again after write() returned false. */
  onDrain?(exchange: Exchange): void;
  /** The exchange is over, once: the last call it makes. */
  onDone?(outcome: ExchangeOutcome, exchange: Exchange): void;
}

/** The front's handler: called once per request, in order, one at a time per connection. */
export type FrontHandler = (exchange: Exchange) => void;

/** What an exchange needs of its connection. */
export interface ExchangeHost {
  readonly socket: Socket;
  readonly remoteAddress: string | undefined;
  /** The front closes the connection after the current answer, whatever the request says
   * (handing over, or the client has shut its side). */
  readonly closingAfterAnswer: boolean;
  /** Inside the front's turn of work: a held head is sent at its end at the latest. */
  readonly pumping: boolean;
  /** The body's state changed to one that takes bytes. */
  bodyWanted(exchange: Exchange): void;
  /** The answer has been handed to the socket. */
  answerEnded(exchange: Exchange): void;
  /** Cut the connection (the handler destroyed the exchange, or broke the answer). */
  abort(exchange: Exchange): void;
  /** Hand the socket over; returns the bytes read but not taken. */
  detach(exchange: Exchange): Buffer;
}

const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
const LAST_CHUNK = '0\r\n\r\n';
const CRLF = '\r\n';
/** Chunks up to this size are copied next to their head or chunk line: one write, one syscall. */
const COPY_LIMIT_BYTES = 16 * 1024;

function flushHeldTick(exchange: Exchange): void {
  exchange.flushHead();
}

const NO_TRAILERS: readonly HeaderField[] = [];

function announceEndTick(exchange: Exchange): void {
  if (exchange.answer !== 'aborted') exchange.listener?.onBodyEnd?.(NO_TRAILERS, exchange);
}

export class Exchange {
  body: BodyState;
  answer: AnswerState = 'unanswered';
  /** The handler's listener; set directly or through readBody(). */
  listener: ExchangeListener | undefined;
  /** The connection closes after this answer: decided when its head is written. */
  closeAfter = false;
  private held: AnswerHead | undefined;
  private framing: AnswerHead['framing'] = 'none';
  /** For a `length` answer: bytes still to write. */
  private remaining = 0;
  /** writeBodyRaw() was used: the handler frames the body, end() adds nothing. */
  private rawBody = false;
  private outcome: ExchangeOutcome | undefined;
  /** onBodyEnd has been called, or will be. */
  private endAnnounced = false;

  constructor(
    readonly host: ExchangeHost,
    readonly head: RequestHead,
    bodyComplete: boolean,
  ) {
    this.body = bodyComplete ? 'complete' : 'unread';
  }

  get method(): string {
    return this.head.method;
  }

  /** The target to forward: origin-form (absolute-form turned into it), `*`, or CONNECT's authority. */
  get path(): string {
    return this.head.framing.path;
  }

  get remoteAddress(): string | undefined {
    return this.host.remoteAddress;
  }

  /** The client waits for 100 Continue before it sends the body (RFC 9110 §10.1.1). */
  get expectsContinue(): boolean {
    return this.head.framing.expectContinue;
  }

  /** An upgrade request (or CONNECT): after the answer the connection is a tunnel or closes. */
  get upgrade(): boolean {
    return this.head.framing.upgrade !== undefined || this.head.method === 'CONNECT';
  }

  /** The first field of that (lower-case) name, or undefined. */
  field(lower: string): string | undefined {
    for (const field of this.head.fields) if (field.lower === lower) return field.value;
    return undefined;
  }

  /**
   * The connection will close after the answer whatever the handler says: a handler that writes a
   * ready answer (writeRaw) puts `Connection: close` in it itself when this is true.
   */
  get mustClose(): boolean {
    return (
      !this.head.framing.keepAlive ||
      this.host.closingAfterAnswer ||
      this.upgrade ||
      // The body would have to be read first; a client waiting for 100 Continue may never send it.
      this.body === 'unread' ||
      (this.body !== 'complete' && this.head.framing.expectContinue && this.answer === 'unanswered')
    );
  }

  // --- the request's body ---

  /**
   * Start (or go on) receiving the body through `listener`; sends 100 Continue if the client
   * waits for it. Chunks and the end never come inside this call; a request without a body gets
   * its onBodyEnd on the next tick.
   */
  readBody(listener?: ExchangeListener): void {
    if (listener !== undefined) this.listener = listener;
    if (this.body === 'complete' && !this.endAnnounced) {
      this.endAnnounced = true;
      process.nextTick(announceEndTick, this);
      return;
    }
    if (this.body !== 'unread' && this.body !== 'paused') return;
    if (this.answer === 'unanswered') this.continue();
    this.toBody('reading');
    this.host.bodyWanted(this);
  }

  pauseBody(): void {
    if (this.body === 'reading') this.toBody('paused');
  }

  resumeBody(): void {
    if (this.body !== 'paused') return;
    this.toBody('reading');
    this.host.bodyWanted(this);
  }

  /** Read the rest of the body and drop it, so that the connection can be kept alive. */
  discardBody(): void {
    if (this.body === 'complete' || this.body === 'discarding') return;
    this.toBody('discarding');
    this.host.bodyWanted(this);
  }

  /** The connection's decoder reached the body's end. */
  bodyEnded(trailers: readonly HeaderField[]): void {
    const delivered = this.body === 'reading';
    this.toBody('complete');
    this.endAnnounced = true;
    if (delivered) this.listener?.onBodyEnd?.(trailers, this);
  }

  private toBody(next: BodyState): void {
    if (!BODY_NEXT[this.body].includes(next)) throw new Error(`request body: no transition from ${this.body} to ${next}`);
    this.body = next;
  }

  // --- the answer ---

  /** 100 Continue, once, before any final answer (only when the client asked for it). */
  continue(): void {
    if (!this.expectsContinue || this.answer !== 'unanswered') return;
    this.toAnswer('continued');
    this.host.socket.write(CONTINUE);
  }

  /** An interim answer (103 Early Hints, ...) before the final one; none to an HTTP/1.0 client (RFC 9110 §15.2). */
  writeInterim(status: number, reason: string, fields: readonly string[] = []): void {
    const text = interimHead(status, reason, fields);
    if (this.answer !== 'unanswered' && this.answer !== 'continued') throw new Error('an interim answer after the final one');
    if (this.head.version === '1.0') return;
    this.host.socket.write(text, 'latin1');
  }

  /**
   * The final answer's head: status, reason and the handler's fields as a flat list [name,
   * value, ...] (checked; Connection and Keep-Alive are the front's). It goes out with the first
   * body bytes, or at the end of the front's current turn of work. The framing: the fields'
   * Content-Length; else chunked (a `Transfer-Encoding: chunked` field says so explicitly, for
   * writeBodyRaw); else, when end(chunk) comes first, a Content-Length; else chunked for an
   * HTTP/1.1 client and until the close for HTTP/1.0.
   */
  writeHead(status: number, reason: string, fields: readonly string[], options?: { close?: boolean }): void {
    if (this.answer === 'aborted') return;
    const head = startAnswerHead(status, reason, fields, { version: this.head.version, headRequest: this.head.method === 'HEAD' });
    this.toAnswer('head-held');
    this.closeAfter = options?.close === true || this.mustClose;
    this.held = head;
    if (!this.host.pumping) process.nextTick(flushHeldTick, this);
  }

  /** The held head goes out now (no-op once it has). */
  flushHead(): void {
    if (this.answer === 'head-held') this.sendHead(undefined, false);
  }

  /** A piece of the body, framed as the head says; false: wait for the listener's onDrain. */
  write(chunk: Buffer): boolean {
    if (this.answer === 'aborted') return false;
    if (this.rawBody) throw new Error('write() after writeBodyRaw(): the body is framed by the handler');
    if (this.answer === 'head-held') return this.sendHead(chunk, false);
    if (this.answer !== 'body') throw new Error(`write() when the answer is ${this.answer}`);
    return this.sendBody(chunk, false);
  }

  /**
   * Body bytes already framed as the head declared (a chunked answer from the app passed through
   * as it came, last chunk included; or Content-Length bytes); false: wait for onDrain.
   */
  writeBodyRaw(bytes: Buffer): boolean {
    if (this.answer === 'aborted') return false;
    if (this.answer === 'head-held') {
      const { declared } = this.held as AnswerHead;
      // Chunks cannot go to an HTTP/1.0 client, whose answer ends with the connection.
      if (declared === 'chunked' && this.head.version === '1.0') throw new Error('writeBodyRaw() of chunks to an HTTP/1.0 client');
      this.rawBody = true;
      this.flushHead();
    }
    if (this.answer !== 'body') throw new Error(`writeBodyRaw() when the answer is ${this.answer}`);
    this.rawBody = true;
    if (this.framing === 'none') return true;
    if (this.framing === 'length') this.count(bytes.length);
    return this.host.socket.write(bytes);
  }

  /**
   * A whole ready answer (status line, fields, body) in one write: a cache hit. The bytes go as
   * they are; when `mustClose` is true the connection closes after them.
   */
  writeRaw(answer: Buffer): boolean {
    if (this.answer === 'aborted') return false;
    if (this.answer !== 'unanswered' && this.answer !== 'continued') throw new Error(`writeRaw() when the answer is ${this.answer}`);
    this.toAnswer('ended');
    this.closeAfter = this.mustClose;
    const more = this.host.socket.write(answer);
    this.host.answerEnded(this);
    return more;
  }

  /** The end of the answer, with its last piece if given. */
  end(chunk?: Buffer): void {
    if (this.answer === 'aborted') return;
    if (this.answer === 'head-held') this.sendHead(chunk, true);
    else if (this.answer !== 'body') throw new Error(`end() when the answer is ${this.answer}`);
    else this.sendBody(chunk, true);
    if (this.framing === 'length' && this.remaining > 0) {
      // The client would wait for the missing bytes, then read the next answer as this one's.
      this.destroy();
      throw new RangeError(`the answer ended ${this.remaining} bytes short of its Content-Length`);
    }
    this.toAnswer('ended');
    this.host.answerEnded(this);
  }

  /** Cut the connection: the client sees the answer end early. */
  destroy(): void {
    if (this.outcome !== undefined) return;
    this.host.abort(this);
  }

  /**
   * Take the socket over (an upgrade the handler accepts): the front lets go of it and returns
   * the bytes it had read past the head. Only before any answer.
   */
  detach(): { socket: Socket; rest: Buffer } {
    if (this.answer !== 'unanswered' && this.answer !== 'continued') throw new Error('detach() after an answer');
    return { socket: this.host.socket, rest: this.host.detach(this) };
  }

  /** The exchange is over (the connection says how); the listener hears it once. */
  finish(outcome: ExchangeOutcome): void {
    if (this.outcome !== undefined) return;
    this.outcome = outcome;
    if (this.answer !== 'ended') this.toAnswer('aborted');
    this.listener?.onDone?.(outcome, this);
  }

  /** Settles the held head and sends it with `chunk` (the last one when `last`). */
  private sendHead(chunk: Buffer | undefined, last: boolean): boolean {
    const head = this.held as AnswerHead;
    this.held = undefined;
    settleAnswerHead(head, this.head.version, last ? (chunk?.length ?? 0) : -1, this.closeAfter);
    this.closeAfter = head.close;
    this.framing = head.framing;
    this.remaining = head.length;
    this.toAnswer('body');
    if (this.rawBody || chunk === undefined || chunk.length === 0 || this.framing === 'none') {
      const tail = last && this.framing === 'chunked' && !this.rawBody ? LAST_CHUNK : '';
      return this.host.socket.write(head.text + tail, 'latin1');
    }
    if (this.framing === 'length') this.count(chunk.length);
    if (this.framing === 'chunked') return this.send(`${head.text}${chunk.length.toString(16)}\r\n`, chunk, last ? `\r\n${LAST_CHUNK}` : CRLF);
    return this.send(head.text, chunk, '');
  }

  private sendBody(chunk: Buffer | undefined, last: boolean): boolean {
    const socket = this.host.socket;
    switch (this.framing) {
      case 'none':
        return true;
      case 'chunked':
        if (this.rawBody) return true;
        if (chunk === undefined || chunk.length === 0) return last ? socket.write(LAST_CHUNK, 'latin1') : true;
        return this.send(`${chunk.length.toString(16)}\r\n`, chunk, last ? `\r\n${LAST_CHUNK}` : CRLF);
      case 'length':
        if (chunk === undefined || chunk.length === 0) return true;
        this.count(chunk.length);
        return socket.write(chunk);
      case 'close':
        return chunk === undefined || chunk.length === 0 ? true : socket.write(chunk);
    }
  }

  private count(bytes: number): void {
    if (bytes > this.remaining) {
      this.destroy();
      throw new RangeError(`the answer is longer than its Content-Length (${bytes} bytes written, ${this.remaining} left)`);
    }
    this.remaining -= bytes;
  }

  /** before + chunk + after in one write: copied into one buffer when small, else corked. */
  private send(before: string, chunk: Buffer, after: string): boolean {
    const socket = this.host.socket;
    if (chunk.length <= COPY_LIMIT_BYTES) {
      const out = Buffer.allocUnsafe(before.length + chunk.length + after.length);
      let at = writeLatin1(out, before, 0);
      at += chunk.copy(out, at);
      if (after.length > 0) writeLatin1(out, after, at);
      return socket.write(out);
    }
    socket.cork();
    socket.write(before, 'latin1');
    socket.write(chunk);
    const more = after.length > 0 ? socket.write(after, 'latin1') : !socket.writableNeedDrain;
    socket.uncork();
    return more;
  }

  private toAnswer(next: AnswerState): void {
    if (!ANSWER_NEXT[this.answer].includes(next)) throw new Error(`answer: no transition from ${this.answer} to ${next}`);
    this.answer = next;
  }
}
