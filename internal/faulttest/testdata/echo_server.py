#!/usr/bin/python3
"""Second-opinion echo server for internal/faulttest, on Python's websockets (Debian's 10.4).

    /usr/bin/python3 echo_server.py --port N

Listens on 127.0.0.1:N, echoes every data message, prints "LISTENING 127.0.0.1:N" once ready
and exits when its stdin reaches EOF, so it never outlives the test that started it.
Keepalive pings of its own are off: the client's keepalive is what the tests measure.
"""

import argparse
import asyncio
import sys

from websockets.legacy.server import serve


async def echo(ws, _path):
    try:
        async for message in ws:
            await ws.send(message)
    except Exception:  # a reset or a cut frame ends this connection only
        pass


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    loop = asyncio.get_running_loop()
    stdin_eof = loop.run_in_executor(None, sys.stdin.buffer.read)
    async with serve(echo, "127.0.0.1", args.port, ping_interval=None, max_size=None,
                     max_queue=None, backlog=4096, compression=None):
        print(f"LISTENING 127.0.0.1:{args.port}", flush=True)
        await stdin_eof


if __name__ == "__main__":
    asyncio.run(main())
