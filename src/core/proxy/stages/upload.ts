// Stage 3a, upload buffering: when shouldBufferBody says so (a process that takes few requests at
// once, or --buffer-uploads), the whole body is read from the client before a process is checked
// out, into memory and then a file of the BufferDir (request-body.ts), so that a slow uploader
// holds no process; then checkout, and the app gets the body at once with its Content-Length.
// The front enforces --max-body-size (413) and the body timeout (408) while it arrives.

import { ClientGoneError, RequestBodyBuffer } from '../request-body.js';
import { writeError } from './answers.js';
import type { ProxyRequest } from './proxy-request.js';

/** Reads the body whole, then `then(request)` (the checkout), unless the request ended meanwhile. */
export function receiveUpload(request: ProxyRequest, then: (request: ProxyRequest) => void): void {
  const { ctx, exchange, tracked } = request;
  const dir = ctx.bufferDir;
  if (!dir) throw new Error('upload buffering without a buffer directory');
  // No limit of its own: the front refuses a body over --max-body-size before it gets here.
  const flow = { pause: () => exchange.pauseBody(), resume: () => exchange.resumeBody() };
  const upload = new RequestBodyBuffer(dir, flow, exchange.field('content-length') === undefined);
  request.upload = upload;
  request.to('receiving');
  if (tracked) {
    tracked.requestBody = upload;
    tracked.state = 'receiving';
  }
  upload.received.then(
    () => {
      if (request.state === 'receiving') then(request);
    },
    (err: unknown) => uploadFailed(request, err),
  );
  // The listener (the ProxyRequest) pushes the chunks into the buffer; 100 Continue if asked for.
  exchange.readBody();
}

/** The client left (nothing to say), or the disk failed (500, and the connection closes). */
function uploadFailed(request: ProxyRequest, err: unknown): void {
  if (request.state !== 'receiving' || err instanceof ClientGoneError) return;
  request.ctx.log.error('could not buffer a request body', { reqId: request.requestId, err });
  request.status = 500;
  request.to('answered');
  writeError(request.exchange, { status: 500, reason: 'The server could not store the request body.', requestId: request.requestId, close: true });
}
