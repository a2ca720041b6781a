"""What a client needs to know about each registered channel type to draw its settings form and
explain its behaviour: the settings' JSON Schema (with `secret: true` on secret fields), the
zh/en labels of the type and of each field with help texts and placeholders, and what the type
can do. Served by `GET /api/v1/channel-types`; everything comes from the type's module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from herald.channels.base import RateLimit, Sender
from herald.channels.capabilities import OwnRetryPolicy, TokenAuth
from herald.channels.config_base import ChannelConfig, FieldText, Text, form_texts
from herald.channels.registry import SENDERS


@dataclass(frozen=True)
class FormField:
    """One settings field as a form shows it, in form order."""

    name: str
    label: Text
    help: Text | None
    placeholder: str | None
    send_empty: bool
    advanced: bool


@dataclass(frozen=True)
class Capabilities:
    """What a channel type does beyond sending one request per event."""

    digest: bool  # a backlog is merged into one digest message
    one_at_a_time: bool  # one request in flight per target
    rate_limits: tuple[RateLimit, ...]  # the platform's published limits per target
    requests_per_delivery: int
    token_auth: bool  # fetches an access token first (`capabilities.TokenAuth`)
    own_retry_policy: bool  # the settings carry retries and timeout (`capabilities.OwnRetryPolicy`)


@dataclass(frozen=True)
class ChannelTypeInfo:
    type: str
    label: Text
    config_schema: dict[str, Any]
    fields: tuple[FormField, ...]
    capabilities: Capabilities


def channel_type_info(sender: Sender) -> ChannelTypeInfo:
    """The description of `sender`'s channel type."""
    model = sender.config_model
    return ChannelTypeInfo(
        type=sender.channel_type,
        label=model.type_label,
        config_schema=_config_schema(model),
        fields=tuple(_form_field(name, text) for name, text in form_texts(model).items()),
        capabilities=Capabilities(
            digest=sender.supports_digest,
            one_at_a_time=sender.one_at_a_time,
            rate_limits=sender.default_rate_limits,
            requests_per_delivery=sender.requests_per_delivery,
            token_auth=isinstance(sender, TokenAuth),
            own_retry_policy=issubclass(model, OwnRetryPolicy),
        ),
    )


def channel_types_info() -> list[ChannelTypeInfo]:
    """Every registered channel type, built-ins first."""
    return [channel_type_info(sender) for sender in SENDERS.values()]


# pydantic writes the bounds of an integer that has a before-validator (`JsonInt`) under their
# Python names; clients read JSON Schema's. An explicit standard bound (from json_schema_extra,
# where new input is held to more than stored settings) wins.
_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def _config_schema(model: type[ChannelConfig]) -> dict[str, Any]:
    """The JSON Schema of `model`'s settings, without the model's docstring (written for
    developers; people read the labels and help texts)."""
    schema = model.model_json_schema()
    schema.pop("description", None)
    for prop in schema.get("properties", {}).values():
        for python_name, standard in _BOUNDS.items():
            if python_name in prop:
                prop.setdefault(standard, prop.pop(python_name))
    return schema


def _form_field(name: str, text: FieldText) -> FormField:
    return FormField(name, text.label, text.help, text.placeholder, text.send_empty, text.advanced)
