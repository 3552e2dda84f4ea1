// The benchmark's app: the same file is served directly, by Ferry, by Passenger and behind nginx.
//   /        hello world (the proxy path)
//   /cached  public for 60 s (the turbocache's hit path)
//   /slow    answers after 50 ms (latency added by the proxy)
//   /cached-large  a 20 KB HTML page, public for 60 s (compression and the cache)
//   /revalidate    no-cache with an ETag: every use is a conditional request, answered 304
const http = require('node:http');

const HELLO = Buffer.from('hello world\n');
const LARGE = Buffer.from(`<!doctype html><html><head><title>Ferry bench</title></head><body>${Array.from({ length: 400 }, (_, i) => `<p class="row">Row ${i}: the quick brown fox jumps over the lazy dog.</p>`).join('\n')}</body></html>\n`);
const ETAG = '"hello-v1"';

http
  .createServer((req, res) => {
    switch (req.url) {
      case '/cached':
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': HELLO.length, 'Cache-Control': 'public, max-age=60' });
        res.end(HELLO);
        return;
      case '/cached-large':
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': LARGE.length, 'Cache-Control': 'public, max-age=60' });
        res.end(LARGE);
        return;
      case '/revalidate':
        if (req.headers['if-none-match'] === ETAG) {
          res.writeHead(304, { ETag: ETAG, 'Cache-Control': 'no-cache' });
          res.end();
          return;
        }
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': HELLO.length, ETag: ETAG, 'Cache-Control': 'no-cache' });
        res.end(HELLO);
        return;
      case '/slow':
        setTimeout(() => {
          res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': HELLO.length });
          res.end(HELLO);
        }, 50);
        return;
      default:
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': HELLO.length });
        res.end(HELLO);
    }
  })
  // BENCH_SOCKET: a unix socket, as behind nginx (under Ferry and Passenger their loader decides).
  .listen(...(process.env.BENCH_SOCKET ? [process.env.BENCH_SOCKET] : [Number(process.env.PORT ?? 3000), '127.0.0.1']));
