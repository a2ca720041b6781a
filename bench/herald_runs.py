"""Herald's delivery path end to end: flat-out throughput and latency at a paced event rate.

Throughput: N events already committed to the outbox; the clock starts when the workers start
and stops when the receiver has all N requests (fan-out, claims, sends, history rows and
delivery states). Latency: real task transitions (`stop`, through the release service and the
outbox) issued at a fixed rate from 8 threads, as API requests would be, each measured from its
commit to its request's arrival.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.common import (
    Receiver,
    WorkerRun,
    bulk_events,
    container_for,
    drop_store,
    fresh_store,
    quantiles,
    seed,
)
from herald.store.tables import deliveries

WARM_UP = 20


def throughput(kind: str, workdir: Path, n: int, workers: int = 1) -> dict[str, Any]:
    url = fresh_store(kind, workdir)
    c = container_for(url)
    receiver = Receiver()
    worker = WorkerRun(c, url, workers)
    try:
        _, task_ids = seed(c, receiver.url, n)
        bulk_events(c, task_ids)
        started = time.perf_counter()
        worker.start()
        done = receiver.wait_count(n, 600)
    finally:
        worker.stop()
        receiver.close()
        c.close()
        drop_store(url)
    return {
        "deliveries": n,
        "seconds": round(done - started, 3),
        "per_second": round(n / (done - started), 1),
    }


def latency(
    kind: str, workdir: Path, rate: float, seconds: float, workers: int = 1
) -> dict[str, Any]:
    url = fresh_store(kind, workdir)
    c = container_for(url)
    receiver = Receiver()
    worker = WorkerRun(c, url, workers)
    n = max(int(rate * seconds), 20)
    committed: dict[str, float] = {}
    try:
        _, task_ids = seed(c, receiver.url, n + WARM_UP)
        worker.start()
        # A long-running worker is warm (connections open, configs decrypted and cached).
        for task_id in task_ids[:WARM_UP]:
            c.release.stop(task_id, "warm-up")
        receiver.wait_count(WARM_UP, 60)
        task_ids = task_ids[WARM_UP:]

        def stop(task_id: str) -> None:
            c.release.stop(task_id, "benchmark")
            committed[task_id] = time.time()

        begin = time.perf_counter()
        with ThreadPoolExecutor(max_workers=8) as pool:
            for i, task_id in enumerate(task_ids):
                pause = begin + i / rate - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                pool.submit(stop, task_id)
        emitted = time.perf_counter()
        receiver.wait_count(n + WARM_UP, 180)
    finally:
        worker.stop()
        arrivals = receiver.close()
    with c.db.read() as conn:
        by_delivery = dict(conn.execute(sa.select(deliveries.c.id, deliveries.c.task_id)).all())
    c.close()
    drop_store(url)
    lat = [
        (arrivals[d] - committed[t]) * 1000
        for d, t in by_delivery.items()
        if d in arrivals and t in committed
    ]
    return {
        "events": n,
        "offered_rate": rate,
        "achieved_rate": round(n / (emitted - begin), 1),
        **quantiles(lat),
    }
