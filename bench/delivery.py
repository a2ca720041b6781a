"""Delivery benchmark: Herald against a bare aiohttp loop, same payloads, same local receiver.

    .venv/bin/python bench/delivery.py [--stores sqlite,postgres] [--events 5000] [--rate 200]

For each store it measures
- throughput: N events already committed to the outbox → all N requests received, deliveries/s;
- latency at a paced rate: events committed one by one at --rate/s for --seconds, each measured
  from its commit to its arrival at the receiver (p50/p95/p99/max);
and, once, the baseline: the same payloads POSTed by a bare aiohttp loop at the same
concurrency with no persistence. SQLite runs embedded (worker in this process, woken in-process);
PostgreSQL runs a separate `herald worker` process woken by LISTEN/NOTIFY, as when scaled out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import sqlalchemy as sa

from herald.bootstrap import Container
from herald.domain.ids import new_id
from herald.domain.release import Environment, Strategy, TaskSpec, TaskType
from herald.publishing.config_inputs import ConfigIn
from herald.runtime.settings import ExplicitSettings
from herald.store import migrate
from herald.store.outbox import insert_event
from herald.store.tables import deliveries

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("HERALD_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = "benchmark-only encryption key, 32+ characters"
CONCURRENCY = 64
WARM_UP = 20
WORKERS = int(os.environ.get("HERALD_BENCH_WORKERS", "1"))  # PostgreSQL worker processes


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.log = Path(tempfile.mkstemp(suffix=".log")[1])
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "receiver.py"), str(self.port), str(self.log)],
            stdout=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        self.proc.stdout.readline()
        self.url = f"http://127.0.0.1:{self.port}/hook"

    def count(self) -> int:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/count") as r:
            return int(r.read())

    def close(self) -> dict[str, float]:
        self.proc.terminate()
        self.proc.wait(30)
        arrivals: dict[str, float] = {}
        for line in self.log.read_text().splitlines():
            wid, at = line.split()
            arrivals.setdefault(wid, float(at))
        self.log.unlink()
        return arrivals


async def baseline(url: str, bodies: list[bytes]) -> float:
    """Bare aiohttp: POST every body at CONCURRENCY in flight; requests per second."""
    limit = asyncio.Semaphore(CONCURRENCY)
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def post(body: bytes) -> None:
            async with limit:
                headers = {"content-type": "application/json", "webhook-id": str(uuid.uuid4())}
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()

        started = time.perf_counter()
        await asyncio.gather(*(post(b) for b in bodies))
        return len(bodies) / (time.perf_counter() - started)


def fresh_store(kind: str, workdir: Path) -> str:
    if kind == "sqlite":
        url = f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:6]}.db'}"
    else:
        name = f"herald_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    migrate.upgrade(url)
    return url


def drop_store(url: str) -> None:
    if url.startswith("postgresql"):
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def container_for(url: str) -> Container:
    settings = ExplicitSettings(
        database_url=url,
        secret_key=SECRET,
        egress_allow=["127.0.0.1/32"],
        worker={"concurrency": CONCURRENCY, "per_target_concurrency": CONCURRENCY},
    )
    return Container.build(settings)


def seed(c: Container, url: str, tasks: int) -> tuple[str, list[str]]:
    project = c.catalog.create_project(f"bench-{uuid.uuid4().hex[:6]}", "")
    version = c.catalog.create_version(project.id, "v1.0.0", "")
    body = {
        "events": ["task_stopped"],
        "channels": [{"type": "custom", "config": {"url": url, "retry_count": 3}}],
    }
    c.callbacks.create(project.id, ConfigIn.model_validate(body), None)
    spec = TaskSpec(
        project.id,
        version.id,
        TaskType.DEPLOY,
        Strategy.ROLLING,
        Environment.PRODUCTION,
        ["web-1", "web-2"],
    )
    ids = [c.release.create_task(spec).id for _ in range(tasks)]
    return project.id, ids


def bulk_events(c: Container, task_ids: list[str]) -> None:
    """Commit one real task_stopped event per task: the first through the release service, the
    rest as copies of its payload (the worker's work per event is the same)."""
    first = c.release.stop(task_ids[0], "benchmark")
    row = c.release.task_events(first.id)[0]
    with c.db.transaction() as uow:
        for task_id in task_ids[1:]:
            payload = json.loads(json.dumps(row.payload))
            payload["task"]["id"] = task_id
            context = row.context.copy()
            context["event_id"] = new_id()
            insert_event(
                uow.conn,
                event_id=context["event_id"],
                task_id=task_id,
                project_id=row.project_id,
                payload=payload,
                context=context,
                created_at=row.created_at,
                seq=row.seq,
            )


class WorkerRun:
    """The delivery worker: in this process (SQLite, embedded) or a `herald worker` (PostgreSQL)."""

    def __init__(self, c: Container, url: str) -> None:
        self.c, self.url = c, url
        self.procs: list[subprocess.Popen[bytes]] = []
        self.thread: threading.Thread | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.url.startswith("sqlite"):
            ready = threading.Event()

            def run() -> None:
                self.loop = asyncio.new_event_loop()
                self.task = self.loop.create_task(self.c.worker("bench").run())
                ready.set()
                with contextlib.suppress(asyncio.CancelledError):
                    self.loop.run_until_complete(self.task)

            self.thread = threading.Thread(target=run, daemon=True)
            self.thread.start()
            ready.wait()
        else:
            env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
            env.update(
                HERALD_DATABASE_URL=self.url,
                HERALD_SECRET_KEY=SECRET,
                HERALD_EGRESS_ALLOW="127.0.0.1/32",
                HERALD_LOG_LEVEL="WARNING",
                HERALD_WORKER__CONCURRENCY=str(CONCURRENCY),
                HERALD_WORKER__PER_TARGET_CONCURRENCY=str(CONCURRENCY),
            )
            herald = str(Path(sys.executable).with_name("herald"))
            self.procs = [subprocess.Popen([herald, "worker"], env=env) for _ in range(WORKERS)]
            time.sleep(1.5)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(30)
        if self.loop is not None and self.task is not None:
            self.loop.call_soon_threadsafe(self.task.cancel)
            assert self.thread is not None
            self.thread.join(30)


def wait_count(receiver: Receiver, n: int, timeout: float) -> float:
    deadline = time.perf_counter() + timeout
    while receiver.count() < n:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"only {receiver.count()} of {n} arrived")
        time.sleep(0.05)
    return time.perf_counter()


def throughput(kind: str, workdir: Path, n: int) -> dict[str, Any]:
    url = fresh_store(kind, workdir)
    c = container_for(url)
    receiver = Receiver()
    worker = WorkerRun(c, url)
    try:
        _, task_ids = seed(c, receiver.url, n)
        bulk_events(c, task_ids)
        started = time.perf_counter()
        worker.start()
        done = wait_count(receiver, n, 600)
    finally:
        worker.stop()
        receiver.close()
        c.close()
        drop_store(url)
    return {
        "deliveries": n,
        "seconds": round(done - started, 2),
        "per_second": round(n / (done - started), 1),
    }


def latency(kind: str, workdir: Path, rate: float, seconds: float) -> dict[str, Any]:
    url = fresh_store(kind, workdir)
    c = container_for(url)
    receiver = Receiver()
    worker = WorkerRun(c, url)
    n = int(rate * seconds)
    committed: dict[str, float] = {}
    try:
        _, task_ids = seed(c, receiver.url, n + WARM_UP)
        worker.start()
        # A long-running worker is warm (connections open, configs decrypted and cached).
        for task_id in task_ids[:WARM_UP]:
            c.release.stop(task_id, "warm-up")
        wait_count(receiver, WARM_UP, 60)
        task_ids = task_ids[WARM_UP:]

        def stop(task_id: str) -> None:
            c.release.stop(task_id, "benchmark")
            committed[task_id] = time.time()

        # Transitions arrive as API requests do: paced, served by a pool of threads.
        begin = time.perf_counter()
        with ThreadPoolExecutor(max_workers=8) as pool:
            for i, task_id in enumerate(task_ids):
                pause = begin + i / rate - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                pool.submit(stop, task_id)
        emitted = time.perf_counter()
        wait_count(receiver, n + WARM_UP, 120)
        achieved = n / (emitted - begin)
    finally:
        worker.stop()
        arrivals = receiver.close()
    with c.db.read() as conn:
        by_delivery = dict(conn.execute(sa.select(deliveries.c.id, deliveries.c.task_id)).all())
    c.close()
    drop_store(url)
    lat = sorted(
        (arrivals[d] - committed[t]) * 1000
        for d, t in by_delivery.items()
        if d in arrivals and t in committed
    )
    q = statistics.quantiles(lat, n=100, method="inclusive")
    return {
        "events": n,
        "offered_rate": rate,
        "achieved_rate": round(achieved, 1),
        "p50_ms": round(q[49], 1),
        "p95_ms": round(q[94], 1),
        "p99_ms": round(q[98], 1),
        "max_ms": round(lat[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="herald-bench-"))
    receiver = Receiver()
    sample = json.dumps({"event_type": "task_stopped", "padding": "x" * 600}).encode()
    try:
        asyncio.run(baseline(receiver.url, [sample] * 500))  # warm-up
        base = asyncio.run(baseline(receiver.url, [sample] * args.events))
    finally:
        receiver.close()
    report: dict[str, Any] = {"baseline_per_second": round(base, 1), "concurrency": CONCURRENCY}
    for kind in args.stores.split(","):
        tp = throughput(kind, workdir, args.events)
        report[kind] = {
            "throughput": tp,
            "share_of_baseline": round(tp["per_second"] / base, 2),
            "latency": latency(kind, workdir, args.rate, args.seconds),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
