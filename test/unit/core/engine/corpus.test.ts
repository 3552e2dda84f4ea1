// The engine against a corpus of ambiguous and hostile request streams (issue 16 and the
// classic smuggling cases): each entry says exactly what happens, refused with which status, or
// taken with which messages (method, target, fields, body) and where the stream stopped. Each is
// also fed split at every byte boundary and byte by byte, which must change nothing.

import { describe, expect, it } from 'vitest';
import { parseStream, type EngineParse } from '../../../helpers/engine-stream.js';

interface Taken {
  method: string;
  target: string;
  headers: [string, string][];
  body?: string;
  trailers?: [string, string][];
}

interface Entry {
  name: string;
  input: string;
  /** A status: refused with it (after `before` messages, if given). */
  refused?: number;
  before?: number;
  /** The messages read, then how the stream ended. */
  messages?: Taken[];
  end?: 'done' | 'incomplete' | 'closed' | 'upgrade';
}

const H = 'Host: a\r\n';
const get = (target = '/'): Taken => ({ method: 'GET', target, headers: [['Host', 'a']], body: '' });

const CORPUS: Record<string, Entry[]> = {
  'well-formed streams': [
    { name: 'a GET', input: `GET / HTTP/1.1\r\n${H}\r\n`, messages: [get()], end: 'done' },
    {
      name: 'a POST with Content-Length, then a pipelined GET',
      input: `POST /p HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabcGET /2 HTTP/1.1\r\n${H}\r\n`,
      messages: [{ method: 'POST', target: '/p', headers: [['Host', 'a'], ['Content-Length', '3']], body: 'abc' }, get('/2')],
      end: 'done',
    },
    {
      name: 'a chunked POST with extensions and trailers',
      input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3;a=b;c="x\\"y"\r\nabc\r\nA\r\n0123456789\r\n0;last\r\nT: x\r\n\r\n`,
      messages: [{ method: 'POST', target: '/', headers: [['Host', 'a'], ['Transfer-Encoding', 'chunked']], body: 'abc0123456789', trailers: [['T', 'x']] }],
      end: 'done',
    },
    { name: 'empty lines before a request line (RFC 9112 §2.2)', input: `\r\n\r\nGET / HTTP/1.1\r\n${H}\r\n`, messages: [get()], end: 'done' },
    { name: 'OWS around a field value is not part of it', input: `GET / HTTP/1.1\r\nHost:a\r\nX: \t b c \t\r\n\r\n`, messages: [{ method: 'GET', target: '/', headers: [['Host', 'a'], ['X', 'b c']], body: '' }], end: 'done' },
    { name: 'obs-text in a value', input: `GET / HTTP/1.1\r\n${H}X: caf\xe9\r\n\r\n`, messages: [{ method: 'GET', target: '/', headers: [['Host', 'a'], ['X', 'caf\xe9']], body: '' }], end: 'done' },
    { name: 'OPTIONS *', input: `OPTIONS * HTTP/1.1\r\n${H}\r\n`, messages: [{ method: 'OPTIONS', target: '*', headers: [['Host', 'a']], body: '' }], end: 'done' },
    { name: 'HTTP/1.0 without Host, closing after it', input: 'GET / HTTP/1.0\r\n\r\nGET /next HTTP/1.0\r\n\r\n', messages: [{ method: 'GET', target: '/', headers: [], body: '' }], end: 'closed' },
    {
      name: 'HTTP/1.0 with keep-alive',
      input: 'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n',
      messages: [{ method: 'GET', target: '/', headers: [['Connection', 'keep-alive']], body: '' }, { method: 'GET', target: '/2', headers: [], body: '' }],
      end: 'closed',
    },
    { name: 'Connection: close ends the stream: what follows is not read', input: `GET / HTTP/1.1\r\n${H}Connection: close\r\n\r\nGARBAGE\r\n\r\n`, messages: [{ method: 'GET', target: '/', headers: [['Host', 'a'], ['Connection', 'close']], body: '' }], end: 'closed' },
    { name: 'an upgrade request: what follows is the tunnel', input: `GET /ws HTTP/1.1\r\n${H}Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x00\x01binary`, messages: [{ method: 'GET', target: '/ws', headers: [['Host', 'a'], ['Connection', 'Upgrade'], ['Upgrade', 'websocket']] }], end: 'upgrade' },
    { name: 'a stream cut inside a body', input: `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nab`, messages: [], end: 'incomplete' },
  ],
  'CL and TE together': [
    { name: 'CL.TE', input: `POST / HTTP/1.1\r\n${H}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG`, refused: 400 },
    { name: 'TE.CL', input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n`, refused: 400 },
    { name: 'CL: 0 with TE', input: `POST / HTTP/1.1\r\n${H}Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, refused: 400 },
  ],
  'duplicate and odd Content-Length': [
    { name: 'two equal fields', input: `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc`, refused: 400 },
    { name: 'two different fields', input: `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: 30\r\n\r\nabc`, refused: 400 },
    { name: 'a list', input: `POST / HTTP/1.1\r\n${H}Content-Length: 3, 3\r\n\r\nabc`, refused: 400 },
    { name: 'a sign', input: `POST / HTTP/1.1\r\n${H}Content-Length: +3\r\n\r\nabc`, refused: 400 },
    { name: 'negative', input: `POST / HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`, refused: 400 },
    { name: 'hexadecimal', input: `POST / HTTP/1.1\r\n${H}Content-Length: 0x3\r\n\r\nabc`, refused: 400 },
    { name: 'two numbers', input: `POST / HTTP/1.1\r\n${H}Content-Length: 3 3\r\n\r\nabc`, refused: 400 },
    { name: 'empty', input: `POST / HTTP/1.1\r\n${H}Content-Length:\r\n\r\n`, refused: 400 },
    { name: 'beyond 2^53', input: `POST / HTTP/1.1\r\n${H}Content-Length: 9007199254740993\r\n\r\n`, refused: 400 },
    { name: 'exponent', input: `POST / HTTP/1.1\r\n${H}Content-Length: 1e3\r\n\r\n`, refused: 400 },
    { name: 'leading zeros are digits', input: `POST / HTTP/1.1\r\n${H}Content-Length: 003\r\n\r\nabc`, messages: [{ method: 'POST', target: '/', headers: [['Host', 'a'], ['Content-Length', '003']], body: 'abc' }], end: 'done' },
  ],
  'Transfer-Encoding lists and obfuscations': [
    { name: 'identity, chunked', input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n`, refused: 400 },
    { name: 'gzip, chunked', input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`, refused: 400 },
    { name: 'chunked, chunked', input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n`, refused: 400 },
    { name: 'chunked in two fields', input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, refused: 400 },
    { name: 'chunked, identity', input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`, refused: 400 },
    { name: 'xchunked', input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`, refused: 400 },
    { name: 'chunked with a parameter', input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n`, refused: 400 },
    { name: 'chunked with a trailing comma', input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked,\r\n\r\n0\r\n\r\n`, refused: 400 },
    { name: 'empty', input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding:\r\n\r\n`, refused: 400 },
    { name: 'chunked on HTTP/1.0', input: 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', refused: 400 },
    { name: 'a space before the colon', input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n`, refused: 400 },
    { name: 'a tab before the colon', input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n`, refused: 400 },
    { name: 'a vertical tab before chunked', input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n`, refused: 400 },
    { name: 'folded onto the next line', input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: identity\r\n , chunked\r\n\r\n0\r\n\r\n`, refused: 400 },
    {
      name: 'a trailing space is OWS: chunked',
      input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked \r\n\r\n1\r\nx\r\n0\r\n\r\n`,
      messages: [{ method: 'POST', target: '/', headers: [['Host', 'a'], ['Transfer-Encoding', 'chunked']], body: 'x' }],
      end: 'done',
    },
    {
      name: 'a tab before the value is OWS: chunked',
      input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding:\tchunked\r\n\r\n1\r\nx\r\n0\r\n\r\n`,
      messages: [{ method: 'POST', target: '/', headers: [['Host', 'a'], ['Transfer-Encoding', 'chunked']], body: 'x' }],
      end: 'done',
    },
    {
      name: 'upper case is chunked',
      input: `POST / HTTP/1.1\r\n${H}transfer-encoding: CHUNKED\r\n\r\n1\r\nx\r\n0\r\n\r\n`,
      messages: [{ method: 'POST', target: '/', headers: [['Host', 'a'], ['transfer-encoding', 'CHUNKED']], body: 'x' }],
      end: 'done',
    },
    {
      name: 'Transfer_Encoding is another field: the chunks are read as the next request',
      input: `POST / HTTP/1.1\r\n${H}Transfer_Encoding: chunked\r\n\r\n0\r\n\r\n`,
      messages: [{ method: 'POST', target: '/', headers: [['Host', 'a'], ['Transfer_Encoding', 'chunked']], body: '' }],
      refused: 400,
      before: 1,
    },
  ],
  'chunk sizes and extensions': [
    { name: '17 hex digits', input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n00000000000000001\r\nx\r\n0\r\n\r\n`, refused: 400 },
    { name: 'a size past 2^53 (overflow)', input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nx\r\n0\r\n\r\n`, refused: 400 },
    { name: 'a negative size', input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n-1\r\nx\r\n0\r\n\r\n`, refused: 400 },
    { name: 'a 0x prefix', input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0x1\r\nx\r\n0\r\n\r\n`, refused: 400 },
    { name: 'a space before the size', input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n 1\r\nx\r\n0\r\n\r\n`, refused: 400 },
    { name: 'a space after the size', input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1 \r\nx\r\n0\r\n\r\n`, refused: 400 },
    { name: 'a space in an extension', input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1; a=b\r\nx\r\n0\r\n\r\n`, refused: 400 },
    { name: 'an extension without a value after =', input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1;a=\r\nx\r\n0\r\n\r\n`, refused: 400 },
    { name: 'an extension without a name', input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1;=b\r\nx\r\n0\r\n\r\n`, refused: 400 },
    { name: 'an unterminated quoted extension', input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1;a="b\r\nx\r\n0\r\n\r\n`, refused: 400 },
    { name: 'a LF inside an extension', input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1;a\nb\r\nx\r\n0\r\n\r\n`, refused: 400 },
    { name: 'extensions over the limit', input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1;a=${'b'.repeat(5000)}\r\nx\r\n0\r\n\r\n`, refused: 400 },
    { name: 'a size line ending in a bare LF', input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1\nx\r\n0\r\n\r\n`, refused: 400 },
    { name: 'data longer than its size', input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n0\r\n\r\n`, refused: 400 },
    { name: 'data ending in a bare LF', input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1\r\nx\n0\r\n\r\n`, refused: 400 },
    { name: 'a trailer with a bare LF', input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\nT: x\n\r\n`, refused: 400 },
    { name: 'an obs-folded trailer', input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\nT: x\r\n y\r\n\r\n`, refused: 400 },
  ],
  'bare CR and LF': [
    { name: 'a request line ending in LF', input: `GET / HTTP/1.1\n${H}\r\n`, refused: 400 },
    { name: 'a field line ending in LF', input: `GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n`, refused: 400 },
    { name: 'a head ending in LF', input: `GET / HTTP/1.1\r\n${H}\n`, refused: 400 },
    { name: 'a bare CR inside a value', input: `GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n`, refused: 400 },
    { name: 'a bare CR ending the request line', input: `GET / HTTP/1.1\r${H}\r\n`, refused: 400 },
    { name: 'CR CR LF', input: `GET / HTTP/1.1\r\r\n${H}\r\n`, refused: 400 },
    { name: 'an empty line of bare LF before the request', input: `\nGET / HTTP/1.1\r\n${H}\r\n`, refused: 400 },
  ],
  'obs-fold and whitespace': [
    { name: 'a folded value', input: `GET / HTTP/1.1\r\n${H}X: a\r\n b\r\n\r\n`, refused: 400 },
    { name: 'a tab-folded value', input: `GET / HTTP/1.1\r\n${H}X: a\r\n\tb\r\n\r\n`, refused: 400 },
    { name: 'whitespace before the first field', input: `GET / HTTP/1.1\r\n Host: a\r\n\r\n`, refused: 400 },
    { name: 'a space before a colon', input: `GET / HTTP/1.1\r\nHost : a\r\n\r\n`, refused: 400 },
    { name: 'two spaces after the method', input: `GET  / HTTP/1.1\r\n${H}\r\n`, refused: 400 },
    { name: 'a space after the version', input: `GET / HTTP/1.1 \r\n${H}\r\n`, refused: 400 },
    { name: 'a tab between method and target', input: `GET\t/ HTTP/1.1\r\n${H}\r\n`, refused: 400 },
    { name: 'five empty lines before the request', input: `\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n${H}\r\n`, refused: 400 },
  ],
  'NUL and CTL in names and values': [
    { name: 'NUL in a name', input: `GET / HTTP/1.1\r\n${H}X\x00: a\r\n\r\n`, refused: 400 },
    { name: 'NUL in a value', input: `GET / HTTP/1.1\r\n${H}X: a\x00b\r\n\r\n`, refused: 400 },
    { name: 'SOH in a value', input: `GET / HTTP/1.1\r\n${H}X: a\x01b\r\n\r\n`, refused: 400 },
    { name: 'DEL in a value', input: `GET / HTTP/1.1\r\n${H}X: a\x7fb\r\n\r\n`, refused: 400 },
    { name: 'a separator in a name', input: `GET / HTTP/1.1\r\n${H}X(y): a\r\n\r\n`, refused: 400 },
    { name: 'a name-less field', input: `GET / HTTP/1.1\r\n${H}: a\r\n\r\n`, refused: 400 },
    { name: 'a field without a colon', input: `GET / HTTP/1.1\r\n${H}X\r\n\r\n`, refused: 400 },
    { name: 'a separator in the method', input: `G(T / HTTP/1.1\r\n${H}\r\n`, refused: 400 },
    { name: 'DEL in the target', input: `GET /\x7f HTTP/1.1\r\n${H}\r\n`, refused: 400 },
    { name: 'obs-text in the target', input: `GET /\xe9 HTTP/1.1\r\n${H}\r\n`, refused: 400 },
    { name: 'a fragment in the target', input: `GET /a#b HTTP/1.1\r\n${H}\r\n`, refused: 400 },
    { name: 'a space in the target', input: `GET /a b HTTP/1.1\r\n${H}\r\n`, refused: 400 },
    { name: 'a tab inside a value is taken', input: `GET / HTTP/1.1\r\n${H}X: a\tb\r\n\r\n`, messages: [{ method: 'GET', target: '/', headers: [['Host', 'a'], ['X', 'a\tb']], body: '' }], end: 'done' },
  ],
  'requests hidden in bodies': [
    {
      name: 'a request inside a Content-Length body is body',
      input: `POST / HTTP/1.1\r\n${H}Content-Length: 34\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n\r\n`,
      messages: [{ method: 'POST', target: '/', headers: [['Host', 'a'], ['Content-Length', '34']], body: 'GET /admin HTTP/1.1\r\nHost: a\r\n\r\n\r\n' }],
      end: 'done',
    },
    {
      name: 'a request inside a chunk is body',
      input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1e\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n0\r\n\r\n`,
      messages: [{ method: 'POST', target: '/', headers: [['Host', 'a'], ['Transfer-Encoding', 'chunked']], body: 'GET /admin HTTP/1.1\r\nHost: a\r\n' }],
      end: 'done',
    },
    {
      name: 'a request after the last chunk is the next request',
      input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\n${H}\r\n`,
      messages: [{ method: 'POST', target: '/', headers: [['Host', 'a'], ['Transfer-Encoding', 'chunked']], body: '' }, get('/admin')],
      end: 'done',
    },
    {
      name: 'a GET with a body keeps its body out of the next request',
      input: `GET / HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nGET /GET /x HTTP/1.1\r\n${H}\r\n`,
      messages: [{ method: 'GET', target: '/', headers: [['Host', 'a'], ['Content-Length', '5']], body: 'GET /' }, get('/x')],
      end: 'done',
    },
  ],
  'target forms': [
    { name: 'absolute-form', input: `GET http://Example.COM:80/p?q HTTP/1.1\r\nHost: other\r\n\r\n`, messages: [{ method: 'GET', target: 'http://Example.COM:80/p?q', headers: [['Host', 'other']], body: '' }], end: 'done' },
    { name: 'absolute-form with another scheme', input: `GET ftp://a/ HTTP/1.1\r\n${H}\r\n`, refused: 400 },
    { name: 'absolute-form with userinfo', input: `GET http://u@a/ HTTP/1.1\r\n${H}\r\n`, refused: 400 },
    { name: 'absolute-form with a path in the authority', input: `GET http:/a HTTP/1.1\r\n${H}\r\n`, refused: 400 },
    { name: 'a relative target', input: `GET a/b HTTP/1.1\r\n${H}\r\n`, refused: 400 },
    { name: '* for GET', input: `GET * HTTP/1.1\r\n${H}\r\n`, refused: 400 },
    { name: 'CONNECT host:port', input: `CONNECT a:443 HTTP/1.1\r\n${H}\r\n`, messages: [{ method: 'CONNECT', target: 'a:443', headers: [['Host', 'a']] }], end: 'upgrade' },
    { name: 'CONNECT without a port', input: `CONNECT a HTTP/1.1\r\n${H}\r\n`, refused: 400 },
  ],
  'bad Host': [
    { name: 'none on HTTP/1.1', input: 'GET / HTTP/1.1\r\n\r\n', refused: 400 },
    { name: 'two', input: `GET / HTTP/1.1\r\n${H}Host: b\r\n\r\n`, refused: 400 },
    { name: 'two equal', input: `GET / HTTP/1.1\r\n${H}${H}\r\n`, refused: 400 },
    { name: 'a path in it', input: 'GET /b HTTP/1.1\r\nHost: t/a\r\n\r\n', refused: 400 },
    { name: 'a space in it', input: 'GET / HTTP/1.1\r\nHost: a b\r\n\r\n', refused: 400 },
    { name: 'userinfo', input: 'GET / HTTP/1.1\r\nHost: u@a\r\n\r\n', refused: 400 },
    { name: 'a port over 65535', input: 'GET / HTTP/1.1\r\nHost: a:65536\r\n\r\n', refused: 400 },
    { name: 'a port that is not digits', input: 'GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n', refused: 400 },
    { name: 'an unclosed IPv6 literal', input: 'GET / HTTP/1.1\r\nHost: [::1\r\n\r\n', refused: 400 },
    { name: 'empty', input: 'GET / HTTP/1.1\r\nHost:\r\n\r\n', refused: 400 },
    { name: 'a list', input: 'GET / HTTP/1.1\r\nHost: a, b\r\n\r\n', refused: 400 },
    { name: 'an IPv6 literal with a port is taken', input: 'GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n', messages: [{ method: 'GET', target: '/', headers: [['Host', '[::1]:8080']], body: '' }], end: 'done' },
  ],
  'versions': [
    { name: 'an HTTP/0.9 line', input: 'GET /\r\n\r\n', refused: 400 },
    { name: 'HTTP/2.0', input: `GET / HTTP/2.0\r\n${H}\r\n`, refused: 400 },
    { name: 'the HTTP/2 preface', input: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', refused: 400 },
    { name: 'HTTP/1.2', input: `GET / HTTP/1.2\r\n${H}\r\n`, refused: 400 },
    { name: 'lower-case http', input: `GET / http/1.1\r\n${H}\r\n`, refused: 400 },
    { name: 'HTTP/1.10', input: `GET / HTTP/1.10\r\n${H}\r\n`, refused: 400 },
  ],
  'limits': [
    { name: 'more than 100 fields', input: `GET / HTTP/1.1\r\n${H}${'X: y\r\n'.repeat(100)}\r\n`, refused: 431 },
    { name: '100 fields are taken', input: `GET / HTTP/1.1\r\n${H}${'X: y\r\n'.repeat(99)}\r\n`, messages: [{ method: 'GET', target: '/', headers: [['Host', 'a'], ...Array.from({ length: 99 }, (): [string, string] => ['X', 'y'])], body: '' }], end: 'done' },
    { name: 'a head over 16 KiB', input: `GET / HTTP/1.1\r\n${H}X: ${'y'.repeat(16_384)}\r\n\r\n`, refused: 431 },
    { name: 'a request line over 8 KiB', input: `GET /${'a'.repeat(8192)} HTTP/1.1\r\n${H}\r\n`, refused: 414 },
    { name: 'an expectation other than 100-continue', input: `POST / HTTP/1.1\r\n${H}Expect: 200-ok\r\nContent-Length: 0\r\n\r\n`, refused: 417 },
  ],
};

/** The parse as plain data: messages without their head objects. */
function summary(parse: EngineParse): unknown {
  return {
    messages: parse.messages.map(({ method, target, headers, body, trailers }) => ({ method, target, headers, body, trailers })),
    end: parse.end,
  };
}

describe('the engine on hostile and ambiguous request streams', () => {
  for (const [category, entries] of Object.entries(CORPUS)) {
    describe(category, () => {
      for (const entry of entries) {
        it(`${entry.name}: ${entry.refused ? `refused ${entry.refused}` : `taken (${entry.end})`}`, () => {
          const bytes = Buffer.from(entry.input, 'latin1');
          const { messages, end } = parseStream([bytes]);
          if (entry.refused !== undefined) {
            expect(end).toMatchObject({ kind: 'refused', status: entry.refused });
            expect(messages).toHaveLength(entry.before ?? 0);
          } else {
            expect(end).toEqual({ kind: entry.end });
          }
          for (const [i, taken] of (entry.messages ?? []).entries()) {
            const message = messages[i];
            expect(message).toBeDefined();
            expect({ method: message?.method, target: message?.target, headers: message?.headers }).toEqual({ method: taken.method, target: taken.target, headers: taken.headers });
            if (taken.body !== undefined) expect(message?.body).toBe(taken.body);
            expect(message?.trailers).toEqual(taken.trailers ?? []);
          }
          if (entry.messages) expect(messages).toHaveLength(entry.messages.length);
        });
      }
    });
  }

  it('gives the same result for every split of every entry, and byte by byte', () => {
    for (const entries of Object.values(CORPUS)) {
      for (const entry of entries) {
        const bytes = Buffer.from(entry.input, 'latin1');
        const whole = summary(parseStream([bytes]));
        // Long entries (the limit cases) are split at a sample of points: every one would be slow.
        const step = bytes.length > 2000 ? 97 : 1;
        for (let at = 1; at < bytes.length; at += step) {
          expect(summary(parseStream([bytes.subarray(0, at), bytes.subarray(at)])), `${entry.name} split at ${at}`).toEqual(whole);
        }
        const single = Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
        expect(summary(parseStream(single)), `${entry.name} byte by byte`).toEqual(whole);
      }
    }
  });
});
