#!/usr/bin/env node
// Measurement only, not product code: the least a JavaScript reverse proxy can do per request,
// as the ceiling `npm run bench` holds Ferry's proxy path to. Over node:net, it finds the end of
// each request head, sends the bytes unchanged to one of the app sockets (round robin, kept-alive
// connections), reads the answer's Content-Length and writes the answer's bytes back. No parsing
// beyond that, no checks, no bodies, no chunked answers, no timeouts: anything real costs more.
//
// Usage: node bench/prototypes/bare-proxy.mjs PORT SOCKET [SOCKET ...]
import net from 'node:net';

const [portArg, ...sockets] = process.argv.slice(2);
const END = Buffer.from('\r\n\r\n');
const idle = sockets.map(() => []);
let next = 0;

function upstream(i) {
  const kept = idle[i].pop();
  if (kept !== undefined) return kept;
  const socket = net.connect(sockets[i]);
  socket.setNoDelay(true);
  socket.on('error', () => undefined);
  // The app closes a connection idle for its keep-alive timeout (node:http: 5 s): not kept then.
  socket.on('close', () => {
    const at = idle[i].indexOf(socket);
    if (at >= 0) idle[i].splice(at, 1);
  });
  return socket;
}

/** The answer's length once its head is in `bytes`, else -1. */
function answerLength(bytes) {
  const end = bytes.indexOf(END);
  if (end < 0) return -1;
  const m = /\r\ncontent-length:[ \t]*(\d+)/i.exec(bytes.latin1Slice(0, end));
  return end + 4 + (m ? Number(m[1]) : 0);
}

net.createServer({ noDelay: true }, (client) => {
  let pending = null;
  let busy = false;
  const serveNext = () => {
    if (busy || pending === null) return;
    const end = pending.indexOf(END);
    if (end < 0) return;
    const head = pending.subarray(0, end + 4);
    pending = pending.length > end + 4 ? pending.subarray(end + 4) : null;
    busy = true;
    const i = next++ % sockets.length;
    const app = upstream(i);
    let answer = null;
    let length = -1;
    const onData = (chunk) => {
      answer = answer === null ? chunk : Buffer.concat([answer, chunk]);
      if (length < 0) length = answerLength(answer);
      if (length < 0 || answer.length < length) return;
      app.off('data', onData);
      client.write(answer);
      idle[i].push(app);
      busy = false;
      serveNext();
    };
    app.on('data', onData);
    app.write(head);
  };
  client.on('data', (chunk) => {
    pending = pending === null ? chunk : Buffer.concat([pending, chunk]);
    serveNext();
  });
  client.on('error', () => undefined);
}).listen(Number(portArg), '127.0.0.1');
