# Ferry's WSGI loader: serves the app's `application` over HTTP/1.1 on the unix socket Ferry chose
# (FERRY_APP_SOCKET) and reports readiness on fd 3. Python standard library only.
#
# Connections are kept alive across requests (the core reuses them); each has a thread, and at most
# FERRY_CONCURRENCY requests (0: no limit) run the app at once. A response goes out as the app
# produces it: with the app's Content-Length, else with one computed for a list, else chunked.
# An exception is written to stderr as one JSON line (see report_exception).
import importlib.util
import json
import os
import queue
import socket
import sys
import threading
import traceback

READY_FD = 3
MAX_LINE = 65536
MAX_HEAD = 256 * 1024
# Unread request body drained after an answer so the connection can carry the next request; past
# this much it is cheaper to close the connection.
MAX_DRAIN = 1024 * 1024
# Longest traceback put in one record: the record must stay one log line (the core splits lines
# past 16 KiB, and JSON escaping grows the text).
MAX_TRACEBACK_CHARS = 6000
HOP_BY_HOP = frozenset(["connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"])
REASONS = {400: "Bad Request", 431: "Request Header Fields Too Large", 500: "Internal Server Error", 501: "Not Implemented", 505: "HTTP Version Not Supported"}
# The loaders' own files, left out of the tracebacks they report (the ASGI loader adds itself).
LOADER_FILES = {os.path.abspath(__file__)}
APP_DIR = os.getcwd().rstrip("/") + "/"  # Ferry starts the loader in the app's directory

stderr_lock = threading.Lock()


def trimmed(te):
    """The traceback (and those it was raised from) without the loader's and importlib's frames."""
    seen = set()
    todo = [te]
    while todo:
        t = todo.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        own = [f for f in t.stack if os.path.abspath(f.filename) not in LOADER_FILES and not f.filename.startswith("<frozen importlib")]
        for f in own:
            # The app's own files relative to its directory (the cwd), as its developer names them.
            if f.filename.startswith(APP_DIR):
                f.filename = f.filename[len(APP_DIR):]
        if own:
            t.stack = traceback.StackSummary.from_list(own)
        todo.extend(x for x in (t.__cause__, t.__context__) if x is not None)
    return te


def report_exception(exc, when, request=None):
    """Writes the exception to stderr as one JSON line: the core logs it as one record (at error
    level) and keeps its traceback text as the app's last output (spawn error, friendly page).
    Returns (summary, traceback text)."""
    te = trimmed(traceback.TracebackException(type(exc), exc, exc.__traceback__))
    # The last frame in the app's own files (the line to fix), else the last one there is.
    own = [f for f in te.stack if not f.filename.startswith(("/", "<"))]
    last = own[-1] if own else te.stack[-1] if te.stack else None
    message = str(exc)
    kind = type(exc).__qualname__
    if type(exc).__module__ not in ("builtins", "__main__"):
        kind = "%s.%s" % (type(exc).__module__, kind)
    text = "".join(te.format())
    if len(text) > MAX_TRACEBACK_CHARS:
        text = "...\n" + text[-MAX_TRACEBACK_CHARS:]
    where = " (at %s:%d in %s)" % (last.filename, last.lineno, last.name) if last else ""
    summary = "%s: %s%s" % (kind, message, where) if message else kind + where
    record = {
        "msg": ("exception while loading the app: " if when == "load" else "exception in %s: " % request) + summary,
        "ferryAppException": {
            "when": when,
            "type": kind,
            "message": message,
            "file": last.filename if last else None,
            "line": last.lineno if last else None,
            "function": last.name if last else None,
            "traceback": text,
        },
    }
    line = json.dumps(record) + "\n"
    with stderr_lock:
        try:
            sys.stderr.write(line)
            sys.stderr.flush()
        except Exception:
            pass
    return summary, text


def load_application(startup_file, kind="WSGI", names=("application", "app")):
    """The app's callable from its startup file (the ASGI loader uses this too, with its names)."""
    directory = os.path.dirname(os.path.abspath(startup_file))
    sys.path.insert(0, directory)
    spec = importlib.util.spec_from_file_location("ferry_%s_app" % kind.lower(), startup_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app = getattr(module, names[0], None) or getattr(module, names[1], None)
    if app is None:
        raise RuntimeError("%s defines no %s callable named '%s' (or '%s')" % (startup_file, kind, names[0], names[1]))
    return app


class BadRequest(Exception):
    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status


class ClientGone(Exception):
    """The core closed the connection in the middle of a request."""


class LengthInput:
    """wsgi.input for a body of known length."""

    def __init__(self, rfile, length, on_first_read):
        self.rfile = rfile
        self.remaining = length
        self.on_first_read = on_first_read

    def _start(self):
        if self.on_first_read:
            self.on_first_read()
            self.on_first_read = None

    def read(self, size=-1):
        self._start()
        if self.remaining <= 0:
            return b""
        if size is None or size < 0 or size > self.remaining:
            size = self.remaining
        data = self.rfile.read(size)
        if len(data) < size:
            self.remaining = 0
            raise ClientGone("the request body ended early")
        self.remaining -= len(data)
        return data

    def readline(self, size=-1):
        self._start()
        limit = self.remaining if size is None or size < 0 else min(size, self.remaining)
        if limit <= 0:
            return b""
        line = self.rfile.readline(limit)
        if not line:
            self.remaining = 0
            raise ClientGone("the request body ended early")
        self.remaining -= len(line)
        return line

    def readlines(self, hint=-1):
        return list(iter(self.readline, b""))

    def __iter__(self):
        return iter(self.readline, b"")

    def drain(self, limit):
        """Reads what the app left unread; False if that is more than `limit` (close instead)."""
        if self.remaining > limit:
            return False
        while self.remaining > 0:
            self.read(65536)
        return True


class ChunkedInput(LengthInput):
    """wsgi.input for a chunked body (RFC 9112 section 7.1), decoded as it is read."""

    def __init__(self, rfile, on_first_read):
        super().__init__(rfile, 0, on_first_read)
        self.buffer = b""
        self.done = False
        self.total = 0

    def _next_chunk(self):
        line = self.rfile.readline(MAX_LINE)
        if not line.endswith(b"\n"):
            raise ClientGone("the chunked request body ended early")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise BadRequest(400, "bad chunk size")
        if size == 0:
            while True:  # trailer fields, up to the empty line
                trailer = self.rfile.readline(MAX_LINE)
                if not trailer.endswith(b"\n"):
                    raise ClientGone("the chunked request body ended early")
                if trailer in (b"\r\n", b"\n"):
                    break
            self.done = True
            return
        data = self.rfile.read(size)
        if len(data) < size or self.rfile.readline(MAX_LINE) not in (b"\r\n", b"\n"):
            raise ClientGone("the chunked request body ended early")
        self.buffer += data
        self.total += size

    def read(self, size=-1):
        self._start()
        while not self.done and (size is None or size < 0 or len(self.buffer) < size):
            self._next_chunk()
        if size is None or size < 0:
            size = len(self.buffer)
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def readline(self, size=-1):
        self._start()
        while not self.done and b"\n" not in self.buffer and (size is None or size < 0 or len(self.buffer) < size):
            self._next_chunk()
        end = self.buffer.find(b"\n") + 1 or len(self.buffer)
        if size is not None and size >= 0:
            end = min(end, size)
        line, self.buffer = self.buffer[:end], self.buffer[end:]
        return line

    def drain(self, limit):
        while not self.done:
            if self.total > limit:
                return False
            self._next_chunk()
            self.buffer = b""
        return True


class Response:
    """One answer on the connection: frames it as the app produces it (PEP 3333's start_response
    and write, and the iterable it returns)."""

    def __init__(self, conn, method, version, keep_alive):
        self.conn = conn
        self.method = method
        self.version = version
        self.keep_alive = keep_alive
        self.status = None
        self.headers = None
        self.sent = False
        self.chunked = False
        self.no_body = False
        # Bytes the app's Content-Length still promises; None when it gave none.
        self.remaining = None
        self.finished = False

    def start_response(self, status, headers, exc_info=None):
        if exc_info:
            try:
                if self.sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response was called twice without exc_info")
        if not isinstance(status, str) or len(status) < 4 or not status[:3].isdigit() or status[3] != " ":
            raise ValueError("bad WSGI status %r: it must be a str like '200 OK'" % (status,))
        for header in headers:
            if not (isinstance(header, tuple) and len(header) == 2 and isinstance(header[0], str) and isinstance(header[1], str)):
                raise TypeError("bad WSGI header %r: each must be a (str, str) tuple" % (header,))
            if "\n" in header[1] or "\r" in header[1] or not header[0] or ":" in header[0] or " " in header[0]:
                raise ValueError("bad WSGI header %r: a line break in a header would end it early" % (header,))
        self.status = status
        self.headers = headers
        return self.write

    def _head(self, body_length):
        code = int(self.status[:3])
        self.no_body = self.method == "HEAD" or code in (204, 304) or 100 <= code < 200
        lines = ["HTTP/1.1 %s\r\n" % self.status]
        for name, value in self.headers:
            lower = name.lower()
            if lower in HOP_BY_HOP:
                continue  # ours to set (PEP 3333 forbids them to apps)
            if lower == "content-length":
                try:
                    self.remaining = int(value)
                except ValueError:
                    raise ValueError("bad Content-Length %r from the app" % value)
                body_length = None
            lines.append("%s: %s\r\n" % (name, value))
        if self.remaining is None and not (code in (204, 304) or 100 <= code < 200):
            if body_length is not None:
                lines.append("Content-Length: %d\r\n" % body_length)
                self.remaining = body_length
            elif self.method != "HEAD":
                if self.version == "HTTP/1.1":
                    lines.append("Transfer-Encoding: chunked\r\n")
                    self.chunked = True
                else:
                    self.keep_alive = False  # HTTP/1.0: the close ends the body
        if not self.keep_alive:
            lines.append("Connection: close\r\n")
        elif self.version == "HTTP/1.0":
            lines.append("Connection: keep-alive\r\n")
        lines.append("\r\n")
        return "".join(lines).encode("latin-1")

    def _send(self, data, body_length=None):
        if self.status is None:
            raise AssertionError("the app produced a body before calling start_response")
        out = b""
        if not self.sent:
            out = self._head(body_length)
            self.sent = True
        if data and not self.no_body:
            if self.remaining is not None:
                if len(data) > self.remaining:
                    data = data[: self.remaining]  # more than it promised: the rest is not sent
                self.remaining -= len(data)
                out += data
            elif self.chunked:
                out += b"%x\r\n" % len(data) + data + b"\r\n"
            else:
                out += data
        if out:
            self.conn.sendall(out)

    def write(self, data):
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError("the app wrote %s, not bytes" % type(data).__name__)
        self._send(bytes(data))

    def send_whole(self, parts):
        body = b"".join(parts)
        self._send(body, len(body))

    def finish(self):
        if not self.sent:
            self._send(b"", 0)
        elif self.chunked and not self.no_body:
            self.conn.sendall(b"0\r\n\r\n")
        if self.remaining and not self.no_body:
            self.keep_alive = False  # fewer bytes than its Content-Length: only a close tells the core
        self.finished = True


def is_loopback(address):
    return address.startswith("127.") or address in ("::1", "[::1]", "localhost")


def error_page(summary, text, request_id):
    escape = lambda s: s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>The application raised an exception</title>'
        "<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}pre{background:#f4f4f4;padding:1rem;overflow:auto}</style></head>\n"
        "<body><h1>The application raised an exception</h1>\n<p>%s</p>\n<pre>%s</pre>\n<p>Request id: %s</p>\n"
        "<p>This page is shown because the app runs in development (or with --friendly-error-pages); other clients get a plain 500.</p>\n</body></html>\n"
    ) % (escape(summary), escape(text), escape(request_id))


class Connection:
    def __init__(self, conn, server):
        self.conn = conn
        self.server = server
        self.rfile = conn.makefile("rb", 65536)

    def serve(self):
        try:
            while self.serve_one():
                pass
        except (ClientGone, ConnectionError, OSError):
            pass
        except Exception as exc:  # the loader's own failure: one record, not a thread's traceback
            report_exception(exc, "request", "a connection")
        finally:
            try:
                self.rfile.close()
                self.conn.close()
            except OSError:
                pass

    def refuse(self, status):
        body = ("%d %s\n" % (status, REASONS[status])).encode()
        self.conn.sendall(b"HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (status, REASONS[status].encode(), len(body), body))

    def read_head(self):
        line = self.rfile.readline(MAX_LINE + 1)
        while line in (b"\r\n", b"\n"):
            line = self.rfile.readline(MAX_LINE + 1)
        if not line:
            return None  # the core closed an idle connection
        if not line.endswith(b"\n"):
            raise BadRequest(431 if len(line) > MAX_LINE else 400, "bad request line")
        parts = line.decode("latin-1").rstrip("\r\n").split(" ")
        if len(parts) != 3 or not parts[0] or not parts[1]:
            raise BadRequest(400, "bad request line")
        method, target, version = parts
        if version not in ("HTTP/1.1", "HTTP/1.0"):
            raise BadRequest(505, "unsupported HTTP version")
        headers = []
        size = 0
        while True:
            line = self.rfile.readline(MAX_LINE + 1)
            if not line.endswith(b"\n"):
                if not line:
                    raise ClientGone("the connection closed mid-head")
                raise BadRequest(431, "header line too long")
            if line in (b"\r\n", b"\n"):
                break
            size += len(line)
            if size > MAX_HEAD:
                raise BadRequest(431, "headers too large")
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep or not name or name != name.strip():
                raise BadRequest(400, "bad header line")
            headers.append((name.lower(), value.strip()))
        return method, target, version, headers

    def environ(self, method, target, version, headers):
        path, _, query = target.partition("?")
        env = dict(self.server.base_environ)
        env.update({"REQUEST_METHOD": method, "PATH_INFO": unquote_path(path), "QUERY_STRING": query, "RAW_URI": target, "REQUEST_URI": target, "SERVER_PROTOCOL": version})
        for name, value in headers:
            if name == "content-type":
                env["CONTENT_TYPE"] = value
            elif name == "content-length":
                env["CONTENT_LENGTH"] = value
            elif "_" in name:
                continue  # X_Forwarded_For would pass for X-Forwarded-For (gunicorn and nginx drop them too)
            else:
                key = "HTTP_" + name.upper().replace("-", "_")
                if key in env:
                    env[key] += ("; " if name == "cookie" else ", ") + value
                else:
                    env[key] = value
        host = env.get("HTTP_HOST")
        if host:
            env["SERVER_NAME"] = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if env.get("HTTP_X_FORWARDED_PROTO") == "https":
            env["wsgi.url_scheme"] = "https"
        real_ip = env.get("HTTP_X_REAL_IP")
        if real_ip:
            env["REMOTE_ADDR"] = real_ip
        return env

    def serve_one(self):
        try:
            head = self.read_head()
        except BadRequest as err:
            self.refuse(err.status)
            return False
        if head is None:
            return False
        method, target, version, headers = head
        tokens = set()
        length = None
        codings = None
        expect_continue = False
        for name, value in headers:
            if name == "connection":
                tokens.update(t.strip().lower() for t in value.split(","))
            elif name == "content-length":
                if not value.isdigit() or (length is not None and int(value) != length):
                    self.refuse(400)
                    return False
                length = int(value)
            elif name == "transfer-encoding":
                codings = (codings + ", " if codings else "") + value.lower()
            elif name == "expect" and value.lower() == "100-continue":
                expect_continue = version == "HTTP/1.1"
        keep_alive = ("close" not in tokens) if version == "HTTP/1.1" else ("keep-alive" in tokens)
        env = self.environ(method, target, version, headers)

        def send_continue():
            if expect_continue:
                self.conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")

        if codings is not None:
            if codings.split(",")[-1].strip() != "chunked" or length is not None:
                self.refuse(400 if length is not None else 501)
                return False
            body = ChunkedInput(self.rfile, send_continue)
            env.pop("CONTENT_LENGTH", None)
        else:
            body = LengthInput(self.rfile, length or 0, send_continue)
        env["wsgi.input"] = body
        env["wsgi.errors"] = sys.stderr
        env["wsgi.version"] = (1, 0)
        env["wsgi.multithread"] = self.server.concurrency != 1
        env["wsgi.multiprocess"] = True
        env["wsgi.run_once"] = False
        env.setdefault("wsgi.url_scheme", "http")
        env["wsgi.input_terminated"] = True

        response = Response(self.conn, method, version, keep_alive)
        slots = self.server.slots
        token = slots.get() if slots else None
        try:
            self.run_app(env, response, method, target)
        finally:
            if slots:
                slots.put(token)
        if not response.finished:
            return False  # broke off mid-answer: only a close tells the core
        if not response.keep_alive:
            return False
        try:
            return body.drain(MAX_DRAIN)
        except BadRequest:
            return False

    def run_app(self, env, response, method, target):
        result = None
        try:
            result = self.server.app(env, response.start_response)
            if isinstance(result, (list, tuple)) and not response.sent:
                # The whole body is known: one write, with its Content-Length.
                for part in result:
                    if not isinstance(part, bytes):
                        raise TypeError("the app's iterable yielded %s, not bytes" % type(part).__name__)
                response.send_whole(result)
            else:
                for part in result:
                    if not isinstance(part, (bytes, bytearray)):
                        raise TypeError("the app's iterable yielded %s, not bytes" % type(part).__name__)
                    if part:
                        response._send(bytes(part))
            if hasattr(result, "close"):
                closing, result = result, None
                closing.close()
            response.finish()
        except (ClientGone, ConnectionError):
            if result is not None and hasattr(result, "close"):
                result.close()
            raise
        except Exception as exc:
            summary, text = report_exception(exc, "request", "%s %s" % (method, target.split("?", 1)[0]))
            if result is not None and hasattr(result, "close"):
                try:
                    result.close()
                except Exception:
                    pass
            if response.sent:
                return  # not finished: the connection closes, and the core sees the answer cut short
            self.send_exception_page(env, response, summary, text)

    def send_exception_page(self, env, response, summary, text):
        forwarded = env.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        mode = self.server.friendly_errors
        if mode == "all" or (mode == "local" and is_loopback(forwarded)):
            body = error_page(summary, text, env.get("HTTP_X_REQUEST_ID", "")).encode()
            kind = "text/html; charset=utf-8"
        else:
            body = ("500 Internal Server Error\n\nThe application raised an exception.\nRequest id: %s\n" % env.get("HTTP_X_REQUEST_ID", "")).encode()
            kind = "text/plain; charset=utf-8"
        response.status = "500 Internal Server Error"
        response.headers = [("Content-Type", kind), ("Cache-Control", "no-store")]
        response.remaining = None
        response.send_whole([body])
        response.finish()


def unquote_path(path):
    """PATH_INFO is the decoded path, as latin-1 text of its bytes (PEP 3333)."""
    if "%" not in path:
        return path
    from urllib.parse import unquote_to_bytes

    return unquote_to_bytes(path).decode("latin-1")


class Server:
    def __init__(self, listener, app, concurrency, friendly_errors):
        self.listener = listener
        self.app = app
        self.concurrency = concurrency
        # The thread pool's size: connections are many (kept alive), app calls at most this many.
        # Tokens in a SimpleQueue (C code, no Python-level lock) rather than a Semaphore: per request.
        self.slots = None
        if concurrency > 0:
            self.slots = queue.SimpleQueue()
            for token in range(concurrency):
                self.slots.put(token)
        self.friendly_errors = friendly_errors
        self.base_environ = {"SERVER_NAME": "localhost", "SERVER_PORT": "80", "GATEWAY_INTERFACE": "CGI/1.1", "SCRIPT_NAME": "", "REMOTE_ADDR": "127.0.0.1"}

    def serve_forever(self):
        while True:
            conn, _ = self.listener.accept()
            threading.Thread(target=Connection(conn, self).serve, daemon=True).start()


def main():
    socket_path = os.environ.pop("FERRY_APP_SOCKET")
    concurrency = int(os.environ.pop("FERRY_CONCURRENCY", "1") or "1")
    friendly_errors = os.environ.pop("FERRY_FRIENDLY_ERRORS", "off")
    try:
        app = load_application(sys.argv[1])
    except BaseException as exc:  # SystemExit too: the app gave up while loading
        report_exception(exc, "load")
        sys.exit(exc.code if isinstance(exc, SystemExit) and isinstance(exc.code, int) and exc.code else 1)
    if os.path.exists(socket_path):
        os.unlink(socket_path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    listener.listen(1024)
    os.write(READY_FD, (json.dumps({"type": "ready", "socket": socket_path, "pid": os.getpid()}) + "\n").encode())
    os.close(READY_FD)
    Server(listener, app, concurrency, friendly_errors).serve_forever()


if __name__ == "__main__":
    main()
