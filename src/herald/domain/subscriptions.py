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


def subscribed(
    enabled: bool, events: Sequence[str], filters: Filters, payload: Mapping[str, Any]
) -> bool:
    """Does a config with these settings want this event?"""
    return enabled and payload.get("event_type") in events and filters.matches(payload)
