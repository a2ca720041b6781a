"""A plausible sample event for test sends and template previews."""

from __future__ import annotations

import datetime as dt

from herald.domain.events import EventContext, EventPayload, EventType, format_timestamp

SAMPLE_HOSTS = [f"web-{i:02d}.example.internal" for i in range(1, 11)]


# Where each event falls in the sample canary's story (its `sequence`).
_SEQUENCE = {
    EventType.CANARY_STARTED: 1,
    EventType.CANARY_COMPLETED: 2,
    EventType.FULL_COMPLETED: 3,
    EventType.TASK_FAILED: 2,
    EventType.TASK_STOPPED: 2,
    EventType.LONG_RUNNING: 2,
}


def sample_event(
    project_id: str, project_name: str, event_type: EventType, now: dt.datetime, event_id: str
) -> tuple[EventPayload, EventContext]:
    """The standard message for a 10-host canary of `project_name`, at the stage `event_type`."""
    canary = event_type in (EventType.CANARY_STARTED, EventType.CANARY_COMPLETED)
    progress = {
        EventType.CANARY_STARTED: (0, 0, "running"),
        EventType.CANARY_COMPLETED: (2, 0, "awaiting_promotion"),
        EventType.FULL_COMPLETED: (10, 0, "success"),
        EventType.TASK_FAILED: (6, 2, "failed"),
        EventType.TASK_STOPPED: (4, 0, "stopped"),
        EventType.LONG_RUNNING: (4, 0, "running"),
    }[event_type]
    completed, failed, status = progress
    payload: EventPayload = {
        "event_type": event_type.value,
        "project": {"id": project_id, "name": project_name, "description": "test notification"},
        "version": {"id": "sample-version", "name": "v1.2.3", "description": "Herald test send"},
        "task": {"id": "sample-task", "type": "deploy", "strategy": "canary", "status": status},
        "deployment": {
            "total_count": len(SAMPLE_HOSTS),
            "canary_count": 2,
            "completed_count": completed,
            "failed_count": failed,
            "hosts": SAMPLE_HOSTS[:2] if canary else list(SAMPLE_HOSTS),
        },
        "timestamp": format_timestamp(now),
        "duration": "2m30s",
        "environment": "production",
        "sequence": _SEQUENCE[event_type],
    }
    reasons = {
        EventType.TASK_FAILED: "2 host(s) failed, more than the 1 tolerated",
        EventType.TASK_STOPPED: "stopped by operator",
    }
    context: EventContext = {
        "event_id": event_id,
        "phase": "canary" if canary else "full",
        "failed_hosts": SAMPLE_HOSTS[6:8] if failed else [],
        "reason": reasons.get(event_type),
    }
    return payload, context
