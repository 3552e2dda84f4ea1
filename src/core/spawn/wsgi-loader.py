# Ferry's WSGI loader: serves the app's `application` on the unix socket Ferry chose
# (FERRY_APP_SOCKET), one request at a time, and reports readiness on fd 3. Python stdlib only.
import importlib.util
import json
import os
import socketserver
import sys
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler

READY_FD = 3


def load_application(startup_file):
    directory = os.path.dirname(os.path.abspath(startup_file))
    sys.path.insert(0, directory)
    spec = importlib.util.spec_from_file_location("ferry_wsgi_app", startup_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app = getattr(module, "application", None) or getattr(module, "app", None)
    if app is None:
        raise RuntimeError("%s defines no WSGI callable named 'application'" % startup_file)
    return app


class OneRequestHandler(ServerHandler):
    """Says it closes the connection after the answer (it does): a client that kept the connection
    for another request would send it into a socket this loader is closing, and lose it."""

    def cleanup_headers(self):
        super().cleanup_headers()
        self.headers["Connection"] = "close"


class Handler(WSGIRequestHandler):
    def setup(self):
        super().setup()
        # A unix socket has no peer address; Ferry passes the client's in X-Forwarded-For.
        self.client_address = ("127.0.0.1", 0)

    def log_message(self, format, *args):
        pass  # Ferry logs requests; the app's own output still goes to stderr

    def handle(self):
        self.raw_requestline = self.rfile.readline(65537)
        if not self.parse_request():
            return
        handler = OneRequestHandler(self.rfile, self.wfile, self.get_stderr(), self.get_environ(), multithread=False)
        handler.http_version = "1.1"
        handler.request_handler = self
        handler.run(self.server.get_app())
        self.close_connection = True


class Server(socketserver.UnixStreamServer):
    def __init__(self, path, app):
        super().__init__(path, Handler)
        self.app = app
        self.base_environ = {"SERVER_NAME": "localhost", "SERVER_PORT": "80", "GATEWAY_INTERFACE": "CGI/1.1", "SCRIPT_NAME": ""}

    def get_app(self):
        return self.app


def main():
    socket_path = os.environ.pop("FERRY_APP_SOCKET")
    app = load_application(sys.argv[1])
    if os.path.exists(socket_path):
        os.unlink(socket_path)
    server = Server(socket_path, app)
    os.write(READY_FD, (json.dumps({"type": "ready", "socket": socket_path, "pid": os.getpid()}) + "\n").encode())
    os.close(READY_FD)
    server.serve_forever()


if __name__ == "__main__":
    main()
