"""`herald release start|step|promote|report|finish` and `herald notify`: announce a release
from any pipeline through Herald's HTTP API. No database, no server install: only HERALD_URL
and HERALD_TOKEN (flags override). Plain click, so the command starts fast."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import click

from herald.cli.release_client import TASKS_PATH, ClientError
from herald.cli.release_options import (
    EVENTS,
    EXIT_CODES,
    HELP,
    common,
    event_done,
    find_task,
    finish_call,
    hosts_of,
    resolve,
    run,
    send,
)

STARTED = {"running", "awaiting_promotion", "success"}


@click.group(help=HELP, epilog=None)
def release() -> None:
    pass


@release.command(epilog=EXIT_CODES)
@common
@click.option("--hosts", help="comma-separated hosts being released")
@click.option("--total", type=click.IntRange(0), help="number of hosts (instead of --hosts)")
@click.option("--canary", type=click.IntRange(0), help="hosts in the canary")
def start(hosts: str | None, total: int | None, canary: int | None, **o: Any) -> None:
    """Announce the start: canary_started, rollout_started or rollback_started."""

    def go() -> None:
        call = resolve(o)
        event = (
            "rollback_started"
            if o["task_type"] == "rollback"
            else ("canary_started" if o["strategy"] == "canary" else "rollout_started")
        )
        listed = hosts_of(hosts)
        progress = {
            k: v
            for k, v in {
                "total": total if total is not None else len(listed) or None,
                "canary": canary,
            }.items()
            if v is not None
        }
        event_done(call, send(call, event, "start", hosts=listed, progress=progress), STARTED)

    run(go)


@release.command(epilog=EXIT_CODES)
@common
@click.option("--index", type=click.IntRange(1), required=True, help="this step, from 1")
@click.option("--steps", type=click.IntRange(1), required=True, help="number of steps")
@click.option("--weight", type=click.IntRange(0, 100), help="traffic percent at this step")
def step(index: int, steps: int, weight: int | None, **o: Any) -> None:
    """Announce one step of a multi-step canary (canary_step)."""

    def go() -> None:
        call = resolve(o)
        info = {"index": index, "total": steps} | ({"weight": weight} if weight is not None else {})
        event_done(call, send(call, "canary_step", f"step:{index}", step=info), STARTED)

    run(go)


@release.command(epilog=EXIT_CODES)
@common
@click.option(
    "--now",
    is_flag=True,
    help="promote at once (the pipeline decides) instead of leaving it to people in Herald",
)
def promote(now: bool, **o: Any) -> None:
    """Announce the canary done (canary_completed); with --wait, block until someone promotes
    the task in Herald; with --now, promote it yourself."""

    def go() -> None:
        call = resolve(o)
        answer = send(call, "canary_completed", "canary-completed")
        task_id = str(answer.get("task_id"))
        if now:
            task = call.client.call("GET", f"{TASKS_PATH}/{task_id}")
            if task.get("status") == "awaiting_promotion":
                call.client.call(
                    "POST", f"{TASKS_PATH}/{task_id}/promote", key=f"{call.run_id}:promote"
                )
        event_done(call, answer, {"running", "success"})

    run(go)


@release.command(epilog=EXIT_CODES)
@common
@click.option("--success", "succeeded", help="comma-separated hosts that succeeded")
@click.option("--failed", help="comma-separated hosts that failed")
@click.option("--task", "task_id", help="the task id (default: found by project and run id)")
def report(succeeded: str | None, failed: str | None, task_id: str | None, **o: Any) -> None:
    """Report host results to the task (no event of its own; counts show in Herald)."""

    def go() -> None:
        call = resolve(o)
        results = [{"host": h, "status": "success"} for h in hosts_of(succeeded)]
        results += [{"host": h, "status": "failed"} for h in hosts_of(failed)]
        if not results:
            raise click.UsageError("nothing to report: pass --success and/or --failed hosts")
        found = task_id or find_task(call)
        digest = hashlib.sha256(
            json.dumps(sorted(r["host"] + r["status"] for r in results)).encode()
        ).hexdigest()[:16]
        answer = call.client.call(
            "POST",
            f"{TASKS_PATH}/{found}/report",
            {"results": results},
            key=f"{call.run_id}:report:{digest}",
        )
        finish_call(
            call, f"{len(results)} host result(s) reported", {"task": answer}, found, {"success"}
        )

    run(go)


@release.command(epilog=EXIT_CODES)
@common
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
        call = resolve(o)
        if status == "success":
            event = "rollback_completed" if o["task_type"] == "rollback" else "full_completed"
        else:
            event = "task_failed" if status == "failed" else "task_stopped"
        failed = hosts_of(failed_hosts)
        progress = (
            {"total": total, "completed": total - len(failed), "failed": len(failed)}
            if total is not None
            else None
        )
        try:
            answer = send(
                call,
                event,
                f"finish:{event}",
                reason=reason,
                failed_hosts=failed,
                progress=progress,
            )
        except ClientError as exc:
            # The task already ended as announced (e.g. the last host result finished it): done.
            ended = exc.ended_as()
            if ended is None or ended[1] != ENDS[event]:
                raise
            answer = {"task_id": ended[0], "event_type": event, "duplicate": True}
        event_done(call, answer, {"success", "failed", "stopped"})

    run(go)


ENDS = {
    "full_completed": "success",
    "rollback_completed": "success",
    "task_failed": "failed",
    "task_stopped": "stopped",
}


@click.command(
    help=f"One event for a release Herald did not run (e.g. a deploy already done).\n\n{EXIT_CODES}"
)
@common
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
        call = resolve(o)
        info = None
        if event == "canary_step":
            if not (step_index and step_total):
                raise click.UsageError("canary_step needs --step-index and --step-total")
            info = {"index": step_index, "total": step_total} | (
                {"weight": weight} if weight is not None else {}
            )
        key = f"notify:{event}:{step_index or 0}"
        answer = send(
            call,
            event,
            key,
            step=info,
            reason=reason,
            hosts=hosts_of(hosts),
            failed_hosts=hosts_of(failed_hosts),
        )
        event_done(call, answer, {"success", "failed", "stopped"})

    run(go)


def client_main(argv: list[str] | None = None) -> None:
    """`herald release …` / `herald notify …` without loading the server."""
    group = click.Group("herald", commands={"release": release, "notify": notify})
    group.main(args=argv, prog_name="herald")
