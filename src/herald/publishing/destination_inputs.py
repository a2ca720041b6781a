"""What callers send to define a destination: one channel instance (type and settings, PRD
§4.1 CallbackChannel's `type`/`config`/`rate_limit`) with a name. The read-only fields of an
answer are accepted and ignored, so a destination read with GET can be sent back with PUT."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from herald.domain.shapes import Name, Strict
from herald.publishing.config_inputs import RateLimitIn, read_only


class DestinationIn(Strict):
    name: Name
    type: Annotated[str, Field(max_length=32, description="a channel type; it cannot change")]
    config: dict[str, Any] = Field(description="the channel's settings; secrets masked on read")
    rate_limit: RateLimitIn | None = Field(
        default=None, description="override the platform's published limit for this destination"
    )
    id: Any = read_only()
    project_id: Any = read_only()
    created_at: Any = read_only()
    updated_at: Any = read_only()
    used_by: Any = read_only()
    health: Any = read_only()
    warnings: Any = read_only()
