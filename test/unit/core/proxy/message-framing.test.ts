import { describe, expect, it } from 'vitest';
import { framingVerdict } from '../../../../src/core/proxy/message-framing.js';

describe('framingVerdict', () => {
  it('takes HTTP/1.1 and HTTP/1.0, with Content-Length or without a body, and chunked on 1.1', () => {
    expect(framingVerdict('1.1', ['Host', 'a'])).toBeUndefined();
    expect(framingVerdict('1.0', ['Content-Length', '3'])).toBeUndefined();
    expect(framingVerdict('1.1', ['Transfer-Encoding', 'chunked'])).toBeUndefined();
    expect(framingVerdict('1.1', ['transfer-encoding', ' Chunked '])).toBeUndefined();
  });

  it('refuses other versions: Node takes HTTP/2.0 and HTTP/0.9 lines', () => {
    for (const version of ['2.0', '0.9', '1.2', '']) expect([version, framingVerdict(version, [])]).toEqual([version, 'Only HTTP/1.0 and HTTP/1.1 requests are served here.']);
  });

  it('refuses any coding but chunked alone, however it is spread over fields (RFC 9112 §6.1)', () => {
    const refused = 'The only Transfer-Encoding accepted is chunked.';
    expect(framingVerdict('1.1', ['Transfer-Encoding', 'identity, chunked'])).toBe(refused);
    expect(framingVerdict('1.1', ['Transfer-Encoding', 'gzip, chunked'])).toBe(refused);
    expect(framingVerdict('1.1', ['Transfer-Encoding', 'gzip', 'Transfer-Encoding', 'chunked'])).toBe(refused);
    expect(framingVerdict('1.1', ['Transfer-Encoding', 'chunked', 'Transfer-Encoding', 'chunked'])).toBe(refused);
    expect(framingVerdict('1.1', ['Transfer-Encoding', 'identity'])).toBe(refused);
    expect(framingVerdict('1.1', ['Transfer-Encoding', ''])).toBe(refused);
  });

  it('refuses Transfer-Encoding on HTTP/1.0, which has no chunked framing', () => {
    expect(framingVerdict('1.0', ['Transfer-Encoding', 'chunked'])).toBe('An HTTP/1.0 request cannot have a Transfer-Encoding.');
  });
});
