"""`python -m bench [--quick] [--only W,...] [--out DIR]`: every workload of docs/benchmarks.md,
each Herald figure divided by a reference measured in the same run (interleaved A/B/A/B).

Writes the raw results as JSON (docs/bench/<UTC time>.json) and appends a Markdown report to
docs/benchmarks.md; `--quick` (the smoke check `make test` runs) writes both under `--out`
(default: a temporary directory), never into docs/.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import tempfile
import traceback
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from bench import herald_runs, peers, scale, scenarios
from bench.common import ROOT, median, say
from bench.plan import FULL, QUICK, Plan
from bench.report import machine, markdown

CELERY_MAX_RATE = 200.0
WORKLOADS = ("delivery", "overhead", "isolation", "burst", "history", "memory")


def guarded(name: str, fn: Callable[[], Any]) -> Any:
    """Run one measurement; a failure is recorded in the report instead of ending the run."""
    try:
        return fn()
    except Exception as exc:
        say(f"  {name} FAILED: {exc}")
        traceback.print_exc()
        return {"error": f"{type(exc).__name__}: {exc}"}


def delivery(plan: Plan, workdir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"references": {}, "herald": {}}
    refs = out["references"]
    n = plan.throughput_events
    for name, fn, size in (
        ("bare", peers.bare_throughput, n),
        ("apprise", peers.apprise_throughput, plan.peer_requests),
        ("celery", peers.celery_throughput, plan.peer_requests),
    ):
        flat: list[Any] = []
        for i in range(plan.throughput_repeats):
            say(f"reference {name}: flat out, run {i + 1}")
            flat.append(guarded(name, partial(fn, size)))
        refs[name] = {"throughput": flat, "latency": {}}
        for rate in plan.rates:
            if name == "celery" and rate > CELERY_MAX_RATE:
                continue  # it cannot take that rate here: the queue would only grow
            say(f"reference {name}: {rate:.0f}/s")
            lat = {
                "bare": peers.bare_latency,
                "apprise": peers.apprise_latency,
                "celery": peers.celery_latency,
            }[name]
            refs[name]["latency"][str(rate)] = guarded(
                name, partial(lat, rate, plan.rate_seconds[rate])
            )
    for kind, workers in plan.stores:
        key = f"{kind}-{workers}w"
        entry: dict[str, Any] = {"throughput": [], "bare": [], "latency": {}}
        for i in range(plan.throughput_repeats):
            # A/B/A/B: the bare loop right before each Herald run.
            say(f"{key}: bare loop, run {i + 1}")
            entry["bare"].append(guarded("bare", lambda: peers.bare_throughput(n)))
            say(f"{key}: Herald flat out, run {i + 1} ({n:,} deliveries)")
            entry["throughput"].append(
                guarded(key, partial(herald_runs.throughput, kind, workdir, n, workers))
            )
        for rate in plan.rates:
            runs = plan.p99_runs if rate == 200.0 and workers == 1 else 1
            entry["latency"][str(rate)] = []
            for i in range(runs):
                say(f"{key}: Herald at {rate:.0f} events/s, run {i + 1}/{runs}")
                entry["latency"][str(rate)].append(
                    guarded(
                        key,
                        partial(
                            herald_runs.latency,
                            kind,
                            workdir,
                            rate,
                            plan.rate_seconds[rate],
                            workers,
                        ),
                    )
                )
        out["herald"][key] = entry
    return out


def overhead(plan: Plan, workdir: Path) -> dict[str, Any]:
    out = {}
    for kind in plan.overhead_stores:
        say(f"release overhead on {kind}: {plan.overhead_transitions} transitions each side")
        out[kind] = guarded(
            kind, partial(scenarios.release_overhead, kind, workdir, plan.overhead_transitions)
        )
    return out


def isolation(plan: Plan, workdir: Path) -> dict[str, Any]:
    runs: dict[str, list[Any]] = {"none": [], "hanging": []}
    for i in range(plan.isolation_repeats):
        for hang in (False, True):
            label = "hanging" if hang else "none"
            say(f"isolation ({label}), run {i + 1}")
            runs[label].append(
                guarded(
                    label,
                    partial(
                        scenarios.isolation_run,
                        "sqlite",
                        workdir,
                        hang,
                        20.0,
                        plan.isolation_seconds,
                    ),
                )
            )
    ok = [r for r in runs["none"] if "p99_ms" in r], [r for r in runs["hanging"] if "p99_ms" in r]
    ratio = (
        round(median([r["p99_ms"] for r in ok[1]]) / median([r["p99_ms"] for r in ok[0]]), 2)
        if ok[0] and ok[1]
        else None
    )
    return {"store": "sqlite", "runs": runs, "ratio_p99": ratio}


def burst(plan: Plan, workdir: Path) -> dict[str, Any]:
    say(f"burst: {plan.burst_completions} completions into 5 DingTalk robots (20/min, real clock)")
    return {
        "sqlite": guarded(
            "burst", lambda: scenarios.burst("sqlite", workdir, plan.burst_completions)
        )
    }


def history(plan: Plan, workdir: Path) -> dict[str, Any]:
    out = {}
    for kind in ("postgres", "sqlite"):
        say(f"history at scale on {kind}: {plan.history_rows:,} attempt rows")
        out[kind] = guarded(
            kind,
            partial(scale.history_at_scale, kind, workdir, plan.history_rows, plan.history_repeat),
        )
    return out


def memory(plan: Plan, workdir: Path) -> dict[str, Any]:
    say(f"memory: a worker with {plan.pending:,} pending deliveries (PostgreSQL)")
    return {
        "postgres": guarded(
            "memory", lambda: scale.memory("postgres", workdir, plan.pending, plan.memory_seconds)
        )
    }


def _overridden(plan: Plan, args: argparse.Namespace) -> Plan:
    """The plan with the sizes given on the command line (a partial run says so in its JSON)."""
    changes: dict[str, Any] = {}
    if args.stores:
        changes["stores"] = tuple(
            (s.split("-")[0], int(s.split("-")[1].rstrip("w"))) for s in args.stores.split(",")
        )
    for name in ("events", "peer_requests", "p99_runs", "history_rows"):
        value = getattr(args, name)
        if value is not None:
            changes["throughput_events" if name == "events" else name] = value
    return dataclasses.replace(plan, **changes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke check: tiny sizes, seconds")
    parser.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated workloads")
    parser.add_argument("--out", type=Path, help="where the report goes (default: docs/)")
    parser.add_argument("--stores", help="e.g. sqlite-1w,postgres-2w (default: all four)")
    parser.add_argument("--events", type=int, help="deliveries per flat-out Herald run")
    parser.add_argument("--peer-requests", type=int, help="requests per flat-out peer run")
    parser.add_argument("--p99-runs", type=int, help="runs at 200 events/s per 1-worker store")
    parser.add_argument("--history-rows", type=int, help="attempt rows for history at scale")
    parser.add_argument("--render", type=Path, help="only print the report of a saved JSON")
    args = parser.parse_args()
    if args.render:
        print(markdown(json.loads(args.render.read_text()), args.render.name))
        return
    plan = QUICK if args.quick else FULL
    plan = _overridden(plan, args)
    out: Path = args.out or (
        Path(tempfile.mkdtemp(prefix="herald-bench-")) if args.quick else ROOT / "docs"
    )
    workdir = Path(tempfile.mkdtemp(prefix="herald-bench-db-"))
    started = dt.datetime.now(dt.UTC)
    results: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "started": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "plan": dataclasses.asdict(plan),
    }
    steps = {
        "delivery": delivery,
        "overhead": overhead,
        "isolation": isolation,
        "burst": burst,
        "history": history,
        "memory": memory,
    }
    chosen = [w.strip() for w in args.only.split(",") if w.strip()]
    unknown = sorted(set(chosen) - set(steps))
    if unknown:
        parser.error(
            f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}"
        )
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    (out / "bench").mkdir(parents=True, exist_ok=True)
    raw = out / "bench" / f"{stamp}-{results['mode']}.json"
    for name in chosen:
        say(f"== {name}")
        results[name] = steps[name](plan, workdir)
        results["seconds"] = round((dt.datetime.now(dt.UTC) - started).total_seconds(), 1)
        # Saved after every workload: an interrupted run keeps what it measured (`--render`).
        raw.write_text(json.dumps(results, indent=1, default=str) + "\n")
    report = markdown(results, raw.relative_to(out).as_posix())
    with (out / "benchmarks.md").open("a") as fh:
        fh.write("\n" + report)
    print(report)
    say(f"done in {results['seconds']:.0f}s: {raw} and {out / 'benchmarks.md'}")


if __name__ == "__main__":
    main()
