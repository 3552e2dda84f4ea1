// The front's connection loop in process, on real sockets: keep-alive, pipelining in order,
// 100-continue both ways, the three timeouts, backpressure both ways, a client that leaves
// mid-answer, HTTP/1.0, HEAD, the answer framings, and the handover.

import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Exchange, ExchangeOutcome } from '../../../../src/core/front/exchange.js';
import { closeClients, closeFronts, connectClient, recordingHandler, startFront, type Seen } from '../../../helpers/front-harness.js';
import { expectRefusal, parseRawResponse, rawExchange } from '../../../helpers/raw-http.js';

afterEach(async () => {
  closeClients();
  await closeFronts();
});

const GET = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;

function hello(exchange: Exchange): void {
  exchange.writeHead(200, 'OK', ['Content-Type', 'text/plain']);
  exchange.end(Buffer.from(`hello ${exchange.path}`));
}

describe('the front: keep-alive and pipelining', () => {
  it('answers several requests on one kept-alive connection, with a Content-Length from end(chunk)', async () => {
    const counts = { connectionsAccepted: 0, connectionsActive: 0 };
    const { to } = await startFront(hello, { counts });
    const client = await connectClient(to);

    client.write(GET('/a'));
    const [first] = await client.answers(1);
    client.write(GET('/b'));
    const answers = await client.answers(2);

    expect(first).toMatchObject({ status: 200, body: 'hello /a' });
    expect(first?.headers['content-length']).toBe('8');
    expect(first?.headers.connection).toBeUndefined();
    expect(answers[1]).toMatchObject({ status: 200, body: 'hello /b' });
    expect(client.closed).toBe(false);
    expect(counts).toEqual({ connectionsAccepted: 1, connectionsActive: 1 });
  });

  it('answers pipelined requests in order, the next one taken only once the late answer before it has ended', async () => {
    const events: string[] = [];
    const { to } = await startFront((exchange) => {
      events.push(`start ${exchange.path}`);
      const answer = (): void => {
        events.push(`end ${exchange.path}`);
        hello(exchange);
      };
      if (exchange.path === '/late') setTimeout(answer, 60);
      else answer();
    });
    const client = await connectClient(to);

    client.write(GET('/first') + GET('/late') + GET('/after') + GET('/last'));
    const answers = await client.answers(4);

    expect(answers.map((a) => a.body)).toEqual(['hello /first', 'hello /late', 'hello /after', 'hello /last']);
    expect(events).toEqual(['start /first', 'end /first', 'start /late', 'end /late', 'start /after', 'end /after', 'start /last', 'end /last']);
  });

  it('keeps bytes read ahead while a body is being read, and answers the pipelined request after it', async () => {
    const seen: Seen[] = [];
    const { to } = await startFront(recordingHandler(seen));
    const client = await connectClient(to);

    client.write(`POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n${GET('/next')}`);
    const answers = await client.answers(2);

    expect(answers.map((a) => a.body)).toEqual(['saw POST /up abcde', 'saw GET /next ']);
    expect(seen.map((s) => s.outcome)).toEqual(['answered', 'answered']);
  });
});

describe('the front: Expect: 100-continue', () => {
  it('sends 100 Continue once when the handler reads the body, before the client sends it', async () => {
    const seen: Seen[] = [];
    const { to } = await startFront(recordingHandler(seen));
    const client = await connectClient(to);

    client.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
    await client.until((c) => c.received.includes('100 Continue'), '100 Continue');
    expect(client.received).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    client.write('hello');
    const [answer] = await client.answers(1);

    expect(answer?.body).toBe('saw POST /upload hello');
    expect(client.received.match(/100 Continue/g)).toHaveLength(1);
    expect(client.closed).toBe(false);
  });

  it('lets the handler refuse without 100 Continue: the final answer closes the connection, the body is never read', async () => {
    let outcome: ExchangeOutcome | undefined;
    const { to } = await startFront((exchange) => {
      exchange.listener = { onDone: (o) => void (outcome = o) };
      exchange.writeHead(403, 'Forbidden', ['Content-Length', '2']);
      exchange.end(Buffer.from('no'));
    });
    const client = await connectClient(to);

    client.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
    const [answer] = await client.answers(1);
    await client.waitClosed();

    expect(client.received).not.toContain('100 Continue');
    expect(answer).toMatchObject({ status: 403, body: 'no' });
    expect(answer?.headers.connection).toBe('close');
    expect(outcome).toBe('answered');
  });
});

describe('the front: timeouts', () => {
  it('answers 408 and closes when a head dribbles in past the header timeout (slowloris)', async () => {
    const reached: string[] = [];
    const { to } = await startFront((ex) => void reached.push(ex.path), { limits: { headerTimeoutMs: 300 } });

    const slow = await rawExchange(to, (s) => {
      s.write('GET / HTTP/1.1\r\nHost: x\r\n');
      const drip = setInterval(() => (s.writable ? s.write('X-Drip: 1\r\n') : clearInterval(drip)), 50);
      s.once('close', () => clearInterval(drip));
    }, 3_000);

    expect(slow.timedOut).toBe(false);
    expect(slow.elapsedMs).toBeGreaterThanOrEqual(290);
    expect(slow.elapsedMs).toBeLessThan(1_000);
    expectRefusal(parseRawResponse(slow.received), 408);
    expect(reached).toEqual([]);
  });

  it('answers 408 when the body does not arrive within the body timeout, and tells the handler', async () => {
    const seen: Seen[] = [];
    const { to } = await startFront(recordingHandler(seen), { limits: { headerTimeoutMs: 200, bodyTimeoutMs: 400 } });

    const stalled = await rawExchange(to, (s) => s.write('POST /consume HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc'), 3_000);

    expect(stalled.elapsedMs).toBeGreaterThanOrEqual(390);
    expect(stalled.elapsedMs).toBeLessThan(1_200);
    expectRefusal(parseRawResponse(stalled.received), 408);
    expect(seen.map((s) => [s.path, s.outcome])).toEqual([['/consume', 'timed-out']]);
  });

  it('closes a kept-alive connection idle past the keep-alive timeout, without a word', async () => {
    const { to } = await startFront(hello, { keepAliveTimeoutMs: 200 });
    const client = await connectClient(to);
    client.write(GET('/'));
    await client.answers(1);
    const answeredAt = Date.now();

    await client.waitClosed();

    expect(Date.now() - answeredAt).toBeGreaterThanOrEqual(180);
    expect(client.responses()).toHaveLength(1);
    expect(client.received.endsWith('hello /')).toBe(true);
  });

  it('closes a new connection that sends nothing within the header timeout, without a word', async () => {
    const { to } = await startFront(hello, { limits: { headerTimeoutMs: 200 } });
    const silent = await rawExchange(to, () => undefined, 3_000);
    expect(silent.timedOut).toBe(false);
    expect(silent.received).toBe('');
    expect(silent.elapsedMs).toBeGreaterThanOrEqual(190);
  });
});

describe('the front: backpressure', () => {
  it('tells a handler writing to a client that does not read to wait, and delivers everything once it reads', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const total = 64;
    let refusedWrites = 0;
    const { to } = await startFront((exchange) => {
      let sent = 0;
      const pump = (): void => {
        while (sent < total) {
          sent++;
          if (!exchange.write(chunk)) {
            refusedWrites++;
            return;
          }
        }
        exchange.end();
      };
      exchange.listener = { onDrain: pump };
      exchange.writeHead(200, 'OK', ['Content-Length', String(total * chunk.length)]);
      pump();
    });
    const client = await connectClient(to);
    client.socket.pause();
    client.write(GET('/big'));
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The client reads nothing: the handler was told to stop long before writing 4 MiB.
    expect(refusedWrites).toBeGreaterThan(0);

    client.socket.resume();
    await client.until((c) => c.received.length >= total * chunk.length, 'the whole body', 10_000);
    const [answer] = client.responses();
    expect(answer?.body.length).toBe(total * chunk.length);
    expect(refusedWrites).toBeGreaterThan(1);
  });

  it('reads no more of a body the handler does not read than the socket buffers hold', async () => {
    let exchange: Exchange | undefined;
    const { to, front } = await startFront((ex) => void (exchange = ex));
    const client = await connectClient(to);
    client.write('POST /ignored HTTP/1.1\r\nHost: x\r\nContent-Length: 16777216\r\n\r\n');
    const block = Buffer.alloc(1024 * 1024, 'y');
    for (let i = 0; i < 16; i++) client.write(block);
    await new Promise((resolve) => setTimeout(resolve, 300));

    const [connection] = [...front.connections];
    expect(exchange?.body).toBe('unread');
    // 16 MiB sent; the front took only what one read brings plus its socket buffer.
    expect(connection?.socket.bytesRead).toBeLessThan(2 * 1024 * 1024);
    expect(client.socket.writableLength).toBeGreaterThan(8 * 1024 * 1024);
  });

  it('pauses the body when the handler pauses it, and goes on where it stopped on resume', async () => {
    const pieces: string[] = [];
    let ex: Exchange | undefined;
    const { to } = await startFront((exchange) => {
      ex = exchange;
      exchange.readBody({
        onBodyData: (chunk, e) => {
          pieces.push(chunk.toString());
          e.pauseBody();
        },
        onBodyEnd: (_t, e) => {
          e.writeHead(200, 'OK', []);
          e.end(Buffer.from(pieces.join('|')));
        },
      });
    });
    const client = await connectClient(to);
    client.write('POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n1\r\nb\r\n1\r\nc\r\n0\r\n\r\n');
    await client.until(() => pieces.length === 1, 'the first piece');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(pieces).toEqual(['a']);

    ex?.resumeBody();
    await client.until(() => pieces.length === 2, 'the second piece');
    ex?.resumeBody();
    await client.until(() => pieces.length === 3, 'the third piece');
    ex?.resumeBody();
    const [answer] = await client.answers(1);
    expect(answer?.body).toBe('a|b|c');
  });
});

describe('the front: clients that go away', () => {
  it('tells the handler when the client leaves mid-answer, and keeps nothing of the connection', async () => {
    let outcome: ExchangeOutcome | undefined;
    let exchange: Exchange | undefined;
    const counts = { connectionsAccepted: 0, connectionsActive: 0 };
    const { to, front } = await startFront(
      (ex) => {
        exchange = ex;
        ex.listener = { onDone: (o) => void (outcome = o) };
        ex.writeHead(200, 'OK', ['Content-Length', '100']);
        ex.write(Buffer.from('part'));
      },
      { counts },
    );
    const client = await connectClient(to);
    client.write(GET('/'));
    await client.until((c) => c.received.includes('part'), 'the first part');

    client.close();
    await client.until(() => outcome !== undefined, 'onDone');
    const later = exchange?.write(Buffer.from('more'));

    expect(outcome).toBe('client-closed');
    expect(later).toBe(false);
    expect(front.connections.size).toBe(0);
    expect(counts.connectionsActive).toBe(0);
  });

  // As nginx (499) and node:http take it: a handler can stop work nobody will read.
  it("takes a client's FIN while its request is in flight for the client leaving, and a FIN between requests for a close", async () => {
    const outcomes: ExchangeOutcome[] = [];
    const { to, front } = await startFront((ex) => {
      ex.listener = { onDone: (o) => void outcomes.push(o) };
      if (ex.path === '/late') setTimeout(() => hello(ex), 50);
      else hello(ex);
    });
    const late = await rawExchange(to, (s) => s.end(GET('/late')), 2_000);
    expect(late.timedOut).toBe(false);
    expect(late.received).toBe('');
    expect(outcomes).toEqual(['client-closed']);

    const answered = await rawExchange(to, (s) => {
      s.write(GET('/now'));
      s.once('data', () => s.end());
    }, 2_000);
    expect(answered.timedOut).toBe(false);
    expect(parseRawResponse(answered.received)?.body).toBe('hello /now');
    expect(outcomes).toEqual(['client-closed', 'answered']);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(front.connections.size).toBe(0);
  });
});

describe('the front: HTTP/1.0 and HEAD', () => {
  it('closes after an HTTP/1.0 answer unless asked to keep alive, and then says keep-alive', async () => {
    const { to } = await startFront(hello);
    const plain = await rawExchange(to, (s) => s.write('GET /old HTTP/1.0\r\n\r\n'), 2_000);
    expect(plain.timedOut).toBe(false);
    expect(parseRawResponse(plain.received)).toMatchObject({ status: 200, body: 'hello /old' });
    expect(parseRawResponse(plain.received)?.headers.connection).toBe('close');

    const client = await connectClient(to);
    client.write('GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    const [kept] = await client.answers(1);
    expect(kept?.headers.connection).toBe('keep-alive');
    client.write('GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    expect((await client.answers(2))[1]?.body).toBe('hello /b');
  });

  it('sends an HTTP/1.0 answer of unknown length until the close, and an HTTP/1.1 one chunked', async () => {
    const streaming = (ex: Exchange): void => {
      ex.writeHead(200, 'OK', []);
      ex.write(Buffer.from('one,'));
      setTimeout(() => ex.end(Buffer.from('two')), 10);
    };
    const { to } = await startFront(streaming);
    const old = await rawExchange(to, (s) => s.write('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'), 2_000);
    expect(old.timedOut).toBe(false);
    expect(old.received).toMatch(/^HTTP\/1\.1 200 OK\r\nConnection: close\r\n\r\none,two$/);

    const client = await connectClient(to);
    client.write(GET('/'));
    await client.until((c) => c.received.endsWith('0\r\n\r\n'), 'the last chunk');
    expect(client.received).toBe('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\none,\r\n3\r\ntwo\r\n0\r\n\r\n');
  });

  it('sends no body to HEAD, keeps its Content-Length, and answers the next request right after', async () => {
    const { to } = await startFront((ex) => {
      ex.writeHead(200, 'OK', ['Content-Length', '11']);
      ex.end(Buffer.from('hello world'));
    });
    const client = await connectClient(to);
    client.write(`HEAD / HTTP/1.1\r\nHost: x\r\n\r\n${GET('/')}`);
    const answers = await client.answers(2, ['HEAD', 'GET']);
    expect(answers[0]).toMatchObject({ status: 200, body: '' });
    expect(answers[0]?.headers['content-length']).toBe('11');
    expect(answers[1]?.body).toBe('hello world');
    expect(client.received.match(/hello world/g)).toHaveLength(1);
  });
});

describe('the front: ready and pre-framed answers', () => {
  it('sends a ready answer as one write (a cache hit), and chunks already framed as they are', async () => {
    const ready = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nhit');
    const writes: number[] = [];
    const { to } = await startFront(
      (ex) => {
        if (ex.path === '/hit') {
          ex.writeRaw(ready);
          return;
        }
        ex.writeHead(200, 'OK', ['Transfer-Encoding', 'chunked']);
        ex.writeBodyRaw(Buffer.from('3\r\nabc\r\n'));
        ex.writeBodyRaw(Buffer.from('0\r\n\r\n'));
        ex.end();
      },
      {
        onConnection: (connection) => {
          const write = connection.socket.write.bind(connection.socket) as (...args: unknown[]) => boolean;
          connection.socket.write = ((...args: unknown[]) => {
            writes.push((args[0] as Buffer | string).length);
            return write(...args);
          }) as typeof connection.socket.write;
        },
      },
    );
    const client = await connectClient(to);
    client.write(GET('/hit'));
    await client.answers(1);
    expect(writes).toEqual([ready.length]);

    client.write(GET('/chunks'));
    await client.until((c) => c.received.endsWith('0\r\n\r\n'), 'the last chunk');
    expect(client.received.slice(ready.length)).toBe('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
  });

  it('refuses a handler mistake at the call: a field with CR LF, a body longer than its Content-Length', async () => {
    const errors: string[] = [];
    const { to } = await startFront((ex) => {
      try {
        ex.writeHead(200, 'OK', ['X-Evil', 'a\r\nSet-Cookie: b']);
      } catch (err) {
        errors.push((err as Error).message);
      }
      ex.writeHead(200, 'OK', ['Content-Length', '2']);
      try {
        ex.end(Buffer.from('toolong'));
      } catch (err) {
        errors.push((err as Error).message);
      }
    });
    const got = await rawExchange(to, (s) => s.write(GET('/')), 2_000);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toContain('not a valid field line');
    expect(errors[1]).toContain('longer than its Content-Length');
    expect(got.received).not.toContain('Set-Cookie');
    expect(got.received).not.toContain('toolong');
  });
});

describe('the front: handover', () => {
  it('stops accepting, closes idle connections, and answers a busy one with Connection: close', async () => {
    let release: (() => void) | undefined;
    const { to, front } = await startFront(
      (ex) => {
        if (ex.path === '/busy') release = () => hello(ex);
        else hello(ex);
      },
      { handoverIdleCloseMs: 100 },
    );
    const idle = await connectClient(to);
    idle.write(GET('/idle'));
    await idle.answers(1);
    const busy = await connectClient(to);
    busy.write(GET('/busy'));
    await busy.until(() => release !== undefined, 'the busy request');

    const handedOver = front.handOver(Date.now() + 5_000);
    await idle.waitClosed();
    const refused = await new Promise<string>((resolve) => {
      const socket = net.connect(to as number, '127.0.0.1');
      socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      socket.on('connect', () => {
        socket.destroy();
        resolve('connected');
      });
    });
    expect(refused).toBe('ECONNREFUSED');
    expect(busy.closed).toBe(false);

    release?.();
    const [answer] = await busy.answers(1);
    await busy.waitClosed();
    await handedOver;
    expect(answer?.headers.connection).toBe('close');
    expect(front.connections.size).toBe(0);
  });

  it('serves on a unix socket as on TCP', async () => {
    const { to } = await startFront(hello, { unix: true });
    expect(typeof to).toBe('string');
    const got = await rawExchange(to, (s) => s.write(GET('/unix', 'Connection: close\r\n')), 2_000);
    expect(parseRawResponse(got.received)?.body).toBe('hello /unix');
  });
});

describe('the front: what else a handler may do', () => {
  it('stops taking pipelined requests from a client that does not read its answers', async () => {
    let taken = 0;
    const body = Buffer.alloc(64 * 1024, 'z');
    const { to } = await startFront((ex) => {
      taken++;
      ex.writeHead(200, 'OK', ['Content-Length', String(body.length)]);
      ex.end(body);
    });
    const client = await connectClient(to);
    client.socket.pause();
    client.write(GET('/').repeat(2_000));
    await new Promise((resolve) => setTimeout(resolve, 300));

    // 2000 answers would be 128 MiB; the front stops once the socket's buffers are full.
    expect(taken).toBeGreaterThan(0);
    expect(taken).toBeLessThan(200);
    const before = taken;
    client.socket.resume();
    await client.until(() => taken > before + 100, 'more requests once the client reads');
  });

  it('relays an interim answer (103 Early Hints) before the final one, and none to an HTTP/1.0 client', async () => {
    const { to } = await startFront((ex) => {
      ex.writeInterim(103, 'Early Hints', ['Link', '</style.css>; rel=preload']);
      hello(ex);
    });
    const modern = await rawExchange(to, (s) => s.write(GET('/', 'Connection: close\r\n')), 2_000);
    expect(modern.received).toMatch(/^HTTP\/1\.1 103 Early Hints\r\nLink: <\/style\.css>; rel=preload\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    const old = await rawExchange(to, (s) => s.write('GET / HTTP/1.0\r\n\r\n'), 2_000);
    expect(old.received).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  });

  it('hands an upgrade request\'s socket over with the bytes read past its head', async () => {
    const { to, front } = await startFront((ex) => {
      expect(ex.upgrade).toBe(true);
      const { socket, rest } = ex.detach();
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n${rest.toString('latin1')}`);
      socket.on('data', (d: Buffer) => socket.write(d));
      socket.resume();
    });
    const client = await connectClient(to);
    client.write(`GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nearly`);
    await client.until((c) => c.received.endsWith('early'), 'the early bytes echoed');
    client.write('later');
    await client.until((c) => c.received.endsWith('earlylater'), 'the tunnel');
    expect([...front.connections][0]?.state).toBe('detached');
  });

  it('answers 500 and closes when the handler throws before answering, and logs it', async () => {
    const errors: unknown[] = [];
    const log = { debug: () => undefined, error: (_msg: string, fields: { err: unknown }) => void errors.push(fields.err) };
    const { to } = await startFront(() => {
      throw new Error('handler bug');
    }, { log: log as never });
    const got = await rawExchange(to, (s) => s.write(GET('/')), 2_000);
    expectRefusal(parseRawResponse(got.received), 500);
    expect(got.timedOut).toBe(false);
    expect(errors.map((e) => (e as Error).message)).toEqual(['handler bug']);
  });

  it('keeps the connection when the handler answers first and discards the body, and closes it when it never reads it', async () => {
    const { to } = await startFront((ex) => {
      if (ex.path === '/discard') ex.discardBody();
      ex.writeHead(404, 'Not Found', ['Content-Length', '0']);
      ex.end();
    });
    const kept = await connectClient(to);
    kept.write(`POST /discard HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789${GET('/next')}`);
    const answers = await kept.answers(2);
    expect(answers.map((a) => a.status)).toEqual([404, 404]);
    expect(answers[0]?.headers.connection).toBeUndefined();
    expect(kept.closed).toBe(false);

    const closed = await connectClient(to);
    closed.write(`POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789${GET('/never')}`);
    const [answer] = await closed.answers(1);
    await closed.waitClosed();
    expect(answer?.headers.connection).toBe('close');
    expect(closed.responses()).toHaveLength(1);
  });
});
