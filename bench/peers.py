"""The references every Herald figure is divided by, sending the same ~1 KB JSON to the same
receiver: (a) a bare aiohttp loop, no persistence; (b) Apprise's `json://`, no persistence;
(c) a Celery task on Redis that POSTs with requests. Each runs flat out (N requests, requests/s)
and paced (latency from the moment a message is handed over to its arrival)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp

from bench.common import CONCURRENCY, ROOT, Receiver, quantiles

BODY = json.dumps({"event_type": "task_stopped", "padding": "x" * 900})
APPRISE_THREADS = 8
CELERY_PROCESSES = 4


def _flat(receiver: Receiver, n: int, send_all: Callable[[list[str]], None]) -> dict[str, Any]:
    ids = [str(uuid.uuid4()) for _ in range(n)]
    already = receiver.count()  # warm-up requests
    started = time.perf_counter()
    send_all(ids)
    done = receiver.wait_count(already + n, 600)
    return {
        "requests": n,
        "seconds": round(done - started, 3),
        "per_second": round(n / (done - started), 1),
    }


def _paced(
    receiver: Receiver, rate: float, seconds: float, submit: Callable[[str], object]
) -> tuple[dict[str, float], dict[str, Any]]:
    n = max(int(rate * seconds), 20)
    handed: dict[str, float] = {}
    begin = time.perf_counter()
    for i in range(n):
        pause = begin + i / rate - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        rid = str(uuid.uuid4())
        handed[rid] = time.time()
        submit(rid)
    achieved = n / (time.perf_counter() - begin)
    return handed, {"events": n, "offered_rate": rate, "achieved_rate": round(achieved, 1)}


def _latency(
    handed: dict[str, float], arrivals: dict[str, float], info: dict[str, Any]
) -> dict[str, Any]:
    lat = [(arrivals[r] - t) * 1000 for r, t in handed.items() if r in arrivals]
    return {**info, **quantiles(lat)}


# --- (a) the bare aiohttp loop ----------------------------------------------------------------


async def _bare(
    url: str, ids: list[str], rate: float | None, handed: dict[str, float] | None = None
) -> None:
    limit = asyncio.Semaphore(CONCURRENCY)
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    body = BODY.encode()
    async with aiohttp.ClientSession(connector=connector) as session:

        async def post(rid: str) -> None:
            async with limit:
                headers = {"content-type": "application/json", "webhook-id": rid}
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()

        if rate is None:
            await asyncio.gather(*(post(r) for r in ids))
            return
        begin = time.perf_counter()
        sends = []
        for i, rid in enumerate(ids):
            pause = begin + i / rate - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
            if handed is not None:
                handed[rid] = time.time()
            sends.append(asyncio.create_task(post(rid)))
        await asyncio.gather(*sends)


def bare_throughput(n: int) -> dict[str, Any]:
    receiver = Receiver()
    try:
        asyncio.run(_bare(receiver.url, [str(uuid.uuid4()) for _ in range(200)], None))  # warm-up
        receiver.wait_count(200, 30)
        return _flat(receiver, n, lambda ids: asyncio.run(_bare(receiver.url, ids, None)))
    finally:
        receiver.close()


def bare_latency(rate: float, seconds: float) -> dict[str, Any]:
    receiver = Receiver()
    n = max(int(rate * seconds), 20)
    ids = [str(uuid.uuid4()) for _ in range(n)]
    handed: dict[str, float] = {}
    try:
        started = time.perf_counter()
        asyncio.run(_bare(receiver.url, ids, rate, handed))
        achieved = n / (time.perf_counter() - started)
        receiver.wait_count(n, 60)
    finally:
        arrivals = receiver.close()
    info = {"events": n, "offered_rate": rate, "achieved_rate": round(achieved, 1)}
    return _latency(handed, arrivals, info)


# --- (b) Apprise ------------------------------------------------------------------------------


def _apprise(receiver: Receiver) -> Any:
    import apprise

    notifier = apprise.Apprise()
    notifier.add(f"json://127.0.0.1:{receiver.port}/hook")
    return notifier


def apprise_throughput(n: int) -> dict[str, Any]:
    receiver = Receiver()
    try:
        notifier = _apprise(receiver)
        notifier.notify(body=BODY, title="warm-up")
        receiver.wait_count(1, 30)

        def send_all(ids: list[str]) -> None:
            with ThreadPoolExecutor(APPRISE_THREADS) as pool:
                list(pool.map(lambda rid: notifier.notify(body=BODY, title=rid), ids))

        return _flat(receiver, n, lambda ids: send_all(ids)) | {"threads": APPRISE_THREADS}
    finally:
        receiver.close()


def apprise_latency(rate: float, seconds: float) -> dict[str, Any]:
    receiver = Receiver()
    try:
        notifier = _apprise(receiver)
        with ThreadPoolExecutor(APPRISE_THREADS) as pool:
            handed, info = _paced(
                receiver,
                rate,
                seconds,
                lambda rid: pool.submit(notifier.notify, body=BODY, title=rid),
            )
        receiver.wait_count(info["events"], 120)
    finally:
        arrivals = receiver.close()
    return _latency(handed, arrivals, info)


# --- (c) Celery + Redis + requests --------------------------------------------------------------


@contextlib.contextmanager
def celery_worker() -> Iterator[tuple[Any, str]]:
    """A `celery worker` subprocess on a queue of its own; yields (task, queue)."""
    from bench.celery_app import app, post

    queue = f"herald-bench-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "bench.celery_app",
            "worker",
            "-Q",
            queue,
            "--concurrency",
            str(CELERY_PROCESSES),
            "--pool",
            "prefork",
            "--loglevel",
            "WARNING",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield post, queue
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        with contextlib.suppress(Exception), app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)


def celery_throughput(n: int) -> dict[str, Any]:
    receiver = Receiver()
    try:
        with celery_worker() as (post, queue):
            post.apply_async((receiver.url, BODY, "warm-up"), queue=queue)
            receiver.wait_count(1, 60)
            warm = receiver.count()

            def send_all(ids: list[str]) -> None:
                for rid in ids:
                    post.apply_async((receiver.url, BODY, rid), queue=queue)

            ids = [str(uuid.uuid4()) for _ in range(n)]
            started = time.perf_counter()
            send_all(ids)
            done = receiver.wait_count(n + warm, 600)
        return {
            "requests": n,
            "seconds": round(done - started, 3),
            "per_second": round(n / (done - started), 1),
            "processes": CELERY_PROCESSES,
        }
    finally:
        receiver.close()


def celery_latency(rate: float, seconds: float) -> dict[str, Any]:
    receiver = Receiver()
    try:
        with celery_worker() as (post, queue):
            post.apply_async((receiver.url, BODY, "warm-up"), queue=queue)
            receiver.wait_count(1, 60)
            handed, info = _paced(
                receiver,
                rate,
                seconds,
                lambda rid: post.apply_async((receiver.url, BODY, rid), queue=queue),
            )
            receiver.wait_count(info["events"] + 1, 180)
    finally:
        arrivals = receiver.close()
    return _latency(handed, arrivals, info)
