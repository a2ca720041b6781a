"""The HTTP side of `herald release` and `herald notify`: a small client of Herald's API.

Standard library only (urllib), so the client needs nothing of the server and starts fast.
Every creating call carries an `Idempotency-Key`, which makes retries safe: network errors,
429 and 5xx answers are retried with exponential backoff a bounded number of times.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from herald import __version__

EVENTS_PATH = "/api/v1/events"
TASKS_PATH = "/api/v1/release/tasks"

# Exit codes a pipeline can act on (documented in `herald release --help` and the docs).
EXIT_OK = 0
EXIT_USAGE = 2  # bad flags, or Herald refused the request (4xx)
EXIT_TASK_ENDED = 3  # while waiting, the task failed, was stopped or rolled back
EXIT_TIMEOUT = 4  # the wait timed out
EXIT_UNREACHABLE = 5  # Herald unreachable, or 5xx, after the retries

ENDED = frozenset({"failed", "stopped"})
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class ClientError(Exception):
    """Ends the command with `code`; `message` is the one-line summary for stderr."""

    def __init__(self, code: int, message: str, answer: Any = None, status: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.answer = answer
        self.status = status  # the HTTP status Herald answered, 0 if none

    def ended_as(self) -> tuple[str, str] | None:
        """(task id, status) when Herald refused because the run's task already ended."""
        error = self.answer.get("error") if isinstance(self.answer, dict) else None
        details = error.get("details") if isinstance(error, dict) else None
        if self.status != 409 or not isinstance(details, dict):
            return None
        task_id, status = details.get("task_id"), details.get("status")
        return (task_id, status) if isinstance(task_id, str) and isinstance(status, str) else None


@dataclass
class HeraldClient:
    """Calls Herald at `url` with `token`; `sleep` and `clock` are seams for tests."""

    url: str
    token: str
    retries: int = 4
    backoff: float = 0.5
    timeout: float = 10.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    attempts: int = field(default=0, init=False)

    def call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        key: str | None = None,
        query: Mapping[str, str] | None = None,
    ) -> Any:
        """The JSON answer of one call, retried on network errors, 429 and 5xx.

        `ClientError` with EXIT_USAGE for a 4xx (Herald's message), EXIT_UNREACHABLE when the
        retries are spent."""
        if urllib.parse.urlsplit(self.url).scheme not in ("http", "https"):
            raise ClientError(EXIT_USAGE, f"HERALD_URL must be an http(s) URL, not {self.url!r}")
        target = self.url.rstrip("/") + path
        if query:
            target += "?" + urllib.parse.urlencode(query)
        data = None if body is None else json.dumps(body).encode()
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/json",
            "User-Agent": f"herald-cli/{__version__}",
        }
        if data is not None:
            headers["Content-Type"] = "application/json"
        if key:
            headers["Idempotency-Key"] = key
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(min(self.backoff * 2 ** (attempt - 1), 30.0))
            self.attempts += 1
            # The scheme was checked above: http(s) only.
            request = urllib.request.Request(target, data=data, headers=headers, method=method)  # noqa: S310
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
                    return _json(answer.read())
            except urllib.error.HTTPError as exc:
                text = exc.read()
                if exc.code not in _RETRY_STATUSES:
                    raise ClientError(
                        EXIT_USAGE, _refusal(exc.code, text), _json(text), exc.code
                    ) from None
                problem = f"HTTP {exc.code}"
            except (TimeoutError, urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                problem = str(getattr(exc, "reason", exc)) or type(exc).__name__
        raise ClientError(
            EXIT_UNREACHABLE,
            f"Herald at {self.url} did not answer ({problem}) after {self.retries + 1} attempts",
        )

    def wait(
        self, task_id: str, wanted: Collection[str], timeout: float, interval: float = 2.0
    ) -> dict[str, Any]:
        """Poll the task until its status is one of `wanted`.

        `ClientError` EXIT_TASK_ENDED when it fails or stops first, EXIT_TIMEOUT after
        `timeout` seconds."""
        deadline = self.clock() + timeout
        while True:
            task: dict[str, Any] = self.call("GET", f"{TASKS_PATH}/{task_id}")
            status = str(task.get("status"))
            if status in wanted:
                return task
            if status in ENDED:
                reason = f": {task['reason']}" if task.get("reason") else ""
                raise ClientError(EXIT_TASK_ENDED, f"task {task_id} {status}{reason}", task)
            if self.clock() >= deadline:
                raise ClientError(
                    EXIT_TIMEOUT,
                    f"task {task_id} still {status} after {timeout:g}s (wanted {'|'.join(wanted)})",
                    task,
                )
            self.sleep(max(0.05, min(interval, deadline - self.clock())))


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return {"text": raw.decode(errors="replace")[:500]}


def _refusal(status: int, raw: bytes) -> str:
    answer = _json(raw)
    error = answer.get("error") if isinstance(answer, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return f"Herald refused the request (HTTP {status}): {error['message']}"
    return f"Herald refused the request (HTTP {status})"
