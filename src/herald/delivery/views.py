"""What a sender renders: the event, its neutral message, templates applied."""

from __future__ import annotations

from typing import Any

from herald.callbacks.model import CallbackConfig, Channel
from herald.channels.base import EventView
from herald.domain.messages import build_message
from herald.templates import apply_templates


def task_link(base_url: str, task_id: str) -> str:
    return f"{base_url}/ui/tasks/{task_id}"


def event_view(
    delivery_id: str, event: dict[str, Any], config: CallbackConfig, channel: Channel, base_url: str
) -> EventView:
    payload, context = event["payload"], event["context"]
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
    return EventView(delivery_id=delivery_id, payload=payload, context=context, message=message)
