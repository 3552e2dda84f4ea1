// The front's own answers to requests it will not take (pure): a short plain-text response with
// the status, one sentence and a request id, always `Connection: close`, as raw bytes for a
// connection on which nothing more is read. The same shape as the proxy's error pages
// (src/core/proxy/error-responses.ts), so a client and the tests cannot tell who refused.

/** Reason phrases of the statuses the front answers by itself. */
export const FRONT_REASONS: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  417: 'Expectation Failed',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
};

/** The sentence a client gets for a refusal: the engine's own reasons name RFC sections, kept. */
export function refusalBytes(status: number, reason: string, requestId: string): Buffer {
  const phrase = FRONT_REASONS[status] ?? 'Bad Request';
  const body = `${status} ${phrase}\n\n${reason}\nRequest id: ${requestId}\n`;
  return Buffer.from(
    `HTTP/1.1 ${status} ${phrase}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Cache-Control: no-store\r\nX-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    'utf8',
  );
}

export const HEADER_TIMEOUT_REASON = 'The request line and headers were not received in time.';
export const BODY_TIMEOUT_REASON = 'The request was not received in time.';
export const TRUNCATED_REASON = 'The connection was closed in the middle of a request.';
export const HANDLER_FAILED_REASON = 'The server could not handle this request.';

export function bodyTooLargeReason(maxBodyBytes: number): string {
  return `The request body is larger than the ${maxBodyBytes} bytes this server accepts.`;
}
