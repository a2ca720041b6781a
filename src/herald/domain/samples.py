"""A plausible sample event for test sends and template previews."""

from __future__ import annotations

import datetime as dt
from typing import Any

from herald.domain.events import EventContext, EventPayload, EventType, format_timestamp
from herald.domain.release_context import ReleaseContext

SAMPLE_HOSTS = [f"web-{i:02d}.example.internal" for i in range(1, 11)]

# Where each event falls in its sample release: (sequence, completed, failed, status). The PRD
# events belong to a 10-host canary of two steps; the start events to a rolling release; the
# rollback events to a rolling rollback.
_STAGES: dict[EventType, tuple[int, int, int, str]] = {
    EventType.CANARY_STARTED: (1, 0, 0, "running"),
    EventType.CANARY_COMPLETED: (2, 2, 0, "awaiting_promotion"),
    EventType.FULL_COMPLETED: (3, 10, 0, "success"),
    EventType.TASK_FAILED: (2, 6, 2, "failed"),
    EventType.TASK_STOPPED: (2, 4, 0, "stopped"),
    EventType.LONG_RUNNING: (2, 4, 0, "running"),
    EventType.CANARY_STEP: (2, 1, 0, "running"),
    EventType.ROLLOUT_STARTED: (1, 0, 0, "running"),
    EventType.ROLLBACK_STARTED: (1, 0, 0, "running"),
    EventType.ROLLBACK_COMPLETED: (2, 10, 0, "success"),
}
_CANARY = {EventType.CANARY_STARTED, EventType.CANARY_COMPLETED, EventType.CANARY_STEP}
_ROLLING = {EventType.ROLLOUT_STARTED, EventType.ROLLBACK_STARTED, EventType.ROLLBACK_COMPLETED}
_REASONS = {
    EventType.TASK_FAILED: "2 host(s) failed, more than the 1 tolerated",
    EventType.TASK_STOPPED: "stopped by operator",
}
SAMPLE_CONTEXT: ReleaseContext = {
    "operator": "alice",
    "commit": "9fceb02d0ae598e95dc970b74767f19372d61af8",
    "ref": "main",
    "pipeline_url": "https://ci.example.com/pipelines/42",
    "links": [{"title": "Dashboard", "url": "https://grafana.example.com/d/payments"}],
    "changelog": "- Fix duplicate refunds\n- Faster checkout",
    "labels": {"team": "payments"},
}


def sample_event(
    project_id: str, project_name: str, event_type: EventType, now: dt.datetime, event_id: str
) -> tuple[EventPayload, EventContext]:
    """The standard message of a sample release of `project_name` at the stage `event_type`,
    with every key a real event of that type carries (context, failure, step)."""
    sequence, completed, failed, status = _STAGES[event_type]
    hosts = SAMPLE_HOSTS[:2] if event_type in _CANARY else list(SAMPLE_HOSTS)
    deployment: dict[str, Any] = {"total_count": len(SAMPLE_HOSTS), "canary_count": 2}
    if event_type in _ROLLING:
        del deployment["canary_count"]
    deployment.update(completed_count=completed, failed_count=failed, hosts=hosts)
    kind = "rollback" if event_type.value.startswith("rollback") else "deploy"
    payload: EventPayload = {
        "event_type": event_type.value,
        "project": {"id": project_id, "name": project_name, "description": "test notification"},
        "version": {"id": "sample-version", "name": "v1.2.3", "description": "Herald test send"},
        "task": {
            "id": "sample-task",
            "type": kind,
            "strategy": "rolling" if event_type in _ROLLING else "canary",
            "status": status,
        },
        "deployment": deployment,  # type: ignore[typeddict-item]
        "timestamp": format_timestamp(now),
        "duration": "2m30s",
        "environment": "production",
        "sequence": sequence,
        "context": SAMPLE_CONTEXT,
    }
    failed_hosts = SAMPLE_HOSTS[6:8] if failed else []
    if event_type in _REASONS:
        payload["failure"] = {"reason": _REASONS[event_type], "failed_hosts": failed_hosts}
    if event_type is EventType.CANARY_STEP:
        payload["deployment"]["hosts"] = SAMPLE_HOSTS[:1]
        payload["step"] = {"index": 1, "total": 2, "weight": 10, "hosts": 1}
    context: EventContext = {
        "event_id": event_id,
        "phase": "canary" if event_type in _CANARY else "full",
        "failed_hosts": failed_hosts,
        "reason": _REASONS.get(event_type),
        "release": SAMPLE_CONTEXT,
    }
    return payload, context
