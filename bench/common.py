"""What every workload shares: the receiver process, fresh stores, a Herald container, the
delivery worker (embedded or as `herald worker` processes), quantiles and live progress."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg

from herald.bootstrap import Container
from herald.domain.ids import new_id
from herald.domain.release import Environment, Strategy, TaskSpec, TaskType
from herald.publishing.config_inputs import ConfigIn
from herald.publishing.config_model import CallbackConfig
from herald.runtime.settings import ExplicitSettings
from herald.store import migrate
from herald.store.outbox import insert_event

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("HERALD_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = "benchmark-only encryption key, 32+ characters"
CONCURRENCY = 64
_started = time.perf_counter()


def say(message: str) -> None:
    """Live progress on the terminal (stderr), with the time since the harness started."""
    print(f"[{time.perf_counter() - _started:6.1f}s] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def quantiles(values: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds of `values` (already in ms)."""
    if not values:
        return {"p50_ms": float("nan"), "p95_ms": float("nan"), "p99_ms": float("nan")}
    if len(values) == 1:
        return {"p50_ms": values[0], "p95_ms": values[0], "p99_ms": values[0]}
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "p50_ms": round(q[49], 2),
        "p95_ms": round(q[94], 2),
        "p99_ms": round(q[98], 2),
        "max_ms": round(max(values), 2),
    }


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


class Receiver:
    """bench/receiver.py in its own process."""

    def __init__(self) -> None:
        self.port = free_port()
        self.log = Path(tempfile.mkstemp(suffix=".log")[1])
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "receiver.py"), str(self.port), str(self.log)],
            stdout=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        self.proc.stdout.readline()
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.base}/hook"

    def count(self) -> int:
        with urllib.request.urlopen(f"{self.base}/count") as r:
            return int(r.read())

    def wait_count(self, n: int, timeout: float) -> float:
        """Wait until `n` requests arrived; the perf_counter time it happened."""
        deadline = time.perf_counter() + timeout
        while (got := self.count()) < n:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"only {got} of {n} requests arrived within {timeout:.0f}s")
            time.sleep(0.02)
        return time.perf_counter()

    def close(self) -> dict[str, float]:
        """Stop the receiver; first arrival time (Unix s) per request id."""
        self.proc.terminate()
        self.proc.wait(30)
        arrivals: dict[str, float] = {}
        for line in self.log.read_text().splitlines():
            wid, at = line.rsplit(" ", 1)
            arrivals.setdefault(wid, float(at))
        self.log.unlink()
        return arrivals


def fresh_store(kind: str, workdir: Path) -> str:
    """A new, migrated SQLite file or PostgreSQL database; its URL."""
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
    else:
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def container_for(url: str, **worker: Any) -> Container:
    settings = ExplicitSettings(
        database_url=url,
        secret_key=SECRET,
        egress_allow=["127.0.0.1/32"],
        worker={"concurrency": CONCURRENCY, "per_target_concurrency": CONCURRENCY, **worker},
    )
    return Container.build(settings)


def new_project(c: Container) -> tuple[str, str]:
    project = c.catalog.create_project(f"bench-{uuid.uuid4().hex[:8]}", "")
    version = c.catalog.create_version(project.id, "v1.0.0", "")
    return project.id, version.id


def subscribe(
    c: Container, project_id: str, channels: list[dict[str, Any]], events: Sequence[str]
) -> CallbackConfig:
    body = {"events": list(events), "channels": channels}
    return c.callbacks.create(project_id, ConfigIn.model_validate(body), None)


def custom(url: str, **extra: Any) -> dict[str, Any]:
    return {"type": "custom", "config": {"url": url, "retry_count": 3, **extra}}


def create_tasks(c: Container, project_id: str, version_id: str, n: int) -> list[str]:
    spec = TaskSpec(
        project_id,
        version_id,
        TaskType.DEPLOY,
        Strategy.ROLLING,
        Environment.PRODUCTION,
        ["web-1", "web-2"],
    )
    return [c.release.create_task(spec).id for _ in range(n)]


def seed(c: Container, url: str, tasks: int) -> tuple[str, list[str]]:
    """A project with one custom channel to `url` subscribed to task_stopped, and `tasks` tasks."""
    project_id, version_id = new_project(c)
    subscribe(c, project_id, [custom(url)], ["task_stopped"])
    return project_id, create_tasks(c, project_id, version_id, tasks)


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


def worker_env(url: str, **worker: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    env.update(
        HERALD_DATABASE_URL=url,
        HERALD_SECRET_KEY=SECRET,
        HERALD_EGRESS_ALLOW="127.0.0.1/32",
        HERALD_LOG_LEVEL="WARNING",
        HERALD_WORKER__CONCURRENCY=str(CONCURRENCY),
        HERALD_WORKER__PER_TARGET_CONCURRENCY=str(CONCURRENCY),
    )
    env.update({f"HERALD_WORKER__{k.upper()}": str(v) for k, v in worker.items()})
    return env


class WorkerRun:
    """Herald's delivery workers. SQLite: embedded in this process (one loop thread, woken
    in-process; two workers share that loop). PostgreSQL: `herald worker` processes woken by
    LISTEN/NOTIFY, as when scaled out."""

    def __init__(self, c: Container | None, url: str, workers: int = 1, **worker: Any) -> None:
        self.c, self.url, self.workers, self.settings = c, url, workers, worker
        self.procs: list[subprocess.Popen[bytes]] = []
        self.thread: threading.Thread | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if self.url.startswith("sqlite") and self.c is not None:
            c = self.c
            ready = threading.Event()

            def run() -> None:
                self.loop = asyncio.new_event_loop()
                self.tasks = [
                    self.loop.create_task(c.worker(f"bench-{i}").run()) for i in range(self.workers)
                ]
                ready.set()
                with contextlib.suppress(asyncio.CancelledError):
                    self.loop.run_until_complete(asyncio.gather(*self.tasks))

            self.thread = threading.Thread(target=run, daemon=True)
            self.thread.start()
            ready.wait()
        else:
            self.start_processes()

    def start_processes(self) -> None:
        """`herald worker` processes, whatever the store."""
        herald = str(Path(sys.executable).with_name("herald"))
        env = worker_env(self.url, **self.settings)
        self.procs = [subprocess.Popen([herald, "worker"], env=env) for _ in range(self.workers)]
        time.sleep(1.5)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self.loop is not None and self.tasks:
            for task in self.tasks:
                self.loop.call_soon_threadsafe(task.cancel)
            assert self.thread is not None
            self.thread.join(30)
