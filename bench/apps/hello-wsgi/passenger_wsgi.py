# The loaders benchmark's WSGI app (bench/loaders.mjs): hello world, served by Ferry and by Passenger.
HELLO = b"hello world\n"


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(HELLO)))])
    return [HELLO]
