"""Mute windows: what a person sends to create one, and how windows and decisions are shown."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, model_validator

from herald.domain.mutes import MAX_REASON
from herald.domain.shapes import ResourceId, Strict


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


Instant = Annotated[dt.datetime, AfterValidator(_utc)]


class MuteScopeIn(Strict):
    """Exactly one of: a project (all its configs) or one callback config."""

    project_id: ResourceId | None = None
    config_id: ResourceId | None = None

    @model_validator(mode="after")
    def _one(self) -> MuteScopeIn:
        if (self.project_id is None) == (self.config_id is None):
            raise ValueError('give exactly one of "project_id" or "config_id" in scope')
        return self


class MuteIn(Strict):
    scope: MuteScopeIn
    starts_at: Instant | None = Field(default=None, description="ISO-8601; default now")
    ends_at: Instant | None = Field(default=None, description="ISO-8601; or give duration")
    duration: str | None = Field(
        default=None,
        max_length=16,
        description='days, hours, minutes in that order: "30m", "2h", "1d", "1h30m"',
    )
    reason: str = Field(max_length=MAX_REASON, description="why; shown beside what it holds")


class MuteOut(BaseModel):
    id: str
    scope: str = Field(description="project or config")
    scope_id: str
    project_id: str | None
    starts_at: dt.datetime
    ends_at: dt.datetime
    reason: str
    created_by: str = Field(description="the name of the token that created it")
    created_at: dt.datetime
    ended_by: str | None = Field(description="who ended it early")
    state: str = Field(description="scheduled, active or ended")
    held: int = Field(description="notifications held, waiting for release or drop")
    released: int
    dropped: int


class DecisionOut(BaseModel):
    status: str = Field(description="pending (released: sent now) or dropped")
    delivery_ids: list[str]
