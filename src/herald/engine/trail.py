"""What the audit log keeps about release actions: the task's state before and after.

Entries are written by `ReleaseService` in the transaction of the change they describe (see
`herald.store.audit_repo`). Engine-driven progress (host results, timers) is not audited: the task's
host results and events are its record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from herald.access.roles import Principal
from herald.domain.hosts import HostStatus
from herald.domain.release import Task


@dataclass(frozen=True)
class Acting:
    """Who asks for a release action (None: Herald itself or the CLI) and its audit name."""

    actor: Principal | None
    action: str


def state(task: Task) -> dict[str, Any]:
    """The task's status, phase, reason and host counts per status."""
    counts = {s.value: 0 for s in HostStatus}
    for result in task.results.values():
        counts[result.status.value] += 1
    return {
        "status": task.status.value,
        "phase": task.phase.value if task.phase else None,
        "reason": task.reason,
        "counts": {"total": len(task.results), **counts},
    }


def created(task: Task) -> dict[str, Any]:
    """A new task: its state and what it was created to do."""
    spec = task.spec
    return {
        **state(task),
        "version_id": spec.version_id,
        "type": spec.type.value,
        "strategy": spec.strategy.value,
        "environment": spec.environment,
        "hosts": len(spec.hosts),
        "executor": spec.executor.get("type"),
        "rollback_of": spec.rollback_of,
    }


def reported(
    results: Sequence[tuple[str, bool, int | None]], status: str | None, reason: str | None
) -> dict[str, Any]:
    """What an external system reported (host outputs are left to the task's host results)."""
    return {
        "results": [
            {"host": host, "status": "success" if ok else "failed", "exit_code": code}
            for host, ok, code in results
        ],
        "status": status,
        "reason": reason,
    }
