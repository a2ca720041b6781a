"""History at scale (listing filters and statistics over N attempt rows), history retention
pruning those rows in bounded batches while deliveries keep writing, and the worker's memory
with a large backlog of pending deliveries."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.common import (
    Receiver,
    WorkerRun,
    container_for,
    custom,
    drop_store,
    fresh_store,
    new_project,
    quantiles,
    say,
    subscribe,
)
from herald.bootstrap import Container
from herald.delivery.pruning import HistoryPruner
from herald.domain.filters import HistoryFilter
from herald.runtime.clock import SystemClock
from herald.runtime.settings import RetentionSettings
from herald.store.tables import deliveries

SPAN_DAYS = 100  # history spread over this many days; retention keeps 90 (the default)
PROJECTS = 10


def _generate(c: Container, n: int) -> None:
    """n finished deliveries with one attempt row each, spread over SPAN_DAYS, in SQL."""
    span = SPAN_DAYS * 86400
    pg = c.db.is_postgres
    if pg:
        series = f"FROM generate_series(1, {n}) AS g(i)"
        pad = "lpad(i::text, 36, '0')"
        pad35 = "lpad(i::text, 35, '0')"
        at = f"now() - make_interval(secs => ({n} - i) * {span}.0 / {n})"
        cat = "||"
        mod = "%"
    else:
        series = f"FROM (WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) SELECT i FROM s)"
        pad = "printf('%036d', i)"
        pad35 = "printf('%035d', i)"
        at = f"strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || (({n} - i) * {span}.0 / {n}) || ' seconds')"
        cat = "||"
        mod = "%"
    common = (
        f"'p' {cat} (i {mod} {PROJECTS}), 't' {cat} (i {mod} 50000), 'c' {cat} (i {mod} 20), "
        f"'h' {cat} (i {mod} 40), "
        f"(CASE i {mod} 6 WHEN 0 THEN 'canary_started' WHEN 1 THEN 'canary_completed' WHEN 2 THEN "
        f"'full_completed' WHEN 3 THEN 'task_failed' WHEN 4 THEN 'task_stopped' ELSE 'long_running' END), "
        f"(CASE i {mod} 5 WHEN 0 THEN 'feishu' WHEN 1 THEN 'dingtalk' WHEN 2 THEN 'wecom_app' "
        f"WHEN 3 THEN 'wecom_bot' ELSE 'custom' END)"
    )
    status = f"(CASE WHEN i {mod} 20 = 0 THEN 'failed' ELSE 'success' END)"
    with c.db.transaction() as uow:
        uow.execute(
            sa.text(
                "INSERT INTO deliveries (id, project_id, task_id, config_id, channel_id, event_type, "
                "channel_type, kind, target_key, status, attempts, max_attempts, trigger, "
                "next_attempt_at, created_at, updated_at, finished_at) "
                f"SELECT {pad}, {common}, 'event', 'k' {cat} (i {mod} 40), {status}, 1, 4, "
                f"'scheduled', {at}, {at}, {at}, {at} {series}"
            )
        )
        uow.execute(
            sa.text(
                "INSERT INTO delivery_attempts (id, project_id, task_id, config_id, channel_id, "
                "event_type, channel_type, delivery_id, attempt, trigger, outcome, request, "
                "response_status, latency_ms, created_at) "
                f"SELECT 'a' {cat} {pad35}, {common}, {pad}, 1, 'scheduled', "
                f"(CASE WHEN i {mod} 20 = 0 THEN 'permanent' ELSE 'delivered' END), '{{}}', 200, "
                f"(i {mod} 997) / 10.0, {at} {series}"
            )
        )
    if pg:
        with c.db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    else:
        with c.db.transaction() as uow:
            uow.conn.exec_driver_sql("ANALYZE")


def _timed(fn: Any, repeat: int) -> dict[str, float]:
    fn()  # warm
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return quantiles(samples)


def history_at_scale(kind: str, workdir: Path, rows: int, repeat: int) -> dict[str, Any]:
    """p95 of every history filter and the statistics over `rows` attempt rows, then retention
    pruning the rows past 90 days while a writer measures its own transactions."""
    url = fresh_store(kind, workdir)
    c = container_for(url)
    try:
        started = time.perf_counter()
        _generate(c, rows)
        say(
            f"  {kind}: {rows:,} deliveries + attempts generated in {time.perf_counter() - started:.0f}s"
        )
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        filters = {
            "none": HistoryFilter(),
            "project": HistoryFilter(project_id="p3"),
            "visible (3 projects)": HistoryFilter(visible={"p1", "p2", "p3"}),
            "task": HistoryFilter(task_id="t1234"),
            "config": HistoryFilter(config_id="c7"),
            "channel_type": HistoryFilter(channel_type="dingtalk"),
            "event_type": HistoryFilter(event_type="task_failed"),
            "status=failed": HistoryFilter(status="failed"),
            "kind=digest (none exist)": HistoryFilter(kind="digest"),
            "last 24 h": HistoryFilter(since=since),
            "project + failed": HistoryFilter(project_id="p3", status="failed"),
        }
        out: dict[str, Any] = {"rows": rows, "listing": {}, "stats": {}}
        for name, flt in filters.items():
            out["listing"][name] = _timed(lambda f=flt: c.history.deliveries(f, None, 50), repeat)
        page = c.history.deliveries(HistoryFilter(), None, 50)
        out["listing"]["page 2"] = _timed(
            lambda: c.history.deliveries(HistoryFilter(), page[-1].id, 50), repeat
        )
        for name in ("none", "project", "last 24 h"):
            out["stats"][name] = _timed(
                lambda f=filters[name]: c.history.stats(f), max(3, repeat // 4)
            )
        p95s = [v["p95_ms"] for v in [*out["listing"].values(), *out["stats"].values()]]
        out["worst_p95_ms"] = max(p95s)
        say(f"  {kind}: history worst p95 {out['worst_p95_ms']:.1f} ms; pruning past 90 days")
        out["retention"] = _retention(c)
    finally:
        c.close()
        drop_store(url)
    return out


def _retention(c: Container) -> dict[str, Any]:
    """Prune with the default policy (90 days; here about a tenth of the rows) while another
    thread runs a delivery-sized write transaction every 10 ms; its p99 against the same
    writer with no pruning."""
    target = c.history.deliveries(HistoryFilter(), None, 1)[0].id

    def writes(stop: threading.Event, out: list[float]) -> None:
        while not stop.is_set():
            started = time.perf_counter()
            with c.db.transaction() as uow:
                uow.execute(
                    deliveries.update()
                    .where(deliveries.c.id == target)
                    .values(updated_at=dt.datetime.now(dt.UTC))
                )
            out.append((time.perf_counter() - started) * 1000)
            time.sleep(0.01)

    def measured(seconds: float | None, work: Any = None) -> tuple[list[float], float]:
        stop, samples = threading.Event(), list[float]()
        writer = threading.Thread(target=writes, args=(stop, samples))
        writer.start()
        started = time.perf_counter()
        if work is not None:
            work()
        else:
            time.sleep(seconds or 0)
        took = time.perf_counter() - started
        stop.set()
        writer.join()
        return samples, took

    quiet, _ = measured(2.0)
    pruner = HistoryPruner(c.db, SystemClock(), RetentionSettings(pause=0.02))
    deleted: list[int] = []
    busy, took = measured(None, lambda: deleted.append(pruner.prune()))
    q, b = quantiles(quiet), quantiles(busy)
    return {
        "deleted": deleted[0],
        "seconds": round(took, 2),
        "per_second": round(deleted[0] / took, 1) if took else None,
        "writer_without_pruning": q,
        "writer_while_pruning": b,
        "writer_p99_ratio": round(b["p99_ms"] / q["p99_ms"], 2),
    }


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def memory(kind: str, workdir: Path, pending: int, seconds: float) -> dict[str, Any]:
    """Peak RSS of one `herald worker` process while `pending` deliveries wait (test-kind rows
    that carry their own 1 KB payload, so no tasks need creating), against the same worker idle."""
    url = fresh_store(kind, workdir)
    c = container_for(url)
    receiver = Receiver()
    try:
        project_id, _ = new_project(c)
        channel = subscribe(c, project_id, [custom(receiver.url)], ["task_stopped"]).channels[0]
        idle = _sample_worker(url, 3.0)
        _pending_rows(c, project_id, channel, pending)
        busy = _sample_worker(url, seconds)
    finally:
        receiver.close()
        c.close()
        drop_store(url)
    return {
        "pending": pending,
        "idle_rss_mb": round(idle, 1),
        "peak_rss_mb": round(busy, 1),
        "ratio": round(busy / idle, 2),
    }


def _sample_worker(url: str, seconds: float) -> float:
    worker = WorkerRun(None, url, 1)
    worker.start_processes()
    try:
        peak = 0.0
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            peak = max(peak, _rss_mb(worker.procs[0].pid))
            time.sleep(0.1)
        return peak
    finally:
        worker.stop()


def _pending_rows(c: Container, project_id: str, channel: Any, n: int) -> None:
    now = dt.datetime.now(dt.UTC)
    sample = {"payload": {"event_type": "task_stopped", "padding": "x" * 900}, "context": {}}
    rows = [
        {
            "id": f"{i:036d}",
            "kind": "test",
            "config_id": channel.config_id,
            "channel_id": channel.id,
            "project_id": project_id,
            "event_type": "task_stopped",
            "channel_type": "custom",
            "target_key": channel.target_key,
            "status": "pending",
            "attempts": 0,
            "max_attempts": 1,
            "trigger": "test",
            "next_attempt_at": now,
            "payload": sample,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(n)
    ]
    for start in range(0, n, 10_000):
        with c.db.transaction() as uow:
            uow.execute(deliveries.insert(), rows[start : start + 10_000])
