// The hostile corpus against the front in process, on raw sockets: what test/integration
// (bad-input, client-limits, host-and-headers) expects of the front today, and the classic
// smuggling cases. Each entry says what the client got (statuses in order, whether the front
// closed the connection) and what the handler saw (method, path and body of each request it
// was given), so a refusal is also proven to have kept the request, and everything behind it,
// from the handler.

import { afterEach, describe, expect, it } from 'vitest';
import { closeFronts, recordingHandler, startFront, type Seen } from '../../../helpers/front-harness.js';
import { expectRefusal, parseRawResponses, rawExchange, type RawResponse } from '../../../helpers/raw-http.js';

afterEach(closeFronts);

interface Case {
  name: string;
  input: string;
  /** The statuses the client gets, in order. */
  statuses: number[];
  /** The front closed the connection (else it was still open when the client stopped waiting). */
  closed: boolean;
  /** `METHOD path body` of each request the handler was given. */
  seen: string[];
}

const H = 'Host: x\r\n';
const fields = (n: number): string => Array.from({ length: n }, (_, i) => `a:${i}\r\n`).join('');
const SMUGGLED = `GET /smuggled HTTP/1.1\r\n${H}\r\n`;
/** 1 KiB body limit, 8 KiB heads: small enough to cross in a test. */
const LIMITS = { maxHeaderBytes: 8192, maxBodyBytes: 1024 };

async function run(input: string, keptOpenMs = 150): Promise<{ responses: RawResponse[]; closed: boolean; seen: string[]; raw: Seen[] }> {
  const seen: Seen[] = [];
  const { to } = await startFront(recordingHandler(seen), { limits: LIMITS });
  const ex = await rawExchange(to, (s) => s.write(Buffer.from(input, 'latin1')), keptOpenMs);
  await closeFronts();
  return { responses: parseRawResponses(ex.received), closed: !ex.timedOut, seen: seen.map((s) => (s.body === '' ? `${s.method} ${s.path}` : `${s.method} ${s.path} ${s.body}`)), raw: seen };
}

function refused(name: string, input: string, status = 400, seen: string[] = []): Case {
  return { name, input, statuses: [status], closed: true, seen };
}

const CORPUS: Record<string, Case[]> = {
  'what the integration tests expect of the front (bad-input, client-limits, host-and-headers)': [
    refused('garbage (a TLS hello)', '\x16\x03\x01 NOT HTTP AT ALL\r\n\r\n'),
    refused('a request line with spaces in the target and HTTP/9.9', 'GET /a b c HTTP/9.9\r\n\r\n'),
    refused('a target that is no URL', `GET http://[::1 HTTP/1.1\r\n${H}\r\n`),
    refused('an absolute-form target with userinfo', `GET http://user@abs.example/abs HTTP/1.1\r\n${H}\r\n`),
    refused('broken chunked encoding: the handler had the request, the client gets 400', `POST /consume HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n`, 400, ['POST /consume']),
    refused('a head over --max-header-size', `GET / HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(10_000)}\r\n\r\n`, 431),
    // nginx's answer and limit (large_client_header_buffers); node:http counted it in the head (431).
    refused('a request line over 8 KiB', `GET /${'a'.repeat(9_000)} HTTP/1.1\r\n${H}\r\n`, 414),
    refused('more than 100 fields', `POST /many HTTP/1.1\r\n${H}${Array.from({ length: 2_100 }, (_, i) => `a:${i}\r\n`).join('').slice(0, 7000)}Content-Length: 3\r\n\r\nabc`, 431),
    refused('a Content-Length over --max-body-size, before the handler sees it', `POST /consume HTTP/1.1\r\n${H}Content-Length: 2000\r\n\r\n${'x'.repeat(1000)}`, 413),
    refused('the same with Expect: 100-continue: no 100, the client is told before it sends the body', `POST /consume HTTP/1.1\r\n${H}Content-Length: 2000\r\nExpect: 100-continue\r\n\r\n`, 413),
    refused('a chunked body that grows over --max-body-size', `POST /up HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n400\r\n${'y'.repeat(1024)}\r\n1\r\nz\r\n0\r\n\r\n`, 413, ['POST /up']),
    refused('an expectation other than 100-continue', `POST / HTTP/1.1\r\n${H}Expect: 200-ok\r\nContent-Length: 0\r\n\r\n`, 417),
    refused('a method nobody implements', `BREW /pot HTTP/1.1\r\n${H}\r\n`, 501),
    refused('a duplicate Host', `GET /dup-host HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n`),
    refused('no Host on HTTP/1.1', 'GET /no-host HTTP/1.1\r\n\r\n'),
    ...['t/a', 't a', 'user@t', 't:x', 't:1:2', '[::1', '[v1.x]', 't:99999', 't?a', 't#a', 't\\a', ''].map((host) => refused(`Host: ${JSON.stringify(host)}`, `GET /bad-host HTTP/1.1\r\nHost: ${host}\r\n\r\n`)),
    refused('Transfer-Encoding: identity, chunked', `POST /te HTTP/1.1\r\n${H}Transfer-Encoding: identity, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n${SMUGGLED}`),
    refused('Transfer-Encoding: gzip, chunked', `POST /te HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n${SMUGGLED}`),
    refused('chunked on HTTP/1.0', `POST /te HTTP/1.0\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n${SMUGGLED}`),
    refused('an HTTP/2.0 request line', `GET /h2 HTTP/2.0\r\n${H}\r\n${SMUGGLED}`),
    refused('an HTTP/0.9 request line', 'GET /h09\r\n\r\n'),
    { name: 'HTTP/1.0 may omit Host', input: 'GET /no-host-1.0 HTTP/1.0\r\n\r\n', statuses: [200], closed: true, seen: ['GET /no-host-1.0'] },
    { name: 'exactly 100 fields are taken', input: `GET /hundred HTTP/1.1\r\n${H}${fields(98)}Connection: close\r\n\r\n`, statuses: [200], closed: true, seen: ['GET /hundred'] },
    refused('101 fields are not', `GET /hundred HTTP/1.1\r\n${H}${fields(99)}Connection: close\r\n\r\n`, 431),
    { name: 'an absolute-form target reaches the handler in origin-form', input: `GET http://Abs.Example:80/abs-x?q=1 HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n`, statuses: [200], closed: true, seen: ['GET /abs-x?q=1'] },
    { name: 'OPTIONS * reaches the handler (the proxy answers it)', input: `OPTIONS * HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, statuses: [200], closed: true, seen: ['OPTIONS *'] },
  ],
  'CL and TE together, odd Content-Lengths': [
    refused('CL.TE', `POST / HTTP/1.1\r\n${H}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG`),
    refused('TE.CL', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n`),
    refused('two equal Content-Lengths', `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc`),
    refused('two different Content-Lengths', `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: 30\r\n\r\nabc${SMUGGLED}`),
    refused('a Content-Length list', `POST / HTTP/1.1\r\n${H}Content-Length: 3, 3\r\n\r\nabc`),
    refused('a signed Content-Length', `POST / HTTP/1.1\r\n${H}Content-Length: +3\r\n\r\nabc`),
    refused('a hexadecimal Content-Length', `POST / HTTP/1.1\r\n${H}Content-Length: 0x3\r\n\r\nabc`),
    refused('a Content-Length beyond 2^53', `POST / HTTP/1.1\r\n${H}Content-Length: 9007199254740993\r\n\r\n`),
  ],
  'Transfer-Encoding obfuscations': [
    refused('xchunked', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`),
    refused('chunked, identity', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`),
    refused('quoted "chunked"', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: "chunked"\r\n\r\n0\r\n\r\n`),
    refused('two Transfer-Encoding fields', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`),
    refused('a space before the colon', `POST / HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n`),
    refused('a tab after the value', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\t\r\n\r\n0\r\n\r\n`),
    refused('folded onto the next line', `POST / HTTP/1.1\r\n${H}Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n`),
    refused('a chunk size with 17 digits', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n00000000000000003\r\nabc\r\n0\r\n\r\n`, 400, ['POST /']),
    refused('whitespace before a chunk extension', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3 ;a=b\r\nabc\r\n0\r\n\r\n`, 400, ['POST /']),
    {
      name: 'CHUNKED in capitals is chunked (codings are case-insensitive)',
      input: `POST /caps HTTP/1.1\r\n${H}Transfer-Encoding: CHUNKED\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
      statuses: [200],
      closed: true,
      seen: ['POST /caps abc'],
    },
  ],
  'line endings, folding, whitespace and control characters': [
    refused('bare LF line endings', 'GET / HTTP/1.1\nHost: x\n\n'),
    refused('a bare LF ending one field line', `GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n`),
    refused('a bare CR inside a field line', `GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n`),
    refused('a bare LF after a chunk size', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n`, 400, ['POST /']),
    refused('obs-fold', `GET / HTTP/1.1\r\n${H}X: a\r\n b\r\n\r\n`),
    refused('a space before a colon', `GET / HTTP/1.1\r\nHost : x\r\n\r\n`),
    refused('NUL in a value', `GET / HTTP/1.1\r\n${H}X: a\x00b\r\n\r\n`),
    refused('NUL in a name', `GET / HTTP/1.1\r\n${H}X\x00Y: a\r\n\r\n`),
    refused('DEL in a value', `GET / HTTP/1.1\r\n${H}X: a\x7fb\r\n\r\n`),
    refused('a fragment in the target', `GET /a#frag HTTP/1.1\r\n${H}\r\n`),
    refused('two spaces after the method', `GET  / HTTP/1.1\r\n${H}\r\n`),
  ],
  'requests hidden in bodies and behind refusals': [
    {
      name: 'a request inside a Content-Length body is body',
      input: `POST /carrier HTTP/1.1\r\n${H}Content-Length: ${SMUGGLED.length}\r\nConnection: close\r\n\r\n${SMUGGLED}`,
      statuses: [200],
      closed: true,
      seen: [`POST /carrier ${SMUGGLED}`],
    },
    {
      name: 'a request inside a chunk is body',
      input: `POST /carrier HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`,
      statuses: [200],
      closed: true,
      seen: [`POST /carrier ${SMUGGLED}`],
    },
    {
      name: 'a pipelined request behind a refused one is never read',
      input: `GET /first HTTP/1.1\r\n${H}\r\nGET /bad HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n${SMUGGLED}`,
      statuses: [200, 400],
      closed: true,
      seen: ['GET /first'],
    },
    {
      name: 'nothing behind a Connection: close request is read',
      input: `GET /last HTTP/1.1\r\n${H}Connection: close\r\n\r\n${SMUGGLED}`,
      statuses: [200],
      closed: true,
      seen: ['GET /last'],
    },
    {
      name: 'an upgrade request answered without a tunnel closes: what follows may be the tunnel, never a request',
      input: `GET /ws HTTP/1.1\r\n${H}Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n${SMUGGLED}`,
      statuses: [200],
      closed: true,
      seen: ['GET /ws'],
    },
    {
      name: 'pipelined keep-alive requests are all answered, in order, and the connection stays open',
      input: `GET /1 HTTP/1.1\r\n${H}\r\nPOST /2 HTTP/1.1\r\n${H}Content-Length: 2\r\n\r\nabGET /3 HTTP/1.1\r\n${H}\r\n`,
      statuses: [200, 200, 200],
      closed: false,
      seen: ['GET /1', 'POST /2 ab', 'GET /3'],
    },
  ],
};

describe('the front refuses hostile and ambiguous requests', () => {
  for (const [group, cases] of Object.entries(CORPUS)) {
    describe(group, () => {
      for (const c of cases) {
        it(c.name, async () => {
          const result = await run(c.input);
          expect(result.responses.map((r) => r.status), JSON.stringify(c.input.slice(0, 120))).toEqual(c.statuses);
          expect(result.closed).toBe(c.closed);
          expect(result.seen).toEqual(c.seen);
          const last = result.responses.at(-1);
          if (last !== undefined && last.status >= 400) expectRefusal(last, last.status);
        });
      }
    });
  }

  it('serves headers under --max-header-size and a body just under --max-body-size', async () => {
    const result = await run(`POST /fits HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(6000)}\r\nContent-Length: 1024\r\nConnection: close\r\n\r\n${'b'.repeat(1024)}`);
    expect(result.responses.map((r) => r.status)).toEqual([200]);
    expect(result.raw[0]?.body).toHaveLength(1024);
  });

  it('says why in the refusal: the limit in a 413, the rule in a 400', async () => {
    const tooLarge = await run(`POST / HTTP/1.1\r\n${H}Content-Length: 2000\r\n\r\n`);
    expect(tooLarge.responses[0]?.body).toContain('larger than the 1024 bytes this server accepts');
    const ambiguous = await run(`POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n`);
    expect(ambiguous.responses[0]?.body).toContain('both Transfer-Encoding and Content-Length');
  });
});
