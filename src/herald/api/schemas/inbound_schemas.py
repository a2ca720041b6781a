"""Inbound webhook sources and their delivery log."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from herald.api.schemas.common_schemas import Name, Strict

SourceKindName = Literal["github", "gitlab", "flux", "argo"]


class InboundSourceCreate(Strict):
    kind: SourceKindName
    name: Name
    secret: Annotated[
        str | None,
        Field(
            min_length=16,
            max_length=256,
            description="the shared secret; leave out to have Herald generate one",
        ),
    ] = None


class InboundSourceOut(BaseModel):
    id: str
    project_id: str
    kind: str
    name: str
    secret: str = Field(description="in clear only in the answer to the creation; then ****")
    url: str = Field(description="where the platform sends its webhooks")
    created_by: str | None
    created_at: dt.datetime


class InboundDeliveryOut(BaseModel):
    id: str
    source_id: str
    received_at: dt.datetime
    verdict: str = Field(description="accepted, duplicate, ignored or refused")
    status_code: int
    platform_event: str | None
    delivery_key: str | None
    event_type: str | None
    run_id: str | None
    task_id: str | None
    reason: str
