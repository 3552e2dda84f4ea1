import { describe, expect, it } from 'vitest';
import { createBodyDecoder, type BodyResult } from '../../../../src/core/engine/body.js';
import { ChunkedDecoder } from '../../../../src/core/engine/chunked.js';

/** Decode pieces; the body, trailers and what followed, or the refusal. */
function decodeAll(pieces: Buffer[], decoder = new ChunkedDecoder()) {
  let body = '';
  let last: BodyResult | undefined;
  for (const [i, piece] of pieces.entries()) {
    last = decoder.decode(piece);
    if (last.kind === 'refused') return { refused: last.status };
    body += Buffer.concat(last.data).toString('latin1');
    if (last.kind === 'end') return { body, trailers: last.trailers.map((f) => [f.name, f.value]), rest: Buffer.concat([last.rest, ...pieces.slice(i + 1)]).toString('latin1'), trailerSection: last.trailerSection.toString('latin1') };
  }
  return { body, incomplete: true };
}

const bytes = (text: string) => Buffer.from(text, 'latin1');

describe('ChunkedDecoder', () => {
  it('reads chunks, extensions and trailers, and gives back what follows the message', () => {
    expect(decodeAll([bytes('5;a=1;b="x y"\r\nhello\r\n1;c\r\n!\r\n0\r\nT: 1\r\nU:  2 \r\n\r\nGET / HTTP/1.1\r\n')])).toEqual({
      body: 'hello!',
      trailers: [['T', '1'], ['U', '2']],
      trailerSection: 'T: 1\r\nU:  2 \r\n\r\n',
      rest: 'GET / HTTP/1.1\r\n',
    });
  });

  it('reports data as views of the input, not copies', () => {
    const input = bytes('5\r\nhello\r\n0\r\n\r\n');
    const result = new ChunkedDecoder().decode(input);
    expect(result.kind).toBe('end');
    const [data] = (result as { data: Buffer[] }).data;
    expect(data?.buffer).toBe(input.buffer);
    expect(data?.byteOffset).toBe(input.byteOffset + 3);
    expect((result as { consumed: number }).consumed).toBe(input.length);
  });

  it('gives the same result split at every byte boundary', () => {
    const input = bytes('a;x="\\"q\\""\r\n0123456789\r\n3\r\nabc\r\n0;end\r\nT: x\r\n\r\nNEXT');
    const whole = decodeAll([input]);
    for (let at = 1; at < input.length; at++) expect(decodeAll([input.subarray(0, at), input.subarray(at)]), `split at ${at}`).toEqual(whole);
    expect(decodeAll(Array.from({ length: input.length }, (_, i) => input.subarray(i, i + 1)))).toEqual(whole);
  });

  it.each([
    ['no digit', ';a\r\n'],
    ['17 digits', '00000000000000001\r\nx\r\n'],
    ['uppercase X', '0X1\r\n'],
    ['whitespace before an extension', '1 ;a\r\nx\r\n0\r\n\r\n'],
    ['a comma in a token extension', '1;a=b,c\r\nx\r\n0\r\n\r\n'],
    ['a control character in a quoted extension', '1;a="\x01"\r\nx\r\n0\r\n\r\n'],
    ['CR without LF after the size', '1\rx'],
    ['data not followed by CR', '1\r\nxx'],
    ['a trailer without a colon', '0\r\nT\r\n\r\n'],
    ['Content-Length in the trailers', '0\r\nContent-Length: 5\r\n\r\n'],
    ['Transfer-Encoding in the trailers', '0\r\nTransfer-Encoding: chunked\r\n\r\n'],
  ])('refuses %s', (_name, input) => {
    expect(decodeAll([bytes(input)])).toEqual({ refused: 400 });
  });

  it('bounds the chunk size, the extensions and the trailers', () => {
    expect(decodeAll([bytes('101\r\n')], new ChunkedDecoder({ maxChunkBytes: 256 }))).toEqual({ refused: 400 });
    expect(decodeAll([bytes('100\r\n')], new ChunkedDecoder({ maxChunkBytes: 256 }))).toEqual({ body: '', incomplete: true });
    expect(decodeAll([bytes(`1;${'e'.repeat(10)}\r\nx\r\n`)], new ChunkedDecoder({ maxExtensionBytes: 10 }))).toEqual({ refused: 400 });
    expect(decodeAll([bytes(`0\r\nT: ${'v'.repeat(20)}\r\n\r\n`)], new ChunkedDecoder({ maxTrailerBytes: 20 }))).toEqual({ refused: 400 });
    expect(decodeAll([bytes('0\r\nA: 1\r\nB: 2\r\n\r\n')], new ChunkedDecoder({ maxTrailerFields: 1 }))).toEqual({ refused: 400 });
  });

  it('stays refused once refused', () => {
    const decoder = new ChunkedDecoder();
    expect(decoder.decode(bytes('z'))).toMatchObject({ kind: 'refused' });
    expect(decoder.decode(bytes('0\r\n\r\n'))).toMatchObject({ kind: 'refused' });
  });
});

describe('createBodyDecoder', () => {
  it('ends a Content-Length body at its length and keeps the rest', () => {
    const decoder = createBodyDecoder({ kind: 'length', length: 5 });
    expect(decoder.decode(bytes('he'))).toMatchObject({ kind: 'body' });
    const end = decoder.decode(bytes('lloGET'));
    expect(end).toMatchObject({ kind: 'end', consumed: 3 });
    expect((end as { rest: Buffer }).rest.toString()).toBe('GET');
  });

  it('ends a message without a body at once, and reads a close-delimited one to the end', () => {
    expect(createBodyDecoder({ kind: 'none' }).decode(bytes('GET'))).toMatchObject({ kind: 'end', consumed: 0, data: [] });
    expect(createBodyDecoder({ kind: 'close' }).decode(bytes('all of it'))).toMatchObject({ kind: 'body' });
  });
});
