"""Previews: what each channel of a config would send for an event, rendered but not sent."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from herald.channels.credentials import secret_values
from herald.channels.registry import get_sender
from herald.domain.events import EventType
from herald.domain.release import Project
from herald.domain.samples import sample_event
from herald.publishing.config_model import CallbackConfig
from herald.publishing.event_views import event_view
from herald.security.redaction import redact_text

PLACEHOLDER_TOKEN = "ACCESS_TOKEN"  # noqa: S105 - a visible stand-in; real tokens come at send time


def render_preview(
    config: CallbackConfig, project: Project, event_type: EventType, now: dt.datetime, base_url: str
) -> list[dict[str, Any]]:
    payload, context = sample_event(project.id, project.name, event_type, now, "preview")
    event = {"payload": payload, "context": context}
    previews = []
    for channel in config.channels:
        sender = get_sender(channel.type)
        view = event_view(
            "preview", event, config, channel, base_url, with_message=sender.renders_message
        )
        request = sender.render(
            view, channel.config, now=now.timestamp(), access_token=PLACEHOLDER_TOKEN
        )
        text = redact_text(request.body.decode("utf-8", "replace"), secret_values(channel.config))
        previews.append(
            {
                "channel_id": channel.id,
                "channel_type": channel.type,
                "method": request.method,
                "url": request.redacted_url,
                "headers": dict(request.redacted_headers),
                "body": _json_or_text(text),
                "body_bytes": len(request.body),
            }
        )
    return previews


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text
