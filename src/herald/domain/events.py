"""Release events and the standard callback message (PRD §3.3).

An event is recorded once per task and type (a `canary_step` once per task and step), in the
same transaction as the state change that causes it. Its payload is the PRD's standard JSON message, field for field and in that order;
what messages need beyond it (failed hosts, a reason) travels in a separate context so the
custom-endpoint body stays exactly the documented shape.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NotRequired, TypedDict

from herald.domain.canary_steps import StepInfo
from herald.domain.release_context import ReleaseContext


class EventType(StrEnum):
    CANARY_STARTED = "canary_started"
    CANARY_COMPLETED = "canary_completed"
    FULL_COMPLETED = "full_completed"
    TASK_FAILED = "task_failed"
    TASK_STOPPED = "task_stopped"
    LONG_RUNNING = "long_running"
    # Beyond the PRD (issue 11); appended so the PRD's six keep their order.
    CANARY_STEP = "canary_step"  # an intermediate step of a multi-step canary is done
    ROLLOUT_STARTED = "rollout_started"  # a rolling or blue-green release started
    ROLLBACK_STARTED = "rollback_started"  # a task of type rollback started
    ROLLBACK_COMPLETED = "rollback_completed"  # a task of type rollback succeeded


EVENT_TYPES: tuple[str, ...] = tuple(e.value for e in EventType)
PRD_EVENT_TYPES: tuple[str, ...] = EVENT_TYPES[:6]


class ProjectRef(TypedDict):
    id: str
    name: str
    description: str


class VersionRef(TypedDict):
    id: str
    name: str
    description: str


class TaskRef(TypedDict):
    id: str
    type: str
    strategy: str
    status: str


class Deployment(TypedDict):
    total_count: int
    canary_count: NotRequired[int]
    completed_count: int
    failed_count: int
    hosts: list[str]


class Failure(TypedDict):
    reason: str | None
    failed_hosts: list[str]


class EventPayload(TypedDict):
    """The PRD §3.3 standard callback message; key order is part of the contract.

    `timestamp` is when the event happened. `sequence` (after the PRD fields) is the event's
    ordinal within its task, 1, 2, 3…, so a receiver can order a task's messages and see a gap
    where one never arrived; events stored before it existed lack it. After it, only when they
    apply: `context` (the task's release context, when not empty), `failure` (on task_failed
    and task_stopped) and `step` (on canary_step).
    """

    event_type: str
    project: ProjectRef
    version: VersionRef
    task: TaskRef
    deployment: Deployment
    timestamp: str
    duration: str
    environment: str
    sequence: NotRequired[int]
    context: NotRequired[ReleaseContext]
    failure: NotRequired[Failure]
    step: NotRequired[StepInfo]


class EventContext(TypedDict):
    """What notifications show beyond the standard message."""

    event_id: str
    phase: str
    failed_hosts: list[str]
    reason: str | None
    release: NotRequired[ReleaseContext]  # the task's context; absent when empty


@dataclass(frozen=True)
class ReleaseEvent:
    """An event a task transition produced, not yet stored."""

    type: EventType
    task_id: str
    occurred_at: dt.datetime
    failed_hosts: tuple[str, ...] = ()
    reason: str | None = None
    hosts: tuple[str, ...] = field(default=())
    sequence: int = 0  # the event's ordinal within its task, from 1
    step: StepInfo | None = None  # the step a canary_step event is about

    @property
    def occurrence(self) -> int:
        """Which occurrence of its type within the task the event is: a canary_step's step
        index, 0 for every other type (they happen once per task)."""
        return self.step["index"] if self.step else 0


def format_timestamp(moment: dt.datetime) -> str:
    """ISO-8601 UTC with a `Z` suffix and whole seconds, e.g. `2026-01-06T20:00:00Z`."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_duration(seconds: float) -> str:
    """Go-style duration text as the PRD shows it: `30s`, `2m5s`, `1h0m3s`; never negative."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
