"""The Markdown report of one run: every Herald figure beside its reference and its target."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.common import ROOT, median


def machine() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": sys.version.split()[0],
        "system": platform.platform(),
        "commit": git("rev-parse", "--short", "HEAD")
        + ("+dirty" if git("status", "--porcelain", "--", "src", "bench") else ""),
    }


def _ok(met: bool | None) -> str:
    return "n/a" if met is None else ("**met**" if met else "**missed**")


def _per_second(runs: list[Any]) -> float | None:
    values = [r["per_second"] for r in runs if isinstance(r, dict) and "per_second" in r]
    return median(values) if values else None


def _q(runs: list[Any], key: str) -> float | None:
    values = [r[key] for r in runs if isinstance(r, dict) and key in r]
    return median(values) if values else None


def _f(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def markdown(r: dict[str, Any], raw: str) -> str:
    m = r["machine"]
    lines = [
        f"## Run of {r['started']} ({r['mode']})",
        "",
        f"Commit `{m['commit']}`, {m['cpus']} × {m['cpu']}, Python {m['python']}, {m['system']}. "
        f"Took {r.get('seconds', 0):.0f} s. Raw results: [{raw}]({raw}).",
        "",
    ]
    targets: list[tuple[str, str, bool | None]] = []
    if "delivery" in r:
        lines += _delivery(r["delivery"], targets)
    if "overhead" in r:
        lines += ["### Release overhead (transition duration, 10 configs × 4 channels vs none)", ""]
        lines += [
            "| store | none p50 / p99 ms | subscribed p50 / p99 ms | ratio p99 |",
            "|---|---|---|---|",
        ]
        for kind, o in r["overhead"].items():
            if "error" in o:
                lines.append(f"| {kind} | error: {o['error']} | | |")
                continue
            lines.append(
                f"| {kind} | {_f(o['none']['p50_ms'])} / {_f(o['none']['p99_ms'])} | "
                f"{_f(o['subscribed']['p50_ms'])} / {_f(o['subscribed']['p99_ms'])} | {o['ratio_p99']} |"
            )
            targets.append(
                (
                    f"release overhead ≤ 1.2× at p99 ({kind})",
                    str(o["ratio_p99"]),
                    o["ratio_p99"] <= 1.2,
                )
            )
        lines.append("")
    if "isolation" in r:
        iso = r["isolation"]
        none, hang = iso["runs"]["none"], iso["runs"]["hanging"]
        lines += [
            "### Isolation (healthy endpoints' commit → arrival, 1 of 10 targets hangs until its 1 s timeout)",
            "",
            f"SQLite, 20 events/s × 10 channels. p99 without a hanging target {_f(_q(none, 'p99_ms'))} ms, "
            f"with one {_f(_q(hang, 'p99_ms'))} ms (medians of {len(none)} runs each, interleaved): "
            f"ratio {iso['ratio_p99']}.",
            "",
        ]
        ratio = iso["ratio_p99"]
        targets.append(
            ("isolation ≤ 1.5× at p99", str(ratio), None if ratio is None else ratio <= 1.5)
        )
    if "burst" in r:
        b = r["burst"]["sqlite"]
        if "error" in b:
            lines += ["### Burst", "", f"error: {b['error']}", ""]
        else:
            lines += [
                "### Burst (DingTalk robots, published limit 20 per minute, real clock)",
                "",
                f"{b['completions']} completions into {b['robots']} robots ({b['deliveries']} deliveries): "
                f"{b['messages_sent']} messages sent, {b['rate_limit_answers']} rate-limit answers, "
                f"{b['other_errors']} other errors, {b['not_announced']} not announced; every event announced "
                f"after {b['seconds_until_all_announced']} s.",
                "",
            ]
            targets.append(
                (
                    "zero rate-limit answers in the burst",
                    str(b["rate_limit_answers"]),
                    b["rate_limit_answers"] == 0,
                )
            )
    if "history" in r:
        lines += _history(r["history"], targets)
    if "memory" in r:
        mem = r["memory"]["postgres"]
        lines += ["### Memory", ""]
        if "error" in mem:
            lines += [f"error: {mem['error']}", ""]
        else:
            lines += [
                f"One `herald worker` (PostgreSQL): idle {mem['idle_rss_mb']} MB RSS; peak {mem['peak_rss_mb']} MB "
                f"with {mem['pending']:,} deliveries pending ({mem['ratio']}× idle).",
                "",
            ]
            targets.append(
                (
                    f"RSS < 200 MB at {mem['pending']:,} pending",
                    f"{mem['peak_rss_mb']} MB",
                    mem["peak_rss_mb"] < 200,
                )
            )
    lines += ["### Targets", "", "| target | this run | |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {_ok(met)} |" for name, value, met in targets]
    return "\n".join(lines) + "\n"


def _delivery(d: dict[str, Any], targets: list[tuple[str, str, bool | None]]) -> list[str]:
    refs = d["references"]
    apprise = _per_second(refs["apprise"]["throughput"])
    celery = _per_second(refs["celery"]["throughput"])
    bare_all = _per_second(refs["bare"]["throughput"])
    lines = [
        "### Delivery throughput (flat out; medians)",
        "",
        f"References: bare aiohttp loop {_f(bare_all)} req/s, Apprise `json://` {_f(apprise)}/s "
        f"(8 threads), Celery + Redis + requests {_f(celery)}/s (4 prefork processes).",
        "",
        "| Herald | deliveries/s | bare loop (same run, A/B) | × bare | × Apprise | × Celery |",
        "|---|---|---|---|---|---|",
    ]
    for key, e in d["herald"].items():
        tp, bare = _per_second(e["throughput"]), _per_second(e["bare"])
        lines.append(
            f"| {key} | {_f(tp)} | {_f(bare)} | {_f(_ratio(tp, bare), 2)} | {_f(_ratio(tp, apprise), 2)} | {_f(_ratio(tp, celery), 2)} |"
        )
        if key == "sqlite-1w":
            targets.append(
                (
                    "SQLite ≥ 0.5× the bare loop",
                    _f(_ratio(tp, bare), 2),
                    None if tp is None or bare is None else tp / bare >= 0.5,
                )
            )
        if key == "postgres-2w":
            targets.append(
                (
                    "PostgreSQL, 2 workers ≥ 0.35× the bare loop",
                    _f(_ratio(tp, bare), 2),
                    None if tp is None or bare is None else tp / bare >= 0.35,
                )
            )
        if key in ("sqlite-1w", "postgres-2w"):
            for name, ref in (("Apprise", apprise), ("Celery", celery)):
                ratio = _ratio(tp, ref)
                targets.append(
                    (f"{key} ≥ 3× {name}", _f(ratio, 2), None if ratio is None else ratio >= 3)
                )
    lines += [
        "",
        "### Latency (commit or hand-over → arrival; p50 / p95 / p99 ms, medians of runs)",
        "",
        "| sender | " + " | ".join(f"{rate} /s" for rate in refs["bare"]["latency"]) + " |",
        "|---|" + "---|" * len(refs["bare"]["latency"]),
    ]

    def cell(runs: Any) -> str:
        runs = runs if isinstance(runs, list) else [runs]
        if not any("p99_ms" in x for x in runs):
            return "error"
        return f"{_f(_q(runs, 'p50_ms'))} / {_f(_q(runs, 'p95_ms'))} / {_f(_q(runs, 'p99_ms'))} (at {_f(_q(runs, 'achieved_rate'), 0)}/s)"

    for name in ("bare", "apprise", "celery"):
        lat = refs[name]["latency"]
        lines.append(
            f"| {name} | "
            + " | ".join(cell(lat[k]) if k in lat else "not run" for k in refs["bare"]["latency"])
            + " |"
        )
    for key, e in d["herald"].items():
        lines.append(
            f"| Herald {key} | "
            + " | ".join(cell(e["latency"].get(k, [])) for k in refs["bare"]["latency"])
            + " |"
        )
        runs = e["latency"].get("200.0", [])
        if len(runs) > 1:
            p99s = [x["p99_ms"] for x in runs if "p99_ms" in x]
            under = sum(1 for p in p99s if p < 100)
            targets.append(
                (
                    f"p99 < 100 ms at 200 events/s, {key}",
                    f"{under} of {len(runs)} runs ({', '.join(f'{p:.0f}' for p in p99s)} ms)",
                    under == len(runs),
                )
            )
    return [*lines, ""]


def _history(h: dict[str, Any], targets: list[tuple[str, str, bool | None]]) -> list[str]:
    lines = ["### History at scale (p95 ms of each query; listing = 50 newest matching)", ""]
    kinds = [k for k in h if "error" not in h[k]]
    for k in h:
        if "error" in h[k]:
            lines.append(f"{k}: error: {h[k]['error']}")
    if not kinds:
        return [*lines, ""]
    lines += [
        "| query | " + " | ".join(f"{k} ({h[k]['rows']:,} rows)" for k in kinds) + " |",
        "|---|" + "---|" * len(kinds),
    ]
    names = list(h[kinds[0]]["listing"])
    for name in names:
        lines.append(
            f"| listing: {name} | "
            + " | ".join(_f(h[k]["listing"][name]["p95_ms"]) for k in kinds)
            + " |"
        )
    for name in h[kinds[0]]["stats"]:
        lines.append(
            f"| stats: {name} | "
            + " | ".join(_f(h[k]["stats"][name]["p95_ms"]) for k in kinds)
            + " |"
        )
    lines += [
        "",
        "Retention (default policy, 90 days: deletes the oldest tenth) while a writer commits a delivery update every 10 ms:",
        "",
    ]
    lines += [
        "| store | deleted | seconds | rows/s | writer p99 without / while pruning ms | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for k in kinds:
        ret = h[k]["retention"]
        lines.append(
            f"| {k} | {ret['deleted']:,} | {ret['seconds']} | {_f(ret['per_second'], 0)} | "
            f"{_f(ret['writer_without_pruning']['p99_ms'])} / {_f(ret['writer_while_pruning']['p99_ms'])} "
            f"(max {_f(ret['writer_while_pruning'].get('max_ms'))}) | {ret['writer_p99_ratio']} |"
        )
    if "postgres" in kinds:
        worst = h["postgres"]["worst_p95_ms"]
        targets.append(
            (
                f"history p95 < 50 ms at {h['postgres']['rows']:,} rows (PostgreSQL, worst query)",
                f"{worst:.1f} ms",
                worst < 50,
            )
        )
    return [*lines, ""]
