// The smallest Ferry app: a plain Node http server. Ferry decides where it really listens.
const http = require('node:http');

const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(`Hello from Ferry (pid ${process.pid})\n`);
});

server.listen(process.env.PORT || 3000, () => {
  console.log(`hello app listening (pid ${process.pid})`);
});
