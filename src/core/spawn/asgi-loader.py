# Ferry's ASGI loader: serves the ASGI 3 callable (`app`, or `application`) of the startup file
# over HTTP/1.1 on the unix socket Ferry chose (FERRY_APP_SOCKET), on asyncio from the standard
# library, and reports readiness on fd 3. Scopes: lifespan, http, websocket.
#
# Connections are kept alive across requests; requests run concurrently on the event loop (at most
# FERRY_CONCURRENCY at once when it is above 0). Exceptions are reported as the WSGI loader does
# (one JSON line on stderr), with whose helpers this file shares its error pages and records.
import asyncio
import base64
import hashlib
import importlib.util
import json
import os
import signal
import sys

_here = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("ferry_wsgi_loader", os.path.join(_here, "wsgi-loader.py"))
common = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(common)
common.LOADER_FILES.add(os.path.abspath(__file__))

READY_FD = 3
MAX_HEAD = 256 * 1024
BODY_CHUNK = 64 * 1024
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
LIFESPAN_TIMEOUT_S = 30


class ClientGone(Exception):
    """The core closed the connection in the middle of a request."""


class Lifespan:
    """The lifespan scope: startup before the first request, shutdown at stop. An app that raises
    on it does not support it (ASGI spec), and is served without."""

    def __init__(self, app, state):
        self.app = app
        self.state = state
        self.inbox = asyncio.Queue()
        self.answers = asyncio.Queue()
        self.task = None
        self.supported = True

    async def receive(self):
        return await self.inbox.get()

    async def send(self, message):
        await self.answers.put(message)

    async def run(self):
        try:
            await self.app({"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}, self.receive, self.send)
        except BaseException as exc:
            if self.answers.empty() and not getattr(self, "started", False):
                self.supported = False
                sys.stderr.write("ASGI lifespan not supported by the app (%s: %s); serving without it\n" % (type(exc).__name__, exc))
            else:
                raise
        finally:
            await self.answers.put(None)

    async def phase(self, name):
        """Sends lifespan.NAME and waits for its answer; returns the failure message, if any."""
        await self.inbox.put({"type": "lifespan.%s" % name})
        answer = await asyncio.wait_for(self.answers.get(), LIFESPAN_TIMEOUT_S)
        if answer is None:
            return None if not self.supported else "the app returned from the lifespan scope before %s completed" % name
        if answer["type"] == "lifespan.%s.failed" % name:
            return answer.get("message") or "lifespan %s failed" % name
        return None

    async def startup(self):
        self.task = asyncio.get_running_loop().create_task(self.run())
        failure = await self.phase("startup")
        self.started = True
        return failure

    async def shutdown(self):
        if self.supported and self.task and not self.task.done():
            await self.phase("shutdown")


async def read_head(reader):
    try:
        data = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as err:
        if err.partial.strip() == b"":
            return None  # the core closed an idle connection
        raise ClientGone()
    except asyncio.LimitOverrunError:
        raise common.BadRequest(431, "headers too large")
    lines = data.lstrip(b"\r\n").split(b"\r\n")
    parts = lines[0].decode("latin-1").split(" ")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise common.BadRequest(400, "bad request line")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise common.BadRequest(505, "unsupported HTTP version")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip():
            raise common.BadRequest(400, "bad header line")
        headers.append((name.lower(), value.strip()))
    return method, target, version, headers


class Body:
    """The request body, read as the app asks for it (http.request messages)."""

    def __init__(self, reader, length, chunked):
        self.reader = reader
        self.remaining = length
        self.chunked = chunked
        self.done = not chunked and length == 0

    async def next(self):
        if self.done:
            return b""
        try:
            if not self.chunked:
                data = await self.reader.read(min(self.remaining, BODY_CHUNK))
                if not data:
                    raise ClientGone()
                self.remaining -= len(data)
                self.done = self.remaining == 0
                return data
            line = await self.reader.readuntil(b"\n")
            size = int(line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while (await self.reader.readuntil(b"\n")) not in (b"\r\n", b"\n"):
                    pass
                self.done = True
                return b""
            data = await self.reader.readexactly(size)
            await self.reader.readuntil(b"\n")
            return data
        except (asyncio.IncompleteReadError, ValueError):
            raise ClientGone()

    async def drain(self):
        while not self.done:
            await self.next()


class HttpExchange:
    """One http scope: receive() gives the body, send() frames the answer as it comes."""

    def __init__(self, writer, body, method, version, keep_alive):
        self.writer = writer
        self.body = body
        self.method = method
        self.version = version
        self.keep_alive = keep_alive
        self.start = None
        self.sent = False
        self.finished = False
        self.chunked = False
        self.no_body = False
        self.remaining = None
        self.finished_event = asyncio.Event()

    async def receive(self):
        if not self.body.done:
            data = await self.body.next()
            return {"type": "http.request", "body": data, "more_body": not self.body.done}
        # After the body: http.disconnect once the answer is done (the app may be waiting for it).
        await self.finished_event.wait()
        return {"type": "http.disconnect"}

    def head(self, body_length):
        status = int(self.start["status"])
        self.no_body = self.method == "HEAD" or status in (204, 304) or status < 200
        reason = common.REASONS.get(status) or "OK"
        try:
            from http import HTTPStatus

            reason = HTTPStatus(status).phrase
        except ValueError:
            pass
        lines = [b"HTTP/1.1 %d %s\r\n" % (status, reason.encode())]
        for name, value in self.start.get("headers", []):
            lower = bytes(name).lower()
            if lower.decode("latin-1") in common.HOP_BY_HOP:
                continue
            if b"\n" in value or b"\r" in value:
                raise ValueError("bad header value %r from the app: a line break would end it early" % (value,))
            if lower == b"content-length":
                self.remaining = int(value)
                body_length = None
            lines.append(bytes(name) + b": " + bytes(value) + b"\r\n")
        if self.remaining is None and not (status in (204, 304) or status < 200):
            if body_length is not None:
                lines.append(b"Content-Length: %d\r\n" % body_length)
                self.remaining = body_length
            elif self.method != "HEAD":
                if self.version == "HTTP/1.1":
                    lines.append(b"Transfer-Encoding: chunked\r\n")
                    self.chunked = True
                else:
                    self.keep_alive = False
        if not self.keep_alive:
            lines.append(b"Connection: close\r\n")
        elif self.version == "HTTP/1.0":
            lines.append(b"Connection: keep-alive\r\n")
        lines.append(b"\r\n")
        return b"".join(lines)

    async def send(self, message):
        kind = message["type"]
        if kind == "http.response.start":
            if self.start is not None:
                raise RuntimeError("http.response.start sent twice")
            self.start = message
            return
        if kind != "http.response.body":
            raise RuntimeError("unexpected ASGI message %r in an http scope" % kind)
        if self.start is None:
            raise RuntimeError("http.response.body before http.response.start")
        if self.finished:
            return
        data = bytes(message.get("body", b""))
        more = message.get("more_body", False)
        out = b""
        if not self.sent:
            out = self.head(None if more else len(data))
            self.sent = True
        if data and not self.no_body:
            if self.remaining is not None:
                data = data[: self.remaining]
                self.remaining -= len(data)
                out += data
            elif self.chunked:
                out += b"%x\r\n" % len(data) + data + b"\r\n"
            else:
                out += data
        if not more:
            if self.chunked and not self.no_body:
                out += b"0\r\n\r\n"
            if self.remaining and not self.no_body:
                self.keep_alive = False
            self.finished = True
            self.finished_event.set()
        if out:
            self.writer.write(out)
            await self.writer.drain()


class WebSocketExchange:
    """One websocket scope (RFC 6455): the handshake answered on websocket.accept, frames both ways."""

    def __init__(self, reader, writer, key):
        self.reader = reader
        self.writer = writer
        self.key = key
        self.connected_sent = False
        self.accepted = False
        self.closed = False

    async def read_frame(self):
        try:
            b0, b1 = await self.reader.readexactly(2)
            length = b1 & 0x7F
            if length == 126:
                length = int.from_bytes(await self.reader.readexactly(2), "big")
            elif length == 127:
                length = int.from_bytes(await self.reader.readexactly(8), "big")
            mask = await self.reader.readexactly(4) if b1 & 0x80 else None
            data = await self.reader.readexactly(length)
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        if mask:
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        return b0 & 0x80, b0 & 0x0F, data

    def frame(self, opcode, data):
        length = len(data)
        if length < 126:
            head = bytes([0x80 | opcode, length])
        elif length < 65536:
            head = bytes([0x80 | opcode, 126]) + length.to_bytes(2, "big")
        else:
            head = bytes([0x80 | opcode, 127]) + length.to_bytes(8, "big")
        return head + data

    async def receive(self):
        if not self.connected_sent:
            self.connected_sent = True
            return {"type": "websocket.connect"}
        message, message_opcode = b"", None
        while True:
            frame = await self.read_frame()
            if frame is None:
                self.closed = True
                return {"type": "websocket.disconnect", "code": 1006}
            fin, opcode, data = frame
            if opcode == 8:
                code = int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005
                if not self.closed:
                    self.writer.write(self.frame(8, data[:2]))
                    self.closed = True
                return {"type": "websocket.disconnect", "code": code}
            if opcode == 9:
                self.writer.write(self.frame(10, data))
                continue
            if opcode == 10:
                continue
            if opcode in (1, 2):
                message, message_opcode = data, opcode
            else:  # continuation
                message += data
            if fin:
                return {"type": "websocket.receive", "text": message.decode("utf-8")} if message_opcode == 1 else {"type": "websocket.receive", "bytes": message}

    async def send(self, message):
        kind = message["type"]
        if kind == "websocket.accept":
            accept = base64.b64encode(hashlib.sha1(self.key + WS_GUID).digest())
            lines = [b"HTTP/1.1 101 Switching Protocols\r\n", b"Upgrade: websocket\r\n", b"Connection: Upgrade\r\n", b"Sec-WebSocket-Accept: " + accept + b"\r\n"]
            if message.get("subprotocol"):
                lines.append(b"Sec-WebSocket-Protocol: " + message["subprotocol"].encode() + b"\r\n")
            for name, value in message.get("headers", []):
                lines.append(bytes(name) + b": " + bytes(value) + b"\r\n")
            self.writer.write(b"".join(lines) + b"\r\n")
            self.accepted = True
        elif kind == "websocket.send":
            if message.get("text") is not None:
                self.writer.write(self.frame(1, message["text"].encode("utf-8")))
            else:
                self.writer.write(self.frame(2, bytes(message.get("bytes") or b"")))
        elif kind == "websocket.close":
            if not self.accepted:
                self.writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            elif not self.closed:
                self.writer.write(self.frame(8, int(message.get("code", 1000)).to_bytes(2, "big") + (message.get("reason") or "").encode()))
            self.closed = True
        else:
            raise RuntimeError("unexpected ASGI message %r in a websocket scope" % kind)
        await self.writer.drain()


class Server:
    def __init__(self, app, concurrency, friendly_errors, state):
        self.app = app
        self.slots = asyncio.Semaphore(concurrency) if concurrency > 0 else None
        self.friendly_errors = friendly_errors
        self.state = state

    def scope(self, kind, method, target, version, headers):
        path, _, query = target.partition("?")
        from urllib.parse import unquote

        scope = {
            "type": kind,
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": version[5:],
            "scheme": "http",
            "path": unquote(path),
            "raw_path": path.encode("latin-1"),
            "query_string": query.encode("latin-1"),
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 0),
            "server": ("localhost", 80),
            "state": dict(self.state),
        }
        for name, value in headers:
            if name == b"x-forwarded-proto" and value == b"https":
                scope["scheme"] = "https"
            elif name == b"x-real-ip":
                scope["client"] = (value.decode("latin-1"), 0)
        if kind == "http":
            scope["method"] = method
        else:
            scope["scheme"] = "wss" if scope["scheme"] == "https" else "ws"
            protocols = b",".join(v for n, v in headers if n == b"sec-websocket-protocol")
            scope["subprotocols"] = [p.strip().decode() for p in protocols.split(b",") if p.strip()]
        return scope

    async def handle(self, reader, writer):
        try:
            while await self.serve_one(reader, writer):
                pass
        except (ClientGone, ConnectionError):
            pass
        except Exception as exc:  # the loader's own failure: one record
            common.report_exception(exc, "request", "a connection")
        finally:
            writer.close()

    def refuse(self, writer, status):
        body = ("%d %s\n" % (status, common.REASONS[status])).encode()
        writer.write(b"HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (status, common.REASONS[status].encode(), len(body), body))

    async def serve_one(self, reader, writer):
        try:
            head = await read_head(reader)
        except common.BadRequest as err:
            self.refuse(writer, err.status)
            return False
        if head is None:
            return False
        method, target, version, headers = head
        tokens, length, chunked, upgrade, key = set(), 0, False, b"", b""
        for name, value in headers:
            if name == b"connection":
                tokens.update(t.strip().lower() for t in value.decode("latin-1").split(","))
            elif name == b"content-length":
                if not value.isdigit():
                    self.refuse(writer, 400)
                    return False
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = value.lower().split(b",")[-1].strip() == b"chunked"
                if not chunked:
                    self.refuse(writer, 501)
                    return False
            elif name == b"upgrade":
                upgrade = value.lower()
            elif name == b"sec-websocket-key":
                key = value
        label = "%s %s" % (method, target.split("?", 1)[0])
        if upgrade == b"websocket" and "upgrade" in tokens and key:
            await self.run(WebSocketExchange(reader, writer, key), self.scope("websocket", method, target, version, headers), label, None)
            return False
        keep_alive = ("close" not in tokens) if version == "HTTP/1.1" else ("keep-alive" in tokens)
        body = Body(reader, length, chunked)
        exchange = HttpExchange(writer, body, method, version, keep_alive)
        scope = self.scope("http", method, target, version, headers)
        await self.run(exchange, scope, label, dict(headers))
        if not exchange.finished or not exchange.keep_alive:
            return False
        await body.drain()
        return True

    async def run(self, exchange, scope, label, headers):
        if self.slots:
            await self.slots.acquire()
        try:
            await self.app(scope, exchange.receive, exchange.send)
            if isinstance(exchange, HttpExchange) and not exchange.sent:
                raise RuntimeError("the app returned without an answer")
        except (ClientGone, ConnectionError):
            raise
        except Exception as exc:
            summary, text = common.report_exception(exc, "request", label)
            if isinstance(exchange, HttpExchange) and not exchange.sent:
                await self.send_exception_page(exchange, headers or {}, summary, text)
        finally:
            if self.slots:
                self.slots.release()
            if isinstance(exchange, HttpExchange):
                exchange.finished_event.set()

    async def send_exception_page(self, exchange, headers, summary, text):
        forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1").split(",")[-1].strip()
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")
        if self.friendly_errors == "all" or (self.friendly_errors == "local" and common.is_loopback(forwarded)):
            body, kind = common.error_page(summary, text, request_id).encode(), b"text/html; charset=utf-8"
        else:
            body, kind = ("500 Internal Server Error\n\nThe application raised an exception.\nRequest id: %s\n" % request_id).encode(), b"text/plain; charset=utf-8"
        exchange.start = {"status": 500, "headers": [(b"content-type", kind), (b"cache-control", b"no-store")]}
        exchange.remaining = None
        await exchange.send({"type": "http.response.body", "body": body})


async def serve(startup_file, socket_path, concurrency, friendly_errors):
    try:
        app = common.load_application(startup_file, "ASGI", ("app", "application"))
    except BaseException as exc:
        common.report_exception(exc, "load")
        return 1
    state = {}
    lifespan = Lifespan(app, state)
    try:
        failure = await lifespan.startup()
    except Exception as exc:
        common.report_exception(exc, "load")
        return 1
    if failure:
        common.report_exception(RuntimeError("lifespan startup failed: %s" % failure), "load")
        return 1
    server = Server(app, concurrency, friendly_errors, state)
    if os.path.exists(socket_path):
        os.unlink(socket_path)
    listener = await asyncio.start_unix_server(server.handle, path=socket_path, limit=MAX_HEAD, backlog=1024)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    os.write(READY_FD, (json.dumps({"type": "ready", "socket": socket_path, "pid": os.getpid()}) + "\n").encode())
    os.close(READY_FD)
    await stop.wait()
    # Ferry has drained this process before it asks it to stop: shut down, then leave.
    listener.close()
    try:
        await lifespan.shutdown()
    except Exception as exc:
        common.report_exception(exc, "request", "lifespan shutdown")
    return 0


def main():
    socket_path = os.environ.pop("FERRY_APP_SOCKET")
    concurrency = int(os.environ.pop("FERRY_CONCURRENCY", "0") or "0")
    friendly_errors = os.environ.pop("FERRY_FRIENDLY_ERRORS", "off")
    sys.exit(asyncio.run(serve(sys.argv[1], socket_path, concurrency, friendly_errors)))


if __name__ == "__main__":
    main()
