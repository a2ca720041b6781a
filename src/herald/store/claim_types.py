"""What a claim is given and what it hands back: the plain-data policy the delivery layer
computes once (the store never calls back up into it), and the claimed deliveries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from herald.domain.delivery import DeliveryKind, DeliveryRef, Trigger
from herald.domain.ratelimit import Limit
from herald.domain.retry import RetryPolicy


@dataclass(frozen=True)
class ClaimPolicy:
    """What the claim needs to know about channel types, as data.

    A target's limits are its channels' own `rate_limit` overrides, else the limits their
    platform publishes (`published_limits`). A lease lasts as long as every request a delivery
    may need (`requests_per_delivery`, default one) at the channel's timeout (its retry policy's,
    else `default_timeout`), plus `lease_margin`.
    """

    published_limits: Mapping[str, tuple[Limit, ...]]
    digest_types: frozenset[str]
    default_timeout: float
    lease_margin: float
    requests_per_delivery: Mapping[str, int] = field(default_factory=dict)
    # Requests in flight at once per target, across workers: by channel type, else the default.
    max_in_flight: Mapping[str, int] = field(default_factory=dict)
    default_in_flight: int = 4
    probe_deadline: float = 120.0
    default_attempts: int = 9

    def limits(self, channel_type: str, override: Mapping[str, Any] | None) -> list[Limit]:
        if override:
            return [Limit(int(override["count"]), float(override["per_seconds"]))]
        return list(self.published_limits.get(channel_type, ()))

    def lease_seconds(self, channel_type: str, retry: Mapping[str, Any] | None) -> float:
        timeout = RetryPolicy.from_json(retry, self.default_timeout).timeout
        return timeout * self.requests_per_delivery.get(channel_type, 1) + self.lease_margin

    def in_flight_cap(self, channel_type: str) -> int:
        return self.max_in_flight.get(channel_type, self.default_in_flight)


@dataclass
class Claimed:
    id: str
    kind: DeliveryKind
    event_id: str | None
    config_id: str
    channel_id: str
    project_id: str
    task_id: str | None
    event_type: str
    channel_type: str
    target_key: str
    attempts: int
    max_attempts: int
    trigger: Trigger
    claim_token: str
    lease_until: dt.datetime
    seq: int | None = None
    payload: dict[str, Any] | None = None  # {"payload": …, "context": …} of the event
    event_at: dt.datetime | None = None  # when the event was committed
    target_healthy: bool = False  # the target's circuit was closed with no failures at claim
    members: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # digests
    # Earlier events of the task that never reached this target (failed for good), in order.
    missed_before: tuple[str, ...] = ()

    @property
    def ref(self) -> DeliveryRef:
        return DeliveryRef(self.id, self.kind, self.attempts, self.max_attempts)


@dataclass
class ClaimResult:
    claimed: list[Claimed]
    postponed: int = 0
    merged: int = 0
    rate_limited: int = 0
    next_due: float | None = None  # earliest time a delivery was postponed to (Unix s)
    config_stamps: dict[str, dt.datetime] = field(default_factory=dict)  # of claimed configs
