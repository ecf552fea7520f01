#!/usr/bin/python3
"""Interop peer for wsfleet's engine tests: a WebSocket server built on Python's websockets.

It behaves exactly like ../node/server.js; the contract lives in engine/peers_test.go.

    /usr/bin/python3 server.py [--port N] [--tls CERT KEY] [--compress off|on|no-context] [--ignore-stdin]

Listens on 127.0.0.1, prints "LISTENING <port>" on stdout once ready, logs only to stderr, and
exits when its stdin reaches EOF (unless --ignore-stdin), so no server outlives its test.

Written for the websockets that Debian 12 ships (10.4) and its asyncio server API
(websockets.legacy.server), which later releases keep as the "legacy" implementation.
"""

import argparse
import asyncio
import json
import logging
import os
import ssl
import sys
import threading
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import websockets
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.frames import Opcode
from websockets.legacy.server import WebSocketServerProtocol, serve

SUBPROTOCOLS = ["chat.v2", "chat.v1"]
MAX_PAYLOAD = 64 * 1024 * 1024

log = logging.getLogger("peer")


class PeerProtocol(WebSocketServerProtocol):
    """Remembers the payload of the first pong that arrives while someone waits for one."""

    pong_received = None  # an asyncio.Future set by the /ping route

    async def read_frame(self, max_size):
        frame = await super().read_frame(max_size)
        waiter = self.pong_received
        if frame.opcode == Opcode.PONG and waiter is not None and not waiter.done():
            waiter.set_result(bytes(frame.data))
        return frame


def select_subprotocol(client_subprotocols, server_subprotocols):
    """The first subprotocol the client offered that we support, else none."""
    for proto in client_subprotocols:
        if proto in server_subprotocols:
            return proto
    return None


def header_object(headers):
    """Request headers: names lower-cased, repeated headers joined with ", " in arrival order."""
    out = {}
    for name, value in headers.raw_items():
        name = name.lower()
        # websockets decodes values as ASCII with surrogateescape; Node reads them as latin-1.
        value = value.encode("ascii", "surrogateescape").decode("latin-1")
        out[name] = f"{out[name]}, {value}" if name in out else value
    return dict(sorted(out.items()))


def int_param(params, name, default):
    value = params.get(name, "")
    if value == "":
        return default
    return int(value)


_PATTERN = bytes(range(256))


def push_payload(i, size):
    """Byte j of pushed message i is (i + j) mod 256."""
    start = i % 256
    reps = (start + size) // 256 + 1
    return (_PATTERN * reps)[start : start + size]


async def echo(ws):
    async for message in ws:
        await ws.send(message)  # str stays text, bytes stay binary


async def route_echo(ws, params):
    await echo(ws)


async def route_headers(ws, params):
    body = json.dumps(header_object(ws.request_headers), separators=(",", ":"), ensure_ascii=False)
    await ws.send(body)
    await echo(ws)


async def route_close(ws, params):
    await ws.close(int_param(params, "code", 1000), params.get("reason", ""))


async def route_ping(ws, params):
    # Messages that arrive before the pong stay queued and are echoed after "pong:<payload>".
    waiter = asyncio.get_running_loop().create_future()
    ws.pong_received = waiter
    await ws.ping(params.get("data", "").encode("utf-8"))
    closed = asyncio.ensure_future(ws.wait_closed())
    try:
        await asyncio.wait({waiter, closed}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        closed.cancel()
    if not waiter.done():
        return  # connection closed before the pong
    ws.pong_received = None
    await ws.send("pong:" + waiter.result().decode("utf-8", "replace"))
    await echo(ws)


async def route_push(ws, params):
    count = int_param(params, "count", 1)
    size = int_param(params, "size", 0)
    if count < 0 or size < 0 or size > MAX_PAYLOAD:
        raise ValueError("bad count/size")
    for i in range(count):
        await ws.send(push_payload(i, size))
    await ws.close(1000, "done")


ROUTES = {
    "/echo": route_echo,
    "/headers": route_headers,
    "/close": route_close,
    "/ping": route_ping,
    "/push": route_push,
}


async def process_request(path, request_headers):
    if urlsplit(path).path not in ROUTES:
        return HTTPStatus.NOT_FOUND, [("Content-Type", "text/plain")], b"not found\n"
    return None  # go on with the WebSocket handshake


async def handler(ws):
    url = urlsplit(ws.path)
    params = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
    try:
        await ROUTES[url.path](ws, params)
    except websockets.ConnectionClosed:
        pass
    except Exception:
        log.exception("connection error on %s", ws.path)
        try:
            await ws.close(1011, "server error")
        except Exception:
            pass


def compression_args(mode):
    if mode == "on":  # library defaults: permessage-deflate with context takeover
        return {"compression": "deflate"}
    if mode == "no-context":
        factory = ServerPerMessageDeflateFactory(
            server_no_context_takeover=True, client_no_context_takeover=True
        )
        return {"compression": None, "extensions": [factory]}
    return {"compression": None}


def watch_stdin():
    """Exit as soon as stdin reaches EOF: the test that started us is gone."""
    try:
        while os.read(0, 65536):
            pass
    except OSError:
        pass
    sys.stderr.flush()
    os._exit(0)


async def amain(opts):
    kwargs = compression_args(opts.compress)
    if opts.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(opts.tls[0], opts.tls[1])
        kwargs["ssl"] = ctx
    async with serve(
        handler,
        "127.0.0.1",
        opts.port,
        create_protocol=PeerProtocol,
        subprotocols=SUBPROTOCOLS,
        select_subprotocol=select_subprotocol,
        process_request=process_request,
        ping_interval=None,  # no keepalive pings of our own: tests must see only the ones they ask for
        max_size=MAX_PAYLOAD,
        **kwargs,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        if not opts.ignore_stdin:
            threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()
        print(f"LISTENING {port}", flush=True)
        await asyncio.Future()  # serve until killed


def main():
    parser = argparse.ArgumentParser(description="wsfleet interop peer (Python websockets)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--compress", choices=["off", "on", "no-context"], default="off")
    parser.add_argument("--ignore-stdin", action="store_true", help="keep serving when stdin closes")
    opts = parser.parse_args()
    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="python-peer: %(levelname)s %(name)s: %(message)s"
    )
    try:
        asyncio.run(amain(opts))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
