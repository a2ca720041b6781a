"""What users notice besides speed: does notifying slow a release down (release overhead), does
one dead endpoint delay the others (isolation), and what a burst of completions does to robots
with a 20-per-minute limit (burst)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.common import (
    Receiver,
    WorkerRun,
    bulk_events,
    container_for,
    create_tasks,
    custom,
    drop_store,
    fresh_store,
    new_project,
    quantiles,
    subscribe,
)
from herald.fakeplatforms.records import Platform
from herald.fakeplatforms.testing import FakePlatformsThread
from herald.store.tables import deliveries, events

EVENTS = ["task_stopped"]


def release_overhead(
    kind: str, workdir: Path, transitions: int, rate: float = 10.0
) -> dict[str, Any]:
    """A transition's duration (`stop`, committed) in a project with 10 configs x 4 channels
    against one with none, interleaved one by one, with the worker delivering meanwhile."""
    url = fresh_store(kind, workdir)
    c = container_for(url)
    receiver = Receiver()
    worker = WorkerRun(c, url)
    durations: dict[str, list[float]] = {"none": [], "subscribed": []}
    note = ""
    try:
        bare_project, bare_version = new_project(c)
        busy_project, busy_version = new_project(c)
        for i in range(10):
            channels = [custom(f"{receiver.url}/c{i}-{j}") for j in range(4)]
            subscribe(c, busy_project, channels, EVENTS)
        bare = create_tasks(c, bare_project, bare_version, transitions + 5)
        busy = create_tasks(c, busy_project, busy_version, transitions + 5)
        worker.start()
        begin = time.perf_counter()
        for i, (a, b) in enumerate(zip(bare, busy, strict=True)):
            for label, task_id in (("none", a), ("subscribed", b)):
                started = time.perf_counter()
                c.release.stop(task_id, "benchmark")
                if i >= 5:  # the first few warm the caches
                    durations[label].append((time.perf_counter() - started) * 1000)
            pause = begin + (i + 1) / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        try:  # the transitions are measured; a worker slower than 120 s is noted, not fatal
            receiver.wait_count(40 * len(busy), 120)
        except RuntimeError as exc:
            durations["drain"] = [float(receiver.count())]
            note = str(exc)
    finally:
        worker.stop()
        receiver.close()
        c.close()
        drop_store(url)
    none, subscribed = quantiles(durations["none"]), quantiles(durations["subscribed"])
    return {
        "transitions": transitions,
        "none": none,
        "subscribed": subscribed,
        "ratio_p50": round(subscribed["p50_ms"] / none["p50_ms"], 2),
        "ratio_p99": round(subscribed["p99_ms"] / none["p99_ms"], 2),
        "note": note,
    }


def isolation_run(
    kind: str, workdir: Path, hang: bool, rate: float, seconds: float
) -> dict[str, Any]:
    """Healthy endpoints' latency (commit → arrival) with 10 targets, one of which (10 %)
    hangs until the request timeout (1 s) when `hang`, or is healthy too."""
    url = fresh_store(kind, workdir)
    c = container_for(url, per_target_concurrency=4)
    receiver = Receiver()
    worker = WorkerRun(c, url, per_target_concurrency=4)
    n = max(int(rate * seconds), 10)
    committed: dict[str, float] = {}
    try:
        project_id, version_id = new_project(c)
        last = f"{receiver.base}/hang/dead" if hang else f"{receiver.url}/h9"
        channels = [custom(f"{receiver.url}/h{i}", timeout=1, retry_count=1) for i in range(9)]
        subscribe(c, project_id, [*channels, custom(last, timeout=1, retry_count=1)], EVENTS)
        task_ids = create_tasks(c, project_id, version_id, n)
        worker.start()
        begin = time.perf_counter()
        for i, task_id in enumerate(task_ids):
            pause = begin + i / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            c.release.stop(task_id, "benchmark")
            committed[task_id] = time.time()
        receiver.wait_count(n * (9 if hang else 10), 120)
    finally:
        worker.stop()
        arrivals = receiver.close()
    with c.db.read() as conn:
        rows = conn.execute(
            sa.select(deliveries.c.id, deliveries.c.task_id, deliveries.c.channel_id)
        ).all()
    c.close()
    drop_store(url)
    lat = [
        (arrivals[r.id] - committed[r.task_id]) * 1000
        for r in rows
        if r.id in arrivals and r.task_id in committed
    ]
    return {"hanging_targets": 1 if hang else 0, "events": n, **quantiles(lat)}


def burst(kind: str, workdir: Path, completions: int, robots: int = 5) -> dict[str, Any]:
    """`completions` events into `robots` fake DingTalk robots with the published limit (20 per
    minute, on the real clock): rate-limit answers, messages sent, time until all announced."""
    url = fresh_store(kind, workdir)
    c = container_for(url)
    worker = WorkerRun(c, url)
    try:
        with FakePlatformsThread() as fake:
            project_id, version_id = new_project(c)
            for i in range(robots):
                fake.add_dingtalk_robot(f"robot{i}", secret=f"SECbench{i}")
                channel = {
                    "type": "dingtalk",
                    "config": {
                        "webhook_url": fake.dingtalk_url(f"robot{i}"),
                        "sign_secret": f"SECbench{i}",
                    },
                }
                subscribe(c, project_id, [channel], EVENTS)
            bulk_events(c, create_tasks(c, project_id, version_id, completions))
            started = time.perf_counter()
            worker.start()
            deadline = started + 300
            while _pending(c) and time.perf_counter() < deadline:
                time.sleep(0.05)
            took = time.perf_counter() - started
            left = _pending(c)
            received = fake.received(Platform.DINGTALK)
    finally:
        worker.stop()
        c.close()
        drop_store(url)
    return {
        "completions": completions,
        "robots": robots,
        "deliveries": completions * robots,
        "messages_sent": len(received),
        "rate_limit_answers": sum(1 for r in received if r.code == 130101),
        "other_errors": sum(1 for r in received if r.code not in (0, 130101)),
        "not_announced": left,
        "seconds_until_all_announced": round(took, 2),
    }


def _pending(c: Any) -> int:
    """Events not yet fanned out plus deliveries not yet finished."""
    with c.db.read() as conn:
        unfanned = sa.select(sa.func.count()).where(events.c.fanned_out_at.is_(None))
        waiting = sa.select(sa.func.count()).where(deliveries.c.status == "pending")
        return int(conn.execute(unfanned).scalar_one()) + int(conn.execute(waiting).scalar_one())
