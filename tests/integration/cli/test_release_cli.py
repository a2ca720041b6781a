"""`herald release` / `herald notify` against a stand-in Herald on 127.0.0.1 (a real HTTP
server that answers as scripted): retries with one idempotency key, exit codes, --wait."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from click.testing import CliRunner

from herald.cli.release_commands import client_main, notify, release
from tests.e2e.processes import free_port

TASK = "0190a000-0000-7000-8000-000000000001"


@dataclass
class Seen:
    method: str
    path: str
    key: str | None
    body: Any


@dataclass
class StandIn:
    """Scripted answers: `queue[(method, path prefix)]` is popped per request; when empty,
    `default` answers."""

    port: int = 0
    seen: list[Seen] = field(default_factory=list)
    queue: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)
    statuses: list[str] = field(default_factory=list)

    def answer(self, method: str, path: str) -> tuple[int, Any]:
        for prefix, answers in self.queue.items():
            if f"{method} {path}".startswith(prefix) and answers:
                return answers.pop(0)
        if method == "POST" and path.endswith("/events"):
            return 201, {
                "task_id": TASK,
                "event_type": self.seen[-1].body["event"],
                "duplicate": False,
            }
        if method == "GET" and path.startswith(f"/api/v1/release/tasks/{TASK}"):
            status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
            return 200, {"id": TASK, "status": status, "reason": "canary unhealthy"}
        if method == "GET" and path.startswith("/api/v1/release/tasks"):
            return 200, {"items": [{"id": TASK}], "next_cursor": None}
        return 200, {"id": TASK, "status": "running"}


@pytest.fixture
def herald() -> Iterator[StandIn]:
    stand_in = StandIn(statuses=["running"])

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            stand_in.seen.append(
                Seen(
                    self.command,
                    self.path,
                    self.headers.get("idempotency-key"),
                    json.loads(raw) if raw else None,
                )
            )
            status, body = stand_in.answer(self.command, self.path)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _handle

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stand_in.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()


def _env(port: int) -> dict[str, str]:
    return {
        "HERALD_URL": f"http://127.0.0.1:{port}",
        "HERALD_TOKEN": "hrld_test",
        "GITHUB_RUN_ID": "812",
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_ACTOR": "alice",
        "GITHUB_SHA": "f95f852b",
    }


COMMON = ["--project", "payments-api", "--version", "v1.4.2", "--backoff", "0.01"]


def run(herald: StandIn, *args: str, command: Any = release) -> Any:
    return CliRunner().invoke(command, [*args, *COMMON], env=_env(herald.port))


def test_start_sends_one_event_with_context_and_a_stable_key(herald: StandIn) -> None:
    result = run(herald, "start", "--strategy", "canary", "--hosts", "h1,h2,h3", "--canary", "1")
    assert result.exit_code == 0, result.output
    (call,) = herald.seen
    assert (call.method, call.path, call.key) == (
        "POST",
        "/api/v1/events",
        "github-812-1:start",
    )
    assert call.body == {
        "project": "payments-api",
        "version": "v1.4.2",
        "environment": "production",
        "type": "deploy",
        "strategy": "canary",
        "run_id": "github-812-1",
        "context": {"operator": "alice", "commit": "f95f852b"},
        "event": "canary_started",
        "hosts": ["h1", "h2", "h3"],
        "progress": {"total": 3, "canary": 1},
    }
    assert "canary_started recorded" in result.output


def test_flags_override_ci_context(herald: StandIn, tmp_path: Any) -> None:
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text("- faster checkout\n")
    args = ["finish", "--operator", "bob", "--link", "Grafana=https://grafana.example.com/d/1"]
    args += ["--label", "team=payments", "--changelog-file", str(changelog), "--run-id", "r-9"]
    assert run(herald, *args).exit_code == 0
    body = herald.seen[0].body
    assert body["context"] == {
        "operator": "bob",
        "commit": "f95f852b",
        "links": [{"title": "Grafana", "url": "https://grafana.example.com/d/1"}],
        "changelog": "- faster checkout",
        "labels": {"team": "payments"},
    }
    assert (body["event"], body["run_id"], herald.seen[0].key) == (
        "full_completed",
        "r-9",
        "r-9:finish:full_completed",
    )


def test_rollbacks_and_failures_name_their_events(herald: StandIn) -> None:
    run(herald, "start", "--type", "rollback")
    run(herald, "finish", "--type", "rollback")
    run(herald, "finish", "--status", "failed", "--reason", "5xx", "--failed-hosts", "h2")
    run(herald, "step", "--index", "2", "--steps", "3", "--weight", "50")
    events = [(s.body["event"], s.key) for s in herald.seen]
    assert events == [
        ("rollback_started", "github-812-1:start"),
        ("rollback_completed", "github-812-1:finish:rollback_completed"),
        ("task_failed", "github-812-1:finish:task_failed"),
        ("canary_step", "github-812-1:step:2"),
    ]
    assert herald.seen[2].body["failed_hosts"] == ["h2"]
    assert herald.seen[3].body["step"] == {"index": 2, "total": 3, "weight": 50}


def test_5xx_and_resets_are_retried_with_the_same_key(herald: StandIn) -> None:
    herald.queue["POST /api/v1/events"] = [(503, {}), (502, {})]
    result = run(herald, "start")
    assert result.exit_code == 0, result.output
    assert [s.key for s in herald.seen] == ["github-812-1:start"] * 3


def test_retries_spent_is_exit_5(herald: StandIn) -> None:
    herald.queue["POST /api/v1/events"] = [(500, {})] * 10
    result = run(herald, "start", "--retries", "2")
    assert result.exit_code == 5
    assert len(herald.seen) == 3
    assert "did not answer (HTTP 500) after 3 attempts" in result.output


def test_unreachable_is_exit_5() -> None:
    env = _env(free_port())
    result = CliRunner().invoke(release, ["start", *COMMON, "--retries", "1"], env=env)
    assert result.exit_code == 5
    assert "did not answer" in result.output


def test_a_4xx_is_exit_2_with_heralds_message(herald: StandIn) -> None:
    error = {"error": {"code": "not_found", "message": "project payments-api does not exist"}}
    herald.queue["POST /api/v1/events"] = [(404, error)]
    result = run(herald, "start", "--json")
    assert result.exit_code == 2
    assert "project payments-api does not exist" in result.output
    assert len(herald.seen) == 1  # a refusal is not retried


def test_usage_errors_are_exit_2(herald: StandIn) -> None:
    env = {k: v for k, v in _env(herald.port).items() if not k.startswith("GITHUB_RUN")}
    result = CliRunner().invoke(release, ["start", *COMMON], env=env)
    assert result.exit_code == 2
    assert "no run id" in result.output
    assert run(herald, "step", "--index", "0", "--steps", "3").exit_code == 2
    assert run(herald, "start", "--link", "no-equals-sign").exit_code == 2
    assert herald.seen == []


def test_promote_wait_blocks_until_promoted(herald: StandIn) -> None:
    herald.statuses = ["awaiting_promotion", "awaiting_promotion", "running"]
    result = run(herald, "promote", "--wait", "--interval", "0.01", "--json")
    assert result.exit_code == 0, result.output
    assert herald.seen[0].body["event"] == "canary_completed"
    polls = [s for s in herald.seen if s.method == "GET"]
    assert len(polls) == 3
    assert "task is running" in result.output


def test_wait_ends_3_when_the_task_fails_and_4_on_timeout(herald: StandIn) -> None:
    herald.statuses = ["awaiting_promotion", "stopped"]
    ended = run(herald, "promote", "--wait", "--interval", "0.01")
    assert ended.exit_code == 3
    assert "stopped: canary unhealthy" in ended.output
    herald.statuses = ["awaiting_promotion"]
    late = run(herald, "promote", "--wait", "running", "--timeout", "0.2", "--interval", "0.01")
    assert late.exit_code == 4
    assert "still awaiting_promotion" in late.output


def test_promote_now_promotes_when_awaiting(herald: StandIn) -> None:
    herald.statuses = ["awaiting_promotion"]
    assert run(herald, "promote", "--now").exit_code == 0
    calls = [(s.method, s.path, s.key) for s in herald.seen]
    assert calls[-1] == ("POST", f"/api/v1/release/tasks/{TASK}/promote", "github-812-1:promote")


def test_report_finds_the_task_by_run_id(herald: StandIn) -> None:
    result = run(herald, "report", "--success", "h1,h2", "--failed", "h3")
    assert result.exit_code == 0, result.output
    lookup, sent = herald.seen
    assert lookup.path == "/api/v1/release/tasks?project=payments-api&run_id=github-812-1"
    assert sent.path == f"/api/v1/release/tasks/{TASK}/report"
    assert sent.body == {
        "results": [
            {"host": "h1", "status": "success"},
            {"host": "h2", "status": "success"},
            {"host": "h3", "status": "failed"},
        ]
    }
    assert sent.key is not None and sent.key.startswith("github-812-1:report:")


def test_notify_one_event(herald: StandIn) -> None:
    result = run(
        herald, "--event", "canary_step", "--step-index", "1", "--step-total", "3", command=notify
    )
    assert result.exit_code == 0, result.output
    assert herald.seen[0].key == "github-812-1:notify:canary_step:1"
    assert run(herald, "--event", "canary_step", command=notify).exit_code == 2


def test_client_main_and_help_list_the_exit_codes() -> None:
    result = CliRunner().invoke(release, ["--help"])
    assert "4  the wait timed out" in result.output
    with pytest.raises(SystemExit) as done:
        client_main(["release", "--help"])
    assert done.value.code == 0


def test_the_client_never_imports_the_server() -> None:
    code = (
        "import sys\nfrom herald.cli.entry import main\nsys.argv = ['herald', 'release', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('fastapi', 'sqlalchemy', 'uvicorn', 'pydantic', 'aiohttp', 'typer'))\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout, out.stdout


def test_finish_after_the_task_ended_as_announced_is_done(herald: StandIn) -> None:
    ended = {
        "error": {
            "code": "conflict",
            "message": "task already ended success",
            "details": {"task_id": TASK, "status": "success"},
        }
    }
    herald.queue["POST /api/v1/events"] = [(409, ended), (409, ended)]
    done = run(herald, "finish")
    assert done.exit_code == 0, done.output
    assert f"task {TASK}" in done.output
    contradicted = run(herald, "finish", "--status", "failed")
    assert contradicted.exit_code == 2
    assert "already ended success" in contradicted.output
