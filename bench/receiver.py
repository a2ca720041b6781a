"""A fast local HTTP endpoint for benchmarks: answers 204 and logs (request id, arrival time).

Runs in its own process so the sender under test does not share its interpreter lock.
`python bench/receiver.py PORT LOGFILE` — the log is written when the process gets SIGTERM.

The request id is the `webhook-id` header (Herald, the bare loop, Celery) or, for senders that
cannot set a header per message (Apprise's `json://`), the JSON body's `title`.
`/hang/...` never answers within a benchmark (a dead endpoint: the sender's timeout ends it).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path

from aiohttp import web

HANG_SECONDS = 120.0


async def main(port: int, log_path: str) -> None:
    arrivals: list[tuple[str, float]] = []

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        at = time.time()
        wid = request.headers.get("webhook-id")
        if wid is None:
            try:
                wid = str(json.loads(body).get("title", "-"))
            except ValueError:
                wid = "-"
        arrivals.append((wid, at))
        return web.Response(status=204)

    async def hang(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(HANG_SECONDS)
        return web.Response(status=204)

    async def count(_: web.Request) -> web.Response:
        return web.Response(text=str(len(arrivals)))

    app = web.Application()
    app.router.add_post("/hook", hook)
    app.router.add_post("/hook/{rest:.*}", hook)
    app.router.add_post("/hang/{rest:.*}", hang)
    app.router.add_get("/count", count)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await stop.wait()
    text = "".join(f"{wid} {at:.6f}\n" for wid, at in arrivals)
    await asyncio.to_thread(Path(log_path).write_text, text)
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
