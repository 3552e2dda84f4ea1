// Ferry's engine driven over a whole client stream, the way the front will drive it: request
// heads, then each body by its framing, message after message, until the stream ends, a message
// is refused, or the connection stops being HTTP (close, upgrade). Used by the corpus and the
// differential fuzz of src/core/engine.

import { createBodyDecoder, type BodyDecoder } from '../../src/core/engine/body.js';
import { RequestHeadParser, type RequestHead, type RequestHeadOptions } from '../../src/core/engine/request-head.js';
import type { WireMessage } from './llhttp-oracle.js';

export interface EngineMessage extends WireMessage {
  head: RequestHead;
}

export type StreamEnd =
  /** Every byte read, ending on a message boundary. */
  | { kind: 'done' }
  /** The stream ended inside a message (or in the empty lines before one). */
  | { kind: 'incomplete' }
  /** The last message closes the connection; later bytes are not read. */
  | { kind: 'closed' }
  /** The last message asks for an upgrade (or is CONNECT); later bytes are not HTTP. */
  | { kind: 'upgrade' }
  | { kind: 'refused'; status: number; reason: string };

export interface EngineParse {
  messages: EngineMessage[];
  end: StreamEnd;
}

export function parseStream(chunks: readonly Buffer[], options: Partial<RequestHeadOptions> = {}): EngineParse {
  const parser = new RequestHeadParser(options);
  const messages: EngineMessage[] = [];
  let decoder: BodyDecoder | undefined;
  let current: EngineMessage | undefined;
  let parts: Buffer[] = [];
  let midHead = false;
  for (const chunk of chunks) {
    let pending = chunk;
    for (;;) {
      if (decoder === undefined) {
        if (pending.length === 0) break;
        const result = parser.feed(pending);
        if (result.kind === 'incomplete') {
          midHead = true;
          break;
        }
        if (result.kind === 'refused') return { messages, end: result };
        midHead = false;
        const { head } = result;
        current = {
          method: head.method,
          target: head.target,
          version: head.version,
          headers: head.fields.map((f) => [f.name, f.value]),
          body: '',
          trailers: [],
          head,
        };
        if (head.framing.upgrade !== undefined || head.method === 'CONNECT') {
          messages.push(current);
          return { messages, end: { kind: 'upgrade' } };
        }
        decoder = createBodyDecoder(head.framing.body);
        parts = [];
        pending = result.rest;
      }
      const result = decoder.decode(pending);
      if (result.kind === 'refused') return { messages, end: result };
      parts.push(...result.data);
      if (result.kind === 'body') break;
      const message = current as EngineMessage;
      message.body = Buffer.concat(parts).toString('latin1');
      message.trailers = result.trailers.map((f) => [f.name, f.value]);
      messages.push(message);
      decoder = undefined;
      if (!message.head.framing.keepAlive) return { messages, end: { kind: 'closed' } };
      pending = result.rest;
    }
  }
  return { messages, end: decoder !== undefined || midHead ? { kind: 'incomplete' } : { kind: 'done' } };
}
