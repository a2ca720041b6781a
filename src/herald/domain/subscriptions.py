"""Which configs an event reaches: subscribed event types plus conditional filters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Filters:
    """Empty lists match everything; otherwise the event's value must be listed."""

    environments: tuple[str, ...] = ()
    task_types: tuple[str, ...] = ()
    strategies: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, raw: Mapping[str, Sequence[str]] | None) -> Filters:
        raw = raw or {}
        return cls(
            environments=tuple(raw.get("environments", ())),
            task_types=tuple(raw.get("task_types", ())),
            strategies=tuple(raw.get("strategies", ())),
        )

    def to_json(self) -> dict[str, list[str]]:
        return {
            "environments": list(self.environments),
            "task_types": list(self.task_types),
            "strategies": list(self.strategies),
        }

    def matches(self, payload: Mapping[str, Any]) -> bool:
        task = payload.get("task", {})
        checks = (
            (self.environments, payload.get("environment")),
            (self.task_types, task.get("type")),
            (self.strategies, task.get("strategy")),
        )
        return all(not allowed or value in allowed for allowed, value in checks)


# An event type also reaches configs subscribed to the PRD event that announced the same thing
# before it existed, so no team silently loses an announcement: rollbacks used to end with
# `full_completed`, and a canary rollback used to start with `canary_started`. A config that
# wants neither for rollbacks filters on task type (`task_types: ["deploy"]`).
IMPLIED_BY: Mapping[str, tuple[str, ...]] = {
    "rollback_completed": ("full_completed",),
    "rollback_started": ("canary_started",),
}


def subscribed(
    enabled: bool, events: Sequence[str], filters: Filters, payload: Mapping[str, Any]
) -> bool:
    """Does a config with these settings want this event? It does when it lists the event's
    type or a PRD type that implies it (`IMPLIED_BY`) and its filters match."""
    kind = payload.get("event_type")
    wanted = kind in events or any(e in events for e in IMPLIED_BY.get(str(kind), ()))
    return enabled and wanted and filters.matches(payload)


def reaches_project(selector: Mapping[str, str] | None, labels: Mapping[str, str]) -> bool:
    """Does an organisation rule selecting projects by `selector` reach a project with these
    `labels`? Every selected label must be set to the same value; no selector: every project."""
    return all(labels.get(key) == value for key, value in (selector or {}).items())
