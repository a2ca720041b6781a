"""Destinations (one channel instance, shared by callback configs), organisation rules, labels."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from herald.domain.shapes import ProjectLabels, Strict
from herald.publishing.destination_inputs import DestinationIn

__all__ = ["DestinationIn"]


class DestinationUseOut(BaseModel):
    config_id: str
    config_name: str
    project_id: str | None = Field(description="the config's project; null: an organisation rule")
    channel_id: str


class LimitUseOut(BaseModel):
    count: int
    per_seconds: float
    used: int = Field(description="sends within the last per_seconds, across every worker")


class DestinationHealthOut(BaseModel):
    circuit: str = Field(description="closed, open or half_open")
    consecutive_failures: int
    probe_at: dt.datetime | None
    penalty_until: dt.datetime | None = Field(description="a platform's lock, while it lasts")
    rate_limits: list[LimitUseOut]
    pending: int
    last_outcome: str | None
    last_code: str | None
    last_at: dt.datetime | None
    last_error: str | None


class DestinationOut(BaseModel):
    id: str
    project_id: str | None = Field(description="null: the organisation's, usable by every project")
    name: str
    type: str
    config: dict[str, Any] = Field(description="secrets masked")
    rate_limit: dict[str, Any] | None
    used_by: list[DestinationUseOut]
    warnings: list[str]
    health: DestinationHealthOut | None = Field(
        default=None, description="on GET of one destination"
    )
    created_at: dt.datetime
    updated_at: dt.datetime


class LabelsIn(Strict):
    labels: ProjectLabels


class ProjectLabelsOut(BaseModel):
    project_id: str
    labels: dict[str, str]
