"""What every `herald release` command shares: the options, their resolution into a `Call`
(run id and context from the CI's variables), sending an event and the summary line."""

from __future__ import annotations

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


def common(f: F) -> F:
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


def resolve(o: dict[str, Any]) -> Call:
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


def hosts_of(text: str | None) -> list[str]:
    return [h.strip() for h in (text or "").split(",") if h.strip()]


def send(call: Call, event: str, key: str, **extra: Any) -> dict[str, Any]:
    body = {
        **call.base,
        "event": event,
        **{k: v for k, v in extra.items() if v not in (None, [], {})},
    }
    answer: dict[str, Any] = call.client.call("POST", EVENTS_PATH, body, key=f"{call.run_id}:{key}")
    return answer


def find_task(call: Call) -> str:
    query = {"project": call.base["project"], "run_id": call.run_id}
    found = call.client.call("GET", TASKS_PATH, query=query)
    items = found.get("items", []) if isinstance(found, dict) else []
    if not items:
        raise ClientError(
            EXIT_USAGE,
            f"no task of {call.base['project']} has run id {call.run_id}: run `herald release start` first",
        )
    return str(items[0]["id"])


def finish_call(
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


def event_done(call: Call, answer: dict[str, Any], default_wait: set[str]) -> None:
    state = "already recorded" if answer.get("duplicate") else "recorded"
    finish_call(
        call,
        f"{answer.get('event_type')} {state}",
        answer,
        str(answer.get("task_id")),
        default_wait,
    )


def run(body: Callable[[], None]) -> None:
    try:
        body()
    except ClientError as exc:
        click.echo(f"herald: {exc.message}", err=True)
        if exc.answer is not None and click.get_current_context().params.get("as_json"):
            click.echo(json.dumps(exc.answer, ensure_ascii=False))
        sys.exit(exc.code)
