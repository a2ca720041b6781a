"""Turn a task transition's event into the stored snapshot: the PRD message plus context."""

from __future__ import annotations

from herald.domain.events import (
    Deployment,
    EventContext,
    EventPayload,
    EventType,
    ReleaseEvent,
    format_duration,
    format_timestamp,
)
from herald.domain.release import HostStatus, Project, Strategy, Task, Version


def build_payload(
    event: ReleaseEvent, task: Task, project: Project, version: Version, event_id: str
) -> tuple[EventPayload, EventContext]:
    """The PRD §3.3 message for `event`, and the context notifications show besides it.

    `total_count` is the task's host count and the progress counts cover the whole task; canary
    events list the canary hosts, the others every host. `canary_count` appears for canary tasks.

    After the PRD fields and `sequence`, and only when they apply: `context` (the task's release
    context, when not empty), `failure` (`reason` and `failed_hosts`, on task_failed and
    task_stopped) and `step` (on canary_step). A task without context keeps the bytes of a
    payload from before these keys existed.
    """
    payload: EventPayload = {
        "event_type": event.type.value,
        "project": {"id": project.id, "name": project.name, "description": project.description},
        "version": {"id": version.id, "name": version.name, "description": version.description},
        "task": {
            "id": task.id,
            "type": task.spec.type.value,
            "strategy": task.spec.strategy.value,
            "status": task.status.value,
        },
        "deployment": _deployment(event, task),
        "timestamp": format_timestamp(event.occurred_at),
        "duration": format_duration(task.duration_seconds(event.occurred_at)),
        "environment": task.spec.environment,
        "sequence": event.sequence,
    }
    if task.spec.context:
        payload["context"] = task.spec.context
    if event.type in _FAILURES:
        payload["failure"] = {"reason": event.reason, "failed_hosts": list(event.failed_hosts)}
    if event.step is not None:
        payload["step"] = event.step
    context: EventContext = {
        "event_id": event_id,
        "phase": (task.phase.value if task.phase else "pending"),
        "failed_hosts": list(event.failed_hosts),
        "reason": event.reason,
    }
    if task.spec.context:
        context["release"] = task.spec.context
    return payload, context


_FAILURES = frozenset({EventType.TASK_FAILED, EventType.TASK_STOPPED})


def _deployment(event: ReleaseEvent, task: Task) -> Deployment:
    completed = sum(1 for r in task.results.values() if r.status is HostStatus.SUCCESS)
    failed = sum(1 for r in task.results.values() if r.status is HostStatus.FAILED)
    hosts = list(event.hosts)
    if task.spec.strategy is Strategy.CANARY:
        return {
            "total_count": len(task.hosts),
            "canary_count": task.spec.canary_count,
            "completed_count": completed,
            "failed_count": failed,
            "hosts": hosts,
        }
    return {
        "total_count": len(task.hosts),
        "completed_count": completed,
        "failed_count": failed,
        "hosts": hosts,
    }
