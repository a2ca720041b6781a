"""Multi-step canaries: the steps a canary phase goes through before it awaits promotion.

A step is a traffic weight in percent (Argo Rollouts `setWeight`, Flagger's weight after each
`stepWeight`) and/or a host count, both cumulative: the step is done when that many of the
task's hosts (or that share of them) run the new version. A weight without a host count maps to
hosts by rounding up, at least one host: 10% of 8 hosts is 1 host, 50% is 4. Given both, the host
count decides what is deployed and the weight is what the message shows.

Each step must add at least one host, and the last may reach every host (then promotion has
nothing left to deploy and completes the release). A canary without steps is the PRD's single
step of `canary_count` hosts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from herald.domain.errors import InvalidInput

MAX_STEPS = 20


class StepInfo(TypedDict):
    """What a `canary_step` event says about its step (`index` counts from 1)."""

    index: int
    total: int
    weight: int | None
    hosts: int | None


@dataclass(frozen=True)
class CanaryStep:
    weight: int | None = None  # percent of traffic, 1-100
    hosts: int | None = None  # hosts running the new version once the step is done

    def to_json(self) -> dict[str, int | None]:
        return {"weight": self.weight, "hosts": self.hosts}


def parse_steps(raw: Sequence[Mapping[str, Any]] | None) -> tuple[CanaryStep, ...]:
    """Steps from their JSON form (`[{"weight": 10}, {"hosts": 4}, …]`); `InvalidInput` names
    the step and the field that is wrong."""
    steps = []
    for index, item in enumerate(raw or (), start=1):
        if not isinstance(item, Mapping) or set(item) - {"weight", "hosts"}:
            raise InvalidInput(f"canary_steps[{index}]: an object with weight and/or hosts")
        weight, hosts = item.get("weight"), item.get("hosts")
        if weight is None and hosts is None:
            raise InvalidInput(f"canary_steps[{index}]: give a weight (percent) or a host count")
        for name, value, low, high in (("weight", weight, 1, 100), ("hosts", hosts, 1, 5000)):
            ok = value is None or (isinstance(value, int) and not isinstance(value, bool))
            if not ok or (value is not None and not low <= value <= high):
                raise InvalidInput(f"canary_steps[{index}].{name}: a whole number {low}-{high}")
        steps.append(CanaryStep(weight=weight, hosts=hosts))
    return tuple(steps)


def steps_json(steps: Sequence[CanaryStep]) -> list[dict[str, int | None]]:
    return [step.to_json() for step in steps]


def step_hosts(step: CanaryStep, total: int) -> int:
    """How many hosts run the new version once `step` is done, of `total`."""
    if step.hosts is not None:
        return step.hosts
    assert step.weight is not None
    return max(1, math.ceil(step.weight * total / 100))


def resolve(steps: Sequence[CanaryStep], total: int) -> tuple[int, ...]:
    """The cumulative host count of each step; `InvalidInput` unless every step adds a host
    and the last one stays within `total`."""
    if len(steps) > MAX_STEPS:
        raise InvalidInput(f"canary_steps: at most {MAX_STEPS} steps, got {len(steps)}")
    counts = tuple(step_hosts(step, total) for step in steps)
    for index, (before, after) in enumerate(zip((0, *counts), counts, strict=False), start=1):
        if after <= before:
            raise InvalidInput(
                f"canary_steps[{index}] deploys no new host: the steps come to "
                f"{list(counts)} of {total} hosts; each step must reach more hosts than the one "
                "before (use fewer steps or host counts)"
            )
    if counts and counts[-1] > total:
        raise InvalidInput(
            f"canary_steps: the last step reaches {counts[-1]} hosts, but the task has {total}"
        )
    return counts


def step_info(steps: Sequence[CanaryStep], counts: Sequence[int], index: int) -> StepInfo:
    """The event's description of step `index` (from 1)."""
    step = steps[index - 1] if steps else CanaryStep()
    return {"index": index, "total": len(counts), "weight": step.weight, "hosts": counts[index - 1]}
