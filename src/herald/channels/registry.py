"""The channel types Herald can deliver to, by their PRD `type` name."""

from __future__ import annotations

from collections.abc import Mapping

from herald.channels.base import Sender
from herald.channels.channel_config import UnknownChannelType
from herald.channels.custom import CustomSender
from herald.channels.dingtalk import DingTalkSender
from herald.channels.feishu import FeishuSender
from herald.channels.wecom_app import WeComAppSender
from herald.channels.wecom_bot import WeComBotSender

_BUILT_IN: tuple[Sender, ...] = (  # typed so mypy checks each against the protocol
    FeishuSender(),
    DingTalkSender(),
    WeComAppSender(),
    WeComBotSender(),
    CustomSender(),
)
SENDERS: Mapping[str, Sender] = {sender.channel_type: sender for sender in _BUILT_IN}


def get_sender(channel_type: str) -> Sender:
    """The sender for `channel_type`; `UnknownChannelType` (a KeyError) lists the valid ones."""
    try:
        return SENDERS[channel_type]
    except KeyError:
        raise UnknownChannelType(channel_type) from None


__all__ = ["SENDERS", "UnknownChannelType", "get_sender"]
