"""`herald release start|step|promote|report|finish` and `herald notify`: announce a release
from any pipeline through Herald's HTTP API. No database, no server install: only HERALD_URL
and HERALD_TOKEN (flags override). Plain click, so the command starts fast."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from herald.cli.ci_env import RUN_ID_SOURCES, context_from, run_id_from
from herald.cli.release_client import (
    EVENTS_PATH,
    EXIT_USAGE,
    TASKS_PATH,
    ClientError,
    HeraldClient,
)

F = TypeVar("F", bound=Callable[..., Any])
STRATEGIES = ("canary", "rolling", "blue_green")
EVENTS = (
    "canary_started",
    "canary_step",
    "canary_completed",
    "full_completed",
    "rollout_started",
    "rollback_started",
    "rollback_completed",
    "task_failed",
    "task_stopped",
)
AUTO = "auto"  # `--wait` without a state: the command's own target

EXIT_CODES = """\b
Exit codes:
  0  done (and, with --wait, the task reached the state)
  2  bad flags, or Herald refused the request (4xx: the message says why)
  3  while waiting, the task failed, was stopped or rolled back
  4  the wait timed out (--timeout)
  5  Herald unreachable, or 5xx, after the retries (--retries)"""

HELP = f"""Announce a release that your pipeline runs, step by step.

\b
Configure with HERALD_URL and HERALD_TOKEN (or --url/--token). The run id comes from
--run-id, HERALD_RUN_ID or the CI's variables ({", ".join(s.split(" (")[0] for s, _ in RUN_ID_SOURCES)});
every call's Idempotency-Key derives from (run id, command, step), so repeating a call, or
a retried request, changes nothing.

{EXIT_CODES}
"""


def _common(f: F) -> F:
    options = [
        click.option(
            "--url", envvar="HERALD_URL", required=True, help="Herald's base URL [HERALD_URL]"
        ),
        click.option(
            "--token", envvar="HERALD_TOKEN", required=True, help="API token [HERALD_TOKEN]"
        ),
        click.option("--project", envvar="HERALD_PROJECT", required=True, help="project name"),
        click.option("--version", "version_name", required=True, help="version name, e.g. v1.4.2"),
        click.option("--environment", default="production", show_default=True),
        click.option(
            "--type",
            "task_type",
            type=click.Choice(["deploy", "rollback"]),
            default="deploy",
            show_default=True,
        ),
        click.option(
            "--strategy", type=click.Choice(STRATEGIES), default="rolling", show_default=True
        ),
        click.option("--run-id", help="the pipeline run (default: from the CI's variables)"),
        click.option("--operator", help="who releases (default: the CI's user)"),
        click.option("--commit", help="commit SHA (default: the CI's)"),
        click.option("--ref", help="branch or tag (default: the CI's)"),
        click.option("--pipeline-url", help="link to the pipeline run (default: the CI's)"),
        click.option("--link", multiple=True, metavar="TITLE=URL", help="a link (repeatable)"),
        click.option(
            "--changelog-file",
            type=click.Path(dir_okay=False, allow_dash=True),
            help="changelog text ('-' = stdin)",
        ),
        click.option("--label", multiple=True, metavar="KEY=VALUE", help="a label (repeatable)"),
        click.option(
            "--wait",
            is_flag=False,
            flag_value=AUTO,
            default=None,
            metavar="[STATE]",
            help="block until the task reaches STATE (default: the command's own)",
        ),
        click.option(
            "--timeout",
            type=float,
            default=600.0,
            show_default=True,
            help="seconds --wait may block",
        ),
        click.option(
            "--interval",
            type=float,
            default=2.0,
            show_default=True,
            help="seconds between polls while waiting",
        ),
        click.option(
            "--retries",
            type=click.IntRange(0, 20),
            default=4,
            show_default=True,
            help="retries on network errors and 5xx",
        ),
        click.option("--backoff", type=float, default=0.5, hidden=True),
        click.option(
            "--json", "as_json", is_flag=True, help="print Herald's answer as JSON on stdout"
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@dataclass
class Call:
    """The options every command shares, resolved."""

    client: HeraldClient
    base: dict[str, Any]
    run_id: str
    wait: str | None
    timeout: float
    interval: float
    as_json: bool


def _pairs(values: tuple[str, ...], what: str) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        left, sep, right = value.partition("=")
        if not sep or not left.strip() or not right.strip():
            raise click.BadParameter(f"{value!r} is not {what}")
        pairs.append((left.strip(), right.strip()))
    return pairs


def _context(o: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = context_from(os.environ)
    for name in ("operator", "commit", "ref", "pipeline_url"):
        if o[name]:
            found[name] = o[name]
    links = _pairs(o["link"], "TITLE=URL")
    if links:
        found["links"] = [{"title": t, "url": u} for t, u in links]
    if o["changelog_file"]:
        with click.open_file(o["changelog_file"], encoding="utf-8") as stream:
            found["changelog"] = stream.read().strip()
    labels = _pairs(o["label"], "KEY=VALUE")
    if labels:
        found["labels"] = dict(labels)
    return found


def _resolve(o: dict[str, Any]) -> Call:
    run_id = o["run_id"] or run_id_from(os.environ)
    if not run_id:
        raise click.UsageError(
            "no run id: pass --run-id (or HERALD_RUN_ID), or run inside a CI system"
        )
    client = HeraldClient(o["url"], o["token"], retries=o["retries"], backoff=o["backoff"])
    base = {
        "project": o["project"],
        "version": o["version_name"],
        "environment": o["environment"],
        "type": o["task_type"],
        "strategy": o["strategy"],
        "run_id": run_id,
    }
    context = _context(o)
    if context:
        base["context"] = context
    return Call(client, base, run_id, o["wait"], o["timeout"], o["interval"], o["as_json"])


def _hosts(text: str | None) -> list[str]:
    return [h.strip() for h in (text or "").split(",") if h.strip()]


def _send(call: Call, event: str, key: str, **extra: Any) -> dict[str, Any]:
    body = {
        **call.base,
        "event": event,
        **{k: v for k, v in extra.items() if v not in (None, [], {})},
    }
    answer: dict[str, Any] = call.client.call("POST", EVENTS_PATH, body, key=f"{call.run_id}:{key}")
    return answer


def _find_task(call: Call) -> str:
    query = {"project": call.base["project"], "run_id": call.run_id}
    found = call.client.call("GET", TASKS_PATH, query=query)
    items = found.get("items", []) if isinstance(found, dict) else []
    if not items:
        raise ClientError(
            EXIT_USAGE,
            f"no task of {call.base['project']} has run id {call.run_id}: run `herald release start` first",
        )
    return str(items[0]["id"])


def _finish(
    call: Call, what: str, answer: dict[str, Any], task_id: str, default_wait: set[str]
) -> None:
    """Wait if asked, then print the summary line (stderr) and the JSON answer (stdout)."""
    if call.wait:
        wanted = default_wait if call.wait == AUTO else set(call.wait.split(","))
        answer = {**answer, "task": call.client.wait(task_id, wanted, call.timeout, call.interval)}
        what += f"; task is {answer['task']['status']}"
    b = call.base
    click.echo(
        f"herald: {b['project']} {b['version']} ({b['environment']}): {what} · task {task_id}",
        err=True,
    )
    if call.as_json:
        click.echo(json.dumps(answer, ensure_ascii=False))


def _event_done(call: Call, answer: dict[str, Any], default_wait: set[str]) -> None:
    state = "already recorded" if answer.get("duplicate") else "recorded"
    _finish(
        call,
        f"{answer.get('event_type')} {state}",
        answer,
        str(answer.get("task_id")),
        default_wait,
    )


def _run(body: Callable[[], None]) -> None:
    try:
        body()
    except ClientError as exc:
        click.echo(f"herald: {exc.message}", err=True)
        if exc.answer is not None and click.get_current_context().params.get("as_json"):
            click.echo(json.dumps(exc.answer, ensure_ascii=False))
        sys.exit(exc.code)


STARTED = {"running", "awaiting_promotion", "success"}


@click.group(help=HELP, epilog=None)
def release() -> None:
    pass


@release.command(epilog=EXIT_CODES)
@_common
@click.option("--hosts", help="comma-separated hosts being released")
@click.option("--total", type=click.IntRange(0), help="number of hosts (instead of --hosts)")
@click.option("--canary", type=click.IntRange(0), help="hosts in the canary")
def start(hosts: str | None, total: int | None, canary: int | None, **o: Any) -> None:
    """Announce the start: canary_started, rollout_started or rollback_started."""

    def go() -> None:
        call = _resolve(o)
        event = (
            "rollback_started"
            if o["task_type"] == "rollback"
            else ("canary_started" if o["strategy"] == "canary" else "rollout_started")
        )
        listed = _hosts(hosts)
        progress = {
            k: v
            for k, v in {
                "total": total if total is not None else len(listed) or None,
                "canary": canary,
            }.items()
            if v is not None
        }
        _event_done(call, _send(call, event, "start", hosts=listed, progress=progress), STARTED)

    _run(go)


@release.command(epilog=EXIT_CODES)
@_common
@click.option("--index", type=click.IntRange(1), required=True, help="this step, from 1")
@click.option("--steps", type=click.IntRange(1), required=True, help="number of steps")
@click.option("--weight", type=click.IntRange(0, 100), help="traffic percent at this step")
def step(index: int, steps: int, weight: int | None, **o: Any) -> None:
    """Announce one step of a multi-step canary (canary_step)."""

    def go() -> None:
        call = _resolve(o)
        info = {"index": index, "total": steps} | ({"weight": weight} if weight is not None else {})
        _event_done(call, _send(call, "canary_step", f"step:{index}", step=info), STARTED)

    _run(go)


@release.command(epilog=EXIT_CODES)
@_common
@click.option(
    "--now",
    is_flag=True,
    help="promote at once (the pipeline decides) instead of leaving it to people in Herald",
)
def promote(now: bool, **o: Any) -> None:
    """Announce the canary done (canary_completed); with --wait, block until someone promotes
    the task in Herald; with --now, promote it yourself."""

    def go() -> None:
        call = _resolve(o)
        answer = _send(call, "canary_completed", "canary-completed")
        task_id = str(answer.get("task_id"))
        if now:
            task = call.client.call("GET", f"{TASKS_PATH}/{task_id}")
            if task.get("status") == "awaiting_promotion":
                call.client.call(
                    "POST", f"{TASKS_PATH}/{task_id}/promote", key=f"{call.run_id}:promote"
                )
        _event_done(call, answer, {"running", "success"})

    _run(go)


@release.command(epilog=EXIT_CODES)
@_common
@click.option("--success", "succeeded", help="comma-separated hosts that succeeded")
@click.option("--failed", help="comma-separated hosts that failed")
@click.option("--task", "task_id", help="the task id (default: found by project and run id)")
def report(succeeded: str | None, failed: str | None, task_id: str | None, **o: Any) -> None:
    """Report host results to the task (no event of its own; counts show in Herald)."""

    def go() -> None:
        call = _resolve(o)
        results = [{"host": h, "status": "success"} for h in _hosts(succeeded)]
        results += [{"host": h, "status": "failed"} for h in _hosts(failed)]
        if not results:
            raise click.UsageError("nothing to report: pass --success and/or --failed hosts")
        found = task_id or _find_task(call)
        digest = hashlib.sha256(
            json.dumps(sorted(r["host"] + r["status"] for r in results)).encode()
        ).hexdigest()[:16]
        answer = call.client.call(
            "POST",
            f"{TASKS_PATH}/{found}/report",
            {"results": results},
            key=f"{call.run_id}:report:{digest}",
        )
        _finish(
            call, f"{len(results)} host result(s) reported", {"task": answer}, found, {"success"}
        )

    _run(go)


@release.command(epilog=EXIT_CODES)
@_common
@click.option(
    "--status",
    type=click.Choice(["success", "failed", "stopped"]),
    default="success",
    show_default=True,
)
@click.option("--reason", help="why it failed or stopped")
@click.option("--failed-hosts", help="comma-separated hosts that failed")
@click.option("--total", type=click.IntRange(0), help="hosts released")
def finish(
    status: str, reason: str | None, failed_hosts: str | None, total: int | None, **o: Any
) -> None:
    """Announce the end: full_completed / rollback_completed, task_failed or task_stopped."""

    def go() -> None:
        call = _resolve(o)
        if status == "success":
            event = "rollback_completed" if o["task_type"] == "rollback" else "full_completed"
        else:
            event = "task_failed" if status == "failed" else "task_stopped"
        failed = _hosts(failed_hosts)
        progress = (
            {"total": total, "completed": total - len(failed), "failed": len(failed)}
            if total is not None
            else None
        )
        answer = _send(call, event, "finish", reason=reason, failed_hosts=failed, progress=progress)
        _event_done(call, answer, {"success", "failed", "stopped"})

    _run(go)


@click.command(
    help=f"One event for a release Herald did not run (e.g. a deploy already done).\n\n{EXIT_CODES}"
)
@_common
@click.option("--event", type=click.Choice(EVENTS), default="full_completed", show_default=True)
@click.option("--step-index", type=click.IntRange(1), help="canary_step: this step")
@click.option("--step-total", type=click.IntRange(1), help="canary_step: number of steps")
@click.option("--weight", type=click.IntRange(0, 100), help="canary_step: traffic percent")
@click.option("--reason", help="why it failed or stopped")
@click.option("--hosts", help="comma-separated hosts")
@click.option("--failed-hosts", help="comma-separated hosts that failed")
def notify(
    event: str,
    step_index: int | None,
    step_total: int | None,
    weight: int | None,
    reason: str | None,
    hosts: str | None,
    failed_hosts: str | None,
    **o: Any,
) -> None:
    def go() -> None:
        call = _resolve(o)
        info = None
        if event == "canary_step":
            if not (step_index and step_total):
                raise click.UsageError("canary_step needs --step-index and --step-total")
            info = {"index": step_index, "total": step_total} | (
                {"weight": weight} if weight is not None else {}
            )
        key = f"notify:{event}:{step_index or 0}"
        answer = _send(
            call,
            event,
            key,
            step=info,
            reason=reason,
            hosts=_hosts(hosts),
            failed_hosts=_hosts(failed_hosts),
        )
        _event_done(call, answer, {"success", "failed", "stopped"})

    _run(go)


def client_main(argv: list[str] | None = None) -> None:
    """`herald release …` / `herald notify …` without loading the server."""
    group = click.Group("herald", commands={"release": release, "notify": notify})
    group.main(args=argv, prog_name="herald")
