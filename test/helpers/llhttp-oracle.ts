// Node's own HTTP/1.1 parser (llhttp, strict mode) as an oracle, in process and without a network:
// bytes go into an http.Server through a Duplex standing in for a socket, and what the server
// saw comes back (requests with their raw headers and body bytes, and the error that ended the
// connection, if any). Used by the differential fuzz of src/core/engine and its benchmark.

import http from 'node:http';
import { Duplex } from 'node:stream';

/** One HTTP/1.1 request as a parser saw it: what the engine and the oracle are compared on. */
export interface WireMessage {
  method: string;
  target: string;
  version: string;
  /** [name, value] as rawHeaders has them. */
  headers: [string, string][];
  /** The body bytes, one char per byte. */
  body: string;
  trailers: [string, string][];
}

export interface OracleMessage extends WireMessage {
  /** The body ended (the message is complete). */
  complete: boolean;
}

export interface OracleParse {
  messages: OracleMessage[];
  /** The parser's error code (HPE_...), when it refused something. */
  error: string | undefined;
}

interface Collector extends OracleParse {
  finish: (() => void)[];
}

const COLLECTOR = Symbol('collector');

type FakeSocket = Duplex & { [COLLECTOR]: Collector };

function pairs(raw: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i] as string, raw[i + 1] as string]);
  return out;
}

export class LlhttpOracle {
  private readonly server: http.Server;

  constructor(options: { maxHeaderSize?: number } = {}) {
    this.server = http.createServer({ insecureHTTPParser: false, maxHeaderSize: options.maxHeaderSize ?? 16_384, requestTimeout: 0, headersTimeout: 0, keepAliveTimeout: 0 });
    this.server.maxHeadersCount = 0;
    this.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      const collector = (req.socket as unknown as FakeSocket)[COLLECTOR];
      const message: OracleMessage = {
        method: req.method ?? '',
        target: req.url ?? '',
        version: req.httpVersion,
        headers: pairs(req.rawHeaders),
        body: '',
        trailers: [],
        complete: false,
      };
      collector.messages.push(message);
      const parts: Buffer[] = [];
      req.on('data', (chunk: Buffer) => parts.push(chunk));
      req.on('end', () => res.end());
      collector.finish.push(() => {
        message.body = Buffer.concat(parts).toString('latin1');
        message.trailers = pairs(req.rawTrailers);
        // Set by the parser at the message's end, before any event: an error after it does not
        // take it back.
        message.complete = req.complete;
      });
    });
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      const collector = (socket as FakeSocket)[COLLECTOR];
      if (collector) collector.error ??= err.code ?? 'ERROR';
      // Later: the body events of the requests before the error are still to come.
      setImmediate(() => socket.destroy());
    });
    this.server.on('checkExpectation', (req: http.IncomingMessage, res: http.ServerResponse) => {
      const collector = (req.socket as unknown as FakeSocket)[COLLECTOR];
      collector.error ??= 'EXPECTATION_FAILED';
      res.writeHead(417).end();
    });
  }

  /** What Node's server makes of these bytes, given in these pieces, then the end of the stream. */
  async parse(chunks: readonly Buffer[]): Promise<OracleParse> {
    const collector: Collector = { messages: [], error: undefined, finish: [] };
    const socket = new Duplex({
      read() {},
      write(_chunk, _encoding, callback) {
        callback();
      },
    }) as FakeSocket;
    socket[COLLECTOR] = collector;
    Object.defineProperty(socket, 'remoteAddress', { value: '127.0.0.1' });
    this.server.emit('connection', socket);
    for (const chunk of chunks) socket.push(chunk);
    socket.push(null);
    // Body and end events come a tick or two later.
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
    for (const finish of collector.finish) finish();
    socket.destroy();
    return { messages: collector.messages, error: collector.error };
  }
}
