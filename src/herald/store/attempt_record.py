"""One attempt's result as the worker hands it to the store: the history row and the
delivery's next state (decided by `herald.domain.delivery.next_state`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from herald.domain.delivery import (
    AttemptOutcome,
    CircuitSignal,
    DeliveryKind,
    DeliveryStatus,
    Trigger,
)

MAX_CODE = 32  # characters of a platform code the history keeps


@dataclass(frozen=True)
class AttemptRecord:
    delivery_id: str
    claim_token: str | None
    kind: DeliveryKind
    attempt: int
    trigger: Trigger
    outcome: AttemptOutcome
    status: DeliveryStatus  # the delivery's status after this attempt
    next_attempt_at: dt.datetime | None
    request: dict[str, Any]
    response_status: int | None
    response_body: str | None
    platform_code: str | None  # at most MAX_CODE characters (the column's width)
    error: str | None
    latency_ms: float
    started_at: dt.datetime
    project_id: str
    task_id: str | None
    config_id: str
    channel_id: str
    event_type: str
    channel_type: str
    target_key: str
    circuit_signal: CircuitSignal | None = None
    penalty_until: float | None = None
    note: str | None = None
