"""The channel types Herald can deliver to, as `GET /api/v1/channel-types` describes them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Bilingual(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    zh: str
    en: str


class ChannelFieldOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str = Field(description="the property of `config_schema` this field is")
    label: Bilingual
    help: Bilingual | None = Field(description="what the field does, for people; null if plain")
    placeholder: str | None = Field(description="an example value to show in an empty input")
    send_empty: bool = Field(
        description='true: an emptied field is sent as "" (meaning none), not left out '
        "(meaning the default)"
    )
    advanced: bool = Field(
        default=False, description="shown with the advanced settings (egress proxy, CA)"
    )


class RateLimitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    count: int
    per_seconds: float


class CapabilitiesOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    digest: bool = Field(description="a backlog for one target is merged into a digest message")
    one_at_a_time: bool = Field(
        description="one request in flight per target (else worker.per_target_concurrency)"
    )
    rate_limits: list[RateLimitOut] = Field(
        description="the platform's published limits per target (a channel's rate_limit "
        "replaces them)"
    )
    requests_per_delivery: int = Field(
        description="the most HTTP requests one delivery attempt may take"
    )
    token_auth: bool = Field(description="fetches an access token before sending")
    own_retry_policy: bool = Field(
        description="the settings carry their own retries, interval and timeout"
    )


class ChannelTypeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    type: str = Field(description="the value of a channel's `type`")
    label: Bilingual
    config_schema: dict[str, Any] = Field(
        description="JSON Schema of a channel's `config`; secret fields have `secret: true`, "
        "URLs whose credential parts are masked have `x-secret-parts`"
    )
    fields: list[ChannelFieldOut] = Field(description="every `config` field, in form order")
    capabilities: CapabilitiesOut


class ChannelTypesOut(BaseModel):
    items: list[ChannelTypeOut]
