// The benchmark's app: the same file is served directly, by Ferry, by Passenger and behind nginx.
//   /        hello world (the proxy path)
//   /cached  public for 60 s (the turbocache's hit path)
//   /slow    answers after 50 ms (latency added by the proxy)
const http = require('node:http');

const HELLO = Buffer.from('hello world\n');

http
  .createServer((req, res) => {
    switch (req.url) {
      case '/cached':
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': HELLO.length, 'Cache-Control': 'public, max-age=60' });
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
