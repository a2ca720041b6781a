"""Callback configuration (PRD §4.1 CallbackConfig / CallbackChannel), history and stats."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from herald.api.schemas.common_schemas import ResourceId, Strict
from herald.domain.events import EventType
from herald.publishing.config_inputs import ChannelIn, ConfigIn, MessageTemplate

__all__ = ["ChannelIn", "ConfigIn", "MessageTemplate"]


class ChannelOut(BaseModel):
    id: str
    destination_id: str | None = Field(
        default=None, description="set when the channel uses a destination (its settings shown)"
    )
    type: str
    enabled: bool
    config: dict[str, Any] = Field(description="secrets masked")
    rate_limit: dict[str, Any] | None
    templates: dict[str, Any] | None
    warnings: list[str]


class ConfigOut(BaseModel):
    id: str
    project_id: str | None = Field(description="null for an organisation rule")
    name: str
    enabled: bool
    events: list[str]
    channels: list[ChannelOut]
    filters: dict[str, list[str]]
    locale: str
    templates: dict[str, Any] | None
    created_at: dt.datetime
    updated_at: dt.datetime
    warnings: list[str] = Field(default_factory=list)
    project_labels: dict[str, str] | None = Field(
        default=None, description="organisation rules: the labels a reached project carries"
    )


class SendTestIn(Strict):
    event_type: EventType = EventType.CANARY_STARTED
    channel_id: ResourceId | None = Field(default=None, description="only this channel")


class PreviewIn(Strict):
    event_type: EventType = EventType.CANARY_STARTED
    config: ConfigIn | None = Field(
        default=None, description="an edited, unsaved version to preview (default: the saved one)"
    )


class NewConfigPreviewIn(Strict):
    event_type: EventType = EventType.CANARY_STARTED
    config: ConfigIn


class ChannelPreview(BaseModel):
    channel_id: str
    channel_type: str
    method: str
    url: str = Field(description="credentials masked")
    headers: dict[str, str]
    body: Any = Field(description="the request body (JSON when it is JSON)")
    body_bytes: int


class ChannelTestResult(BaseModel):
    channel_id: str
    channel_type: str
    delivery_id: str
    outcome: str = Field(
        description="delivered, partial, retryable, permanent, rate_limited, blocked"
    )
    delivered: bool
    code: str | None
    message: str
    http_status: int | None
    latency_ms: float


class SendTestOut(BaseModel):
    config_id: str
    event_type: str
    results: list[ChannelTestResult]


class AttemptOut(BaseModel):
    id: str
    attempt: int
    trigger: str
    outcome: str
    request: dict[str, Any] = Field(description="as sent, secrets redacted")
    response_status: int | None
    response: str | None = Field(description="response body, capped")
    platform_code: str | None
    error: str | None
    latency_ms: float
    note: str | None = Field(
        default=None,
        description="e.g. sent after an earlier event of the task failed for good here",
    )
    created_at: dt.datetime


class HistoryOut(BaseModel):
    """PRD CallbackHistory, one per delivery; `request`/`response`/`error` of its latest attempt."""

    id: str = Field(description="the delivery id, sent to custom endpoints as webhook-id")
    task_id: str | None
    event_type: str
    channel_type: str
    target_key: str = Field(
        description="its target's `key` in GET /callbacks/targets (circuit, platform penalty)"
    )
    status: str = Field(description="pending, success, failed, muted or dropped")
    request: dict[str, Any]
    response: str
    error: str | None = None
    created_at: dt.datetime
    kind: str = Field(description="event, digest or test")
    project_id: str
    config_id: str
    channel_id: str
    event_id: str | None
    attempts: int
    max_attempts: int
    next_attempt_at: dt.datetime | None
    last_outcome: str | None
    platform_code: str | None
    http_status: int | None
    latency_ms: float | None
    digest_id: str | None = Field(description="the digest this delivery was merged into")
    digest_size: int | None
    finished_at: dt.datetime | None
    mute_id: str | None = Field(
        default=None, description="the mute window that held it (kept once released or dropped)"
    )


class DigestMember(BaseModel):
    id: str
    event_id: str | None
    task_id: str | None
    event_type: str
    status: str


class HistoryDetail(HistoryOut):
    attempt_log: list[AttemptOut]
    members: list[DigestMember] = Field(description="for digests: the deliveries merged into it")


class StatOut(BaseModel):
    channel_type: str
    event_type: str
    success: int
    failed: int
    pending: int
    muted: int = Field(description="held by a mute window, waiting for release or drop")
    dropped: int = Field(description="muted, then dropped by a person: never sent")
    success_rate: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    attempts_measured: int


class TargetOut(BaseModel):
    key: str
    channel_type: str
    description: str
    circuit: str = Field(description="closed, open (paused) or half_open (probing)")
    consecutive_failures: int
    probe_at: dt.datetime | None = Field(description="when an open circuit is next probed")
    penalty_until: dt.datetime | None = Field(
        description="the platform asked Herald to hold off this target until then"
    )
    sends_last_minute: int
    pending: int
    last_error: str | None


class AuditOut(BaseModel):
    id: str
    at: dt.datetime
    actor_id: str | None
    actor_name: str
    action: str
    resource_type: str
    resource_id: str
    project_id: str | None
    before: Any
    after: Any
