"""What callers send to configure callbacks (PRD §4.1 CallbackConfig / CallbackChannel).

Types are strict: `"3"`, `true` or `"yes"` are not numbers or booleans (an integer is accepted
where a float is expected, and 3.0 where an integer is, as in JSON). The read-only fields of an
answer (`id`, `project_id`, `created_at`, `updated_at`, `warnings`) are accepted and ignored, so
a config read with GET can be edited and sent back with PUT as it is.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from herald.channels.registry import channel_types
from herald.domain.events import EventType
from herald.domain.release import Strategy, TaskType
from herald.domain.shapes import EnvironmentName, JsonInt, Name, ProjectLabels, ResourceId, Strict

TemplateText = Annotated[str, Field(max_length=8000)]
TemplateKey = Literal[
    "default",
    "canary_started",
    "canary_completed",
    "full_completed",
    "task_failed",
    "task_stopped",
    "long_running",
    "canary_step",
    "rollout_started",
    "rollback_started",
    "rollback_completed",
]


class MessageTemplate(Strict):
    """Sandboxed Jinja templates; `title` replaces the headline, `body` the generated text."""

    title: TemplateText | None = None
    body: TemplateText | None = None


Templates = dict[TemplateKey, MessageTemplate]


def read_only() -> Any:
    """A field of the answer that a request may carry back; its value is ignored."""
    return Field(
        default=None,
        exclude=True,
        description="read-only: accepted so an answer can be sent back, and ignored",
        json_schema_extra={"readOnly": True},
    )


class RateLimitIn(Strict):
    count: JsonInt = Field(ge=1, le=10000)
    per_seconds: float = Field(gt=0, le=86400, strict=True)


class Filters(Strict):
    environments: list[EnvironmentName] = Field(default_factory=list, max_length=20)
    task_types: list[TaskType] = Field(default_factory=list, max_length=3)
    strategies: list[Strategy] = Field(default_factory=list, max_length=3)


def _registered_types(schema: dict[str, Any]) -> None:
    # Read from the registry when the schema is generated, so it lists every registered type.
    schema["description"] = ", ".join(channel_types())
    schema["enum"] = sorted(channel_types())


class ChannelIn(Strict):
    """Inline settings (`type` and `config`, PRD §4.1), or a reference to a destination
    (`destination_id`): then `type` may be left out, and `config` and `rate_limit` sent back as
    read are the destination's and are ignored."""

    id: ResourceId | None = Field(default=None, description="keep a channel's id when updating")
    destination_id: ResourceId | None = Field(
        default=None, description="use this destination's type, settings and rate limit"
    )
    # The valid types are documented as an enum; the service checks them itself so an unknown
    # type is answered with the list of valid ones.
    type: Annotated[str, Field(max_length=32, json_schema_extra=_registered_types)] | None = None
    enabled: bool = Field(default=True, strict=True)
    config: dict[str, Any] | None = Field(
        default=None, description="channel-specific settings; see the channel guide"
    )
    rate_limit: RateLimitIn | None = Field(
        default=None, description="override the platform's published limit for this target"
    )
    templates: Templates | None = None
    warnings: Any = read_only()

    @model_validator(mode="after")
    def _inline_or_reference(self) -> ChannelIn:
        if self.destination_id is None:
            missing = [name for name in ("type", "config") if getattr(self, name) is None]
            if missing:
                raise ValueError(
                    f"{' and '.join(missing)} required, or destination_id to use a destination"
                )
        return self


class ConfigIn(Strict):
    name: Name = "default"
    enabled: bool = Field(default=True, strict=True)
    events: list[EventType] = Field(min_length=1, max_length=len(EventType))
    channels: list[ChannelIn] = Field(min_length=1, max_length=20)
    filters: Filters = Field(default_factory=Filters)
    locale: Literal["zh", "en"] | None = Field(
        default=None, description="message language; default: the server's HERALD_LOCALE"
    )
    templates: Templates | None = None
    project_labels: ProjectLabels | None = Field(
        default=None,
        description="organisation rules only: reach the projects carrying all these labels "
        "(none: every project)",
    )
    id: Any = read_only()
    project_id: Any = read_only()
    created_at: Any = read_only()
    updated_at: Any = read_only()
    warnings: Any = read_only()
