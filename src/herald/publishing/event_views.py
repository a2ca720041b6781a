"""What a sender renders: the event, its neutral message, templates applied."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from herald.channels.base import EventView
from herald.domain.messages import Message, build_message, with_missed_note
from herald.publishing.config_model import CallbackConfig, Channel
from herald.publishing.templates import apply_templates


def task_link(base_url: str, task_id: str) -> str:
    return f"{base_url}/ui/tasks/{task_id}"


# Custom endpoints receive the standard message itself; the chat message is never read, and
# building it (locale lookups, templates) would be most of the delivery path's work.
UNUSED_MESSAGE = Message("", "", "", "", (), (), (), None)


def event_view(
    delivery_id: str,
    event: dict[str, Any],
    config: CallbackConfig,
    channel: Channel,
    base_url: str,
    *,
    with_message: bool = True,
    missed_before: Sequence[str] = (),
) -> EventView:
    payload, context = event["payload"], event["context"]
    if not with_message:
        return EventView(delivery_id, payload, context, UNUSED_MESSAGE)
    link = task_link(base_url, payload["task"]["id"])
    message = build_message(payload, context, locale=config.locale, link=link)
    message = apply_templates(
        message,
        payload,
        context,
        channel_templates=channel.templates,
        config_templates=config.templates,
        locale=config.locale,
    )
    message = with_missed_note(message, missed_before)
    return EventView(delivery_id=delivery_id, payload=payload, context=context, message=message)
