#!/usr/bin/python3
"""A chat and request/reply server for wsbench's flow tests, on Python's websockets (10.4,
Debian's python3-websockets). It shares no code with wsbench; flowserver.js is the same
server on Node's ws. The contract:

    /usr/bin/python3 flowserver.py [--delay-ms N] [--ping-ms N]

Listens on 127.0.0.1 (a free port), prints "LISTENING <port>" on stdout, and when its stdin
reaches EOF prints one JSON line of counters and exits.

  /rr     each text message {"id": N, ...} is answered, after delay-ms plus (N % 3) * 10 ms
          (so replies overtake each other), with {"id": N, "ok": true, "ts": <ms>}.
  /chat   sends {"type":"welcome","sid":"<random>"} at once and the text "ping" every
          ping-ms (the client answers "pong"). {"type":"join","sid":S,"room":R} with the
          welcome's sid is answered {"type":"joined","room":R} (another sid: {"type":"error"});
          {"type":"say","id":N,"room":R,"ts":T} is acked to the sender with
          {"type":"ack","id":N} and sent to every other member of R as
          {"type":"said","room":R,"ts":T}.
  /foreign pushes unstamped messages: the text "0{\"sid\":\"x\"}" and 32 bytes of 0x07, every
          20 ms.
"""

import argparse
import asyncio
import json
import secrets
import sys
import time

from websockets.legacy.server import serve

stats = {"requests": 0, "joins_ok": 0, "joins_bad": 0, "says": 0, "said": 0, "pings": 0, "pongs": 0, "other": 0}
rooms = {}


async def rr(ws, delay):
    async def answer(msg):
        n = json.loads(msg)["id"]
        await asyncio.sleep((delay + (n % 3) * 10) / 1000)
        await ws.send(json.dumps({"id": n, "ok": True, "ts": int(time.time() * 1000)}))

    tasks = set()
    async for msg in ws:
        stats["requests"] += 1
        t = asyncio.ensure_future(answer(msg))
        tasks.add(t)
        t.add_done_callback(tasks.discard)


async def chat(ws, ping_ms):
    sid = secrets.token_hex(6)
    await ws.send(json.dumps({"type": "welcome", "sid": sid}))
    room = None

    async def pinger():
        while True:
            await asyncio.sleep(ping_ms / 1000)
            stats["pings"] += 1
            await ws.send("ping")

    p = asyncio.ensure_future(pinger())
    try:
        async for msg in ws:
            if msg == "pong":
                stats["pongs"] += 1
                continue
            m = json.loads(msg)
            if m.get("type") == "join":
                if m.get("sid") != sid:
                    stats["joins_bad"] += 1
                    await ws.send(json.dumps({"type": "error", "why": "bad sid"}))
                    continue
                stats["joins_ok"] += 1
                room = m["room"]
                rooms.setdefault(room, set()).add(ws)
                await ws.send(json.dumps({"type": "joined", "room": room}))
            elif m.get("type") == "say":
                stats["says"] += 1
                await ws.send(json.dumps({"type": "ack", "id": m["id"]}))
                out = json.dumps({"type": "said", "room": m["room"], "ts": m["ts"]})
                for other in list(rooms.get(m["room"], ())):
                    if other is not ws:
                        stats["said"] += 1
                        asyncio.ensure_future(other.send(out))
            else:
                stats["other"] += 1
    finally:
        p.cancel()
        if room:
            rooms[room].discard(ws)


async def foreign(ws):
    while True:
        await ws.send('0{"sid":"x"}')
        await ws.send(bytes([7]) * 32)
        await asyncio.sleep(0.02)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--delay-ms", type=int, default=0)
    ap.add_argument("--ping-ms", type=int, default=200)
    a = ap.parse_args()

    async def handler(ws, path):
        try:
            if path.startswith("/rr"):
                await rr(ws, a.delay_ms)
            elif path.startswith("/chat"):
                await chat(ws, a.ping_ms)
            elif path.startswith("/foreign"):
                await foreign(ws)
            else:
                await ws.close(4404, "no such route")
        except Exception:  # a client that goes away mid-send is not the server's failure
            pass

    async with serve(handler, "127.0.0.1", 0, max_size=1 << 20) as server:
        port = server.sockets[0].getsockname()[1]
        print("LISTENING", port, flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)
    print(json.dumps(stats), flush=True)


asyncio.run(main())
