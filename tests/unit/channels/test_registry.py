"""The registry and what it derives from each channel module: the contract a model must meet,
scoped registration, and the description `GET /api/v1/channel-types` serves."""

from __future__ import annotations

from typing import ClassVar

import pytest

from herald.channels import registry
from herald.channels.base import Sender
from herald.channels.capabilities import OwnRetryPolicy, TokenAuth
from herald.channels.config_base import ChannelConfig, contract_problems, form_texts, marks
from herald.channels.custom import CustomConfig, CustomSender
from herald.channels.type_info import channel_type_info, channel_types_info
from tests.unit.channels.support import CHANNEL_TYPES


class Bare(ChannelConfig):
    channel_type: ClassVar[str] = "Bare-Type"
    url: str
    room: str = "x"


class BareSender(CustomSender):
    channel_type: ClassVar[str] = "Bare-Type"
    config_model: ClassVar[type[ChannelConfig]] = Bare


class SecondConfig(CustomConfig):
    """Custom settings under a second type name."""

    channel_type: ClassVar[str] = "custom_two"


class SecondSender(CustomSender):
    channel_type: ClassVar[str] = "custom_two"
    config_model: ClassVar[type[ChannelConfig]] = SecondConfig


def test_contract_problems_name_everything_a_model_lacks() -> None:
    problems = contract_problems(Bare)
    assert any("channel_type 'Bare-Type'" in p for p in problems)
    assert "type_label needs a zh and an en text" in problems
    assert "field 'url' has no entry in field_texts" in problems
    assert "field 'room' has no entry in field_texts" in problems
    assert "destination_field must name a field marked DestinationUrl" in problems
    for channel_type in CHANNEL_TYPES:
        assert contract_problems(registry.get_sender(channel_type).config_model) == []


def test_register_refuses_an_incomplete_model_or_a_taken_name() -> None:
    with pytest.raises(ValueError, match="cannot register BareSender: channel_type"):
        registry.register(BareSender())
    with pytest.raises(ValueError, match="'custom' is already registered"):
        registry.register(CustomSender())
    assert tuple(registry.SENDERS) == CHANNEL_TYPES


def test_registered_adds_a_type_for_the_block_only() -> None:
    with registry.registered(SecondSender()) as sender:
        assert registry.get_sender("custom_two") is sender
        assert registry.channel_types()[-1] == "custom_two"
    assert "custom_two" not in registry.SENDERS
    with pytest.raises(
        registry.UnknownChannelType, match="valid types are: apprise, custom, dingtalk"
    ):
        registry.get_sender("custom_two")


def test_capabilities_come_from_protocols_and_class_attributes() -> None:
    info = {i.type: i.capabilities for i in channel_types_info()}
    assert [t for t, c in info.items() if c.token_auth] == ["wechat"]
    assert [t for t, c in info.items() if c.own_retry_policy] == ["custom"]
    several = {t: c.requests_per_delivery for t, c in info.items() if c.requests_per_delivery != 1}
    assert several == {"wechat": 3}
    assert [t for t, c in info.items() if not c.digest] == ["custom"]
    assert [t for t, c in info.items() if not c.one_at_a_time] == ["custom"]
    assert isinstance(registry.get_sender("wechat"), TokenAuth)
    assert not isinstance(registry.get_sender("feishu"), TokenAuth)
    assert issubclass(registry.get_sender("custom").config_model, OwnRetryPolicy)


@pytest.mark.parametrize("channel_type", CHANNEL_TYPES)
def test_the_description_follows_the_model(channel_type: str) -> None:
    sender: Sender = registry.get_sender(channel_type)
    model = sender.config_model
    info = channel_type_info(sender)
    schema = info.config_schema
    assert [f.name for f in info.fields] == list(form_texts(model))
    assert set(schema["properties"]) == set(model.model_fields)
    assert "description" not in schema  # docstrings are for developers
    secret = {name for name, prop in schema["properties"].items() if prop.get("secret")}
    whole_urls = {name for name, mark in marks(model).urls if mark.whole}
    assert secret == set(marks(model).secrets) | whole_urls
    for prop in schema["properties"].values():
        assert not {"ge", "le", "gt", "lt"} & set(prop), prop  # JSON Schema's names only
    assert all(f.label.zh and f.label.en for f in info.fields)


def test_bounds_are_what_new_input_must_meet() -> None:
    props = channel_type_info(registry.get_sender("custom")).config_schema["properties"]
    assert (props["timeout"]["minimum"], props["timeout"]["maximum"]) == (1, 60)
    # Stored settings may hold 0; a new config needs at least 1 second.
    assert (props["retry_interval"]["minimum"], props["retry_interval"]["maximum"]) == (1, 3600)
    agent = channel_type_info(registry.get_sender("wechat")).config_schema["properties"]
    assert agent["agent_id"]["minimum"] == 1 and agent["agent_id"]["type"] == "integer"
