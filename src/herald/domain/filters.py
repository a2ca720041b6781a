"""What a listing selects: the filters of the task, delivery-history and audit-log listings.

Values the caller builds (an API route, the CLI) and the store turns into a query. `None`
means "any"; `visible`/`project_ids` of None means every project (an admin's view).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class TaskFilter:
    project_ids: set[str] | None = None
    project_id: str | None = None
    status: str | None = None
    environment: str | None = None
    type: str | None = None
    run_id: str | None = None


@dataclass(frozen=True)
class HistoryFilter:
    visible: set[str] | None = None
    project_id: str | None = None
    task_id: str | None = None
    config_id: str | None = None
    channel_type: str | None = None
    event_type: str | None = None
    status: str | None = None
    kind: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


@dataclass(frozen=True)
class AuditFilter:
    """`action` is an exact action (`task.stop`) or, without a dot, a family of actions
    (`task`: every `task.…`); `task_id` selects the entries about that task."""

    project_ids: set[str] | None = None  # None: every project, and entries without one
    project_id: str | None = None
    resource_id: str | None = None
    task_id: str | None = None
    action: str | None = None
