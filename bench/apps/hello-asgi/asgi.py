# The loaders benchmark's ASGI app (bench/loaders.mjs): hello world, served by Ferry (Passenger
# has no ASGI support to compare with).
HELLO = b"hello world\n"
START = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(HELLO)).encode())]}
BODY = {"type": "http.response.body", "body": HELLO}


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    await send(START)
    await send(BODY)
