// The request head as it goes to the app (pure): request line, the caller's flat [name, value, ...]
// field list as given (with a Host if it has none), then the body's framing, in one latin1 string that is written once. The
// caller's Content-Length passes through; without one, a Buffer body gets its length and a
// streamed one is sent chunked. The fields come from Node's parser or from Ferry itself, so they
// are checked only for what would split a line (CR, LF) or end a C string (NUL), by counting.

/** How the request's body goes on the wire. */
export type RequestBodyFraming = 'none' | 'length' | 'chunked';

export interface WrittenHead {
  text: string;
  framing: RequestBodyFraming;
}

/** RFC 9110 §9.3: methods whose requests usually carry content; without a body they say `Content-Length: 0` (as undici and node:http do). */
function expectsContent(method: string): boolean {
  return method === 'POST' || method === 'PUT' || method === 'PATCH';
}

function countOf(text: string, char: string): number {
  let n = 0;
  for (let at = text.indexOf(char); at >= 0; at = text.indexOf(char, at + 1)) n++;
  return n;
}

/**
 * The head for this request, or undefined when a field (or the method or target) holds CR, LF or
 * NUL. `bodyLength` says what follows: nothing (undefined), a Buffer of this length, or a stream (-1).
 */
export function writeRequestHead(method: string, path: string, headers: readonly string[], bodyLength: number | undefined, defaultHost = 'localhost'): WrittenHead | undefined {
  let text = `${method} ${path} HTTP/1.1\r\n`;
  let hasLength = false;
  let hasHost = false;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    // Length first: this runs for every field of every request.
    if (name.length === 14 && name.toLowerCase() === 'content-length') hasLength = true;
    else if (name.length === 4 && name.toLowerCase() === 'host') hasHost = true;
    text += `${name}: ${headers[i + 1] as string}\r\n`;
  }
  let lines = headers.length / 2 + 2;
  // HTTP/1.1 requires Host (RFC 9112 §3.2): an HTTP/1.0 client may have sent none.
  if (!hasHost) {
    text += `Host: ${defaultHost}\r\n`;
    lines++;
  }
  let framing: RequestBodyFraming = 'length';
  if (hasLength) {
    if (bodyLength === undefined) framing = 'none';
  } else if (bodyLength === undefined) {
    framing = 'none';
    if (expectsContent(method)) {
      text += 'Content-Length: 0\r\n';
      lines++;
    }
  } else if (bodyLength >= 0) {
    text += `Content-Length: ${bodyLength}\r\n`;
    lines++;
  } else {
    text += 'Transfer-Encoding: chunked\r\n';
    lines++;
    framing = 'chunked';
  }
  text += '\r\n';
  // Native searches, a few per request: any CR or LF beyond the line ends is a smuggled line.
  if (countOf(text, '\n') !== lines || countOf(text, '\r') !== lines || text.indexOf('\0') >= 0) return undefined;
  return { text, framing };
}
