"""The channel types Herald can deliver to, by their PRD `type` name.

A channel type is one module (its settings model, sender, judge and code tables) plus one line
in `BUILT_IN`. Everything else — validation, masking, redaction, warnings, limits, the API's
`GET /api/v1/channel-types` and the web UI's forms — is derived from what the module declares.
`registered` adds a type for the duration of a `with` block (tests).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from types import MappingProxyType

from herald.channels.apprise_url import AppriseSender
from herald.channels.base import Sender
from herald.channels.config_base import contract_problems
from herald.channels.custom import CustomSender
from herald.channels.dingtalk import DingTalkSender
from herald.channels.discord import DiscordSender
from herald.channels.feishu import FeishuSender
from herald.channels.mail import EmailSender
from herald.channels.slack import SlackSender
from herald.channels.teams import TeamsSender
from herald.channels.wecom_app import WeComAppSender
from herald.channels.wecom_bot import WeComBotSender

BUILT_IN: tuple[Sender, ...] = (  # typed so mypy checks each against the protocol
    FeishuSender(),
    DingTalkSender(),
    WeComAppSender(),
    WeComBotSender(),
    CustomSender(),
    SlackSender(),
    DiscordSender(),
    EmailSender(),
    TeamsSender(),
    AppriseSender(),
)

_senders: dict[str, Sender] = {}
SENDERS: Mapping[str, Sender] = MappingProxyType(_senders)  # a live, read-only view


class UnknownChannelType(KeyError):
    """A channel type Herald has no sender for; the message lists the valid ones."""

    def __init__(self, channel_type: str) -> None:
        valid = ", ".join(sorted(_senders))
        super().__init__(f"unknown channel type {channel_type!r}; valid types are: {valid}")
        self.channel_type = channel_type

    def __str__(self) -> str:
        return str(self.args[0])


def register(sender: Sender) -> None:
    """Make `sender`'s channel type deliverable.

    Raises ValueError when the type is taken, when the sender and its settings model name
    different types, or when the model lacks what the contract needs (`contract_problems`).
    """
    model = sender.config_model
    problems = contract_problems(model)
    if sender.channel_type != model.channel_type:
        problems.append(f"the sender is {sender.channel_type!r} but its model is not")
    if sender.channel_type in _senders:
        problems.append(f"channel type {sender.channel_type!r} is already registered")
    if problems:
        raise ValueError(f"cannot register {type(sender).__name__}: {'; '.join(problems)}")
    _senders[sender.channel_type] = sender


def unregister(channel_type: str) -> None:
    """Forget a channel type (a no-op for an unknown one)."""
    _senders.pop(channel_type, None)


@contextlib.contextmanager
def registered(sender: Sender) -> Iterator[Sender]:
    """`sender`'s type is registered inside the block and forgotten after it."""
    register(sender)
    try:
        yield sender
    finally:
        unregister(sender.channel_type)


def get_sender(channel_type: str) -> Sender:
    """The sender for `channel_type`; `UnknownChannelType` (a KeyError) lists the valid ones."""
    try:
        return _senders[channel_type]
    except KeyError:
        raise UnknownChannelType(channel_type) from None


def channel_types() -> tuple[str, ...]:
    """The registered type names, built-ins first, in registration order."""
    return tuple(_senders)


for _sender in BUILT_IN:
    register(_sender)


__all__ = [
    "BUILT_IN",
    "SENDERS",
    "UnknownChannelType",
    "channel_types",
    "get_sender",
    "register",
    "registered",
    "unregister",
]
