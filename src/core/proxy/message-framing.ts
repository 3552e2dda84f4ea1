// How a request message is delimited (pure): refused when the front and the app could read it
// differently, which node:http lets through and nginx refuses. RFC 9112 §2.3 (version), §6.1
// (Transfer-Encoding).

/**
 * Why the message cannot be taken (answered 400, the connection closed, nothing of it forwarded),
 * or undefined when its framing is sound.
 */
export function framingVerdict(httpVersion: string, rawHeaders: readonly string[]): string | undefined {
  // Node's parser takes "HTTP/2.0" and a version-less HTTP/0.9 line too.
  if (httpVersion !== '1.1' && httpVersion !== '1.0') return 'Only HTTP/1.0 and HTTP/1.1 requests are served here.';
  let codings: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length !== 17 || name.toLowerCase() !== 'transfer-encoding') continue;
    codings = codings === undefined ? (rawHeaders[i + 1] as string) : `${codings},${rawHeaders[i + 1] as string}`;
  }
  if (codings === undefined) return undefined;
  // HTTP/1.0 has no chunked framing: RFC 9112 §6.1 says to treat the framing as faulty.
  if (httpVersion === '1.0') return 'An HTTP/1.0 request cannot have a Transfer-Encoding.';
  // Chunked alone: Ferry decodes no other coding, and an app that decoded "gzip, chunked" or
  // "identity, chunked" differently would see another message than the front did.
  if (codings.trim().toLowerCase() !== 'chunked') return 'The only Transfer-Encoding accepted is chunked.';
  return undefined;
}
