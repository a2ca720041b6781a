"""The channel-neutral notification built from an event, in the reader's language.

A `Message` holds what every chat channel shows (PRD §4.4): a title such as
"发布通知：金丝雀发布开始", labelled fields, the hosts, a link back to the task. Senders only
lay it out in their platform's format; wording and translation live here. Chinese is the
default locale, English the other one; any locale starting with "en" selects English.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from herald.domain.context_text import context_fields, specific_headline
from herald.domain.events import EventContext, EventPayload, EventType
from herald.domain.text_limits import truncate_utf8

DIGEST = "digest"

EVENT_TITLES: Mapping[str, Mapping[str, str]] = {
    "zh": {
        EventType.CANARY_STARTED: "金丝雀发布开始",
        EventType.CANARY_COMPLETED: "金丝雀发布完成",
        EventType.FULL_COMPLETED: "全部发布完成",
        EventType.TASK_FAILED: "发布失败",
        EventType.TASK_STOPPED: "发布已停止",
        EventType.LONG_RUNNING: "发布耗时过长",
        EventType.CANARY_STEP: "金丝雀分步完成",
        EventType.ROLLOUT_STARTED: "发布开始",
        EventType.ROLLBACK_STARTED: "回滚开始",
        EventType.ROLLBACK_COMPLETED: "回滚完成",
    },
    "en": {
        EventType.CANARY_STARTED: "Canary started",
        EventType.CANARY_COMPLETED: "Canary completed",
        EventType.FULL_COMPLETED: "Rollout completed",
        EventType.TASK_FAILED: "Rollout failed",
        EventType.TASK_STOPPED: "Rollout stopped",
        EventType.LONG_RUNNING: "Rollout taking too long",
        EventType.CANARY_STEP: "Canary step done",
        EventType.ROLLOUT_STARTED: "Release started",
        EventType.ROLLBACK_STARTED: "Rollback started",
        EventType.ROLLBACK_COMPLETED: "Rollback completed",
    },
}

# Feishu card header templates; the other channels derive their tone from it (`tone`).
EVENT_COLORS: Mapping[str, str] = {
    EventType.CANARY_STARTED: "blue",
    EventType.CANARY_COMPLETED: "turquoise",
    EventType.FULL_COMPLETED: "green",
    EventType.TASK_FAILED: "red",
    EventType.TASK_STOPPED: "orange",
    EventType.LONG_RUNNING: "orange",
    EventType.CANARY_STEP: "turquoise",
    EventType.ROLLOUT_STARTED: "blue",
    EventType.ROLLBACK_STARTED: "orange",
    EventType.ROLLBACK_COMPLETED: "green",
}


def tone(color: str) -> str:
    """A colour as three tones for platforms with fewer colours: "warning" (red, orange,
    yellow), "good" (green, turquoise) or "neutral"."""
    if color in ("red", "orange", "yellow"):
        return "warning"
    return "good" if color in ("green", "turquoise") else "neutral"


_TEXT: Mapping[str, Mapping[str, str]] = {
    "zh": {
        "prefix": "发布通知：",
        "project": "项目",
        "version": "版本",
        "environment": "环境",
        "strategy": "策略",
        "type": "类型",
        "status": "状态",
        "progress": "进度",
        "duration": "耗时",
        "reason": "原因",
        "hosts": "主机",
        "failed_hosts": "失败主机",
        "open": "查看任务",
        "progress_fmt": "{completed}/{total}，失败 {failed}",
        "canary_fmt": "{strategy}（{count} 台）",
        "host_count": "{count} 台",
        "more_hosts": "…另有 {count} 台",
        "more_lines": "…另有 {count} 条",
        "digest": "{count} 条发布事件汇总",
        "note": "注意",
        "missed": "此前的通知未能送达：{events}",
    },
    "en": {
        "prefix": "Release notification: ",
        "project": "Project",
        "version": "Version",
        "environment": "Environment",
        "strategy": "Strategy",
        "type": "Type",
        "status": "Status",
        "progress": "Progress",
        "duration": "Duration",
        "reason": "Reason",
        "hosts": "Hosts",
        "failed_hosts": "Failed hosts",
        "open": "Open task",
        "progress_fmt": "{completed}/{total}, {failed} failed",
        "canary_fmt": "{strategy} ({count} hosts)",
        "host_count": "{count}",
        "more_hosts": "…and {count} more",
        "more_lines": "…and {count} more events",
        "digest": "{count} release events",
        "note": "Note",
        "missed": "earlier notification(s) could not be delivered: {events}",
    },
}

# Enum values shown to people; a value missing here is shown as it is.
_VALUES: Mapping[str, Mapping[str, str]] = {
    "zh": {
        "production": "生产",
        "staging": "预发",
        "development": "开发",
        "canary": "金丝雀",
        "rolling": "滚动",
        "blue_green": "蓝绿",
        "deploy": "发布",
        "rollback": "回滚",
        "stop": "停止",
        "pending": "待开始",
        "running": "发布中",
        "awaiting_promotion": "等待推广",
        "success": "成功",
        "failed": "失败",
        "stopped": "已停止",
    },
    "en": {
        "blue_green": "blue-green",
        "awaiting_promotion": "awaiting promotion",
        "success": "succeeded",
    },
}


@dataclass(frozen=True)
class Message:
    """What every chat channel renders; the locale is already applied.

    `fields` are (label, value) pairs in display order. `hosts` and `failed_hosts` are complete;
    senders list as many as fit and count the rest. A digest (`event_type == "digest"`) lists
    one line per event in `lines`, plus `omitted_lines` events it only counts.
    `body_override` is markdown a user template produced; it replaces the generated body.
    """

    event_type: str
    title: str
    headline: str
    color: str
    fields: tuple[tuple[str, str], ...]
    hosts: tuple[str, ...]
    failed_hosts: tuple[str, ...]
    link: str | None
    body_override: str | None = None
    locale: str = "zh"
    occurred_at: str = ""  # ISO-8601 UTC, as in the payload's `timestamp`
    lines: tuple[str, ...] = ()
    omitted_lines: int = 0

    def field(self, key: str) -> str | None:
        """The value of the field whose label is `key`'s label in this message's locale."""
        wanted = text(self.locale, key)
        return next((value for label, value in self.fields if label == wanted), None)


def normalize_locale(locale: str | None) -> str:
    """ "en", "en-US", "en_GB" → "en"; anything else → "zh" (the default)."""
    return "en" if (locale or "").lower().startswith("en") else "zh"


def text(locale: str, key: str, **values: object) -> str:
    """The UI string `key` in `locale`, formatted with `values`."""
    return _TEXT[normalize_locale(locale)][key].format(**values)


def show_value(locale: str, value: str) -> str:
    """An enum value (environment, strategy, status…) as people read it in `locale`."""
    return _VALUES[normalize_locale(locale)].get(value, value)


def display_time(timestamp: str) -> str:
    """ "2026-01-06T20:00:00Z" → "2026-01-06 20:00:00 UTC"; other text is returned unchanged."""
    if len(timestamp) == 20 and timestamp[10] == "T" and timestamp.endswith("Z"):
        return f"{timestamp[:10]} {timestamp[11:19]} UTC"
    return timestamp


def event_title(locale: str, event_type: str) -> str:
    """The event's headline ("金丝雀发布开始"); unknown types are shown by their name."""
    return EVENT_TITLES[normalize_locale(locale)].get(event_type, event_type)


def build_message(
    payload: EventPayload, context: EventContext, *, locale: str = "zh", link: str | None
) -> Message:
    """The default message for one event (PRD §4.4), in `locale`; a canary step and a rolling
    or blue-green start say which (`context_text.specific_headline`)."""
    loc = normalize_locale(locale)
    specific = specific_headline(loc, payload)
    headline = specific or event_title(loc, payload["event_type"])
    return Message(
        event_type=payload["event_type"],
        title=text(loc, "prefix") + headline,
        headline=headline,
        color=EVENT_COLORS.get(payload["event_type"], "blue"),
        fields=_fields(payload, context, loc),
        hosts=tuple(payload["deployment"]["hosts"]),
        failed_hosts=tuple(context["failed_hosts"]),
        link=link,
        locale=loc,
        occurred_at=payload["timestamp"],
    )


def with_missed_note(message: Message, missed: Sequence[str]) -> Message:
    """`message` telling its reader which earlier events of the task never reached them."""
    if not missed:
        return message
    separator = "、" if message.locale == "zh" else ", "
    events = separator.join(event_title(message.locale, e) for e in missed)
    note = text(message.locale, "missed", events=events)
    body = message.body_override
    return replace(
        message,
        fields=(*message.fields, (text(message.locale, "note"), note)),
        body_override=None if body is None else f"{body}\n\n{note}",
    )


def _fields(payload: EventPayload, context: EventContext, loc: str) -> tuple[tuple[str, str], ...]:
    task, deployment = payload["task"], payload["deployment"]
    strategy = show_value(loc, task["strategy"])
    if "canary_count" in deployment:
        strategy = text(loc, "canary_fmt", strategy=strategy, count=deployment["canary_count"])
    progress = text(
        loc,
        "progress_fmt",
        completed=deployment["completed_count"],
        total=deployment["total_count"],
        failed=deployment["failed_count"],
    )
    fields = [
        ("project", payload["project"]["name"]),
        ("version", payload["version"]["name"]),
        ("environment", show_value(loc, payload["environment"])),
        ("strategy", strategy),
    ]
    # Most tasks deploy; only say so when a notification is about a rollback or a stop task.
    if task["type"] != "deploy":
        fields.append(("type", show_value(loc, task["type"])))
    fields += [
        ("status", show_value(loc, task["status"])),
        ("progress", progress),
        ("duration", payload["duration"]),
    ]
    if context["reason"]:
        fields.append(("reason", context["reason"]))
    labelled = [(text(loc, key), value) for key, value in fields]
    return tuple(labelled + context_fields(loc, context.get("release")))


def build_digest_message(
    messages: Sequence[Message], *, locale: str = "zh", total: int | None = None
) -> Message:
    """One message summing up many events (批量回调), one line per event, oldest first.

    `total` is how many events the digest stands for when only some of them are passed in;
    the lines for the others are counted in `omitted_lines`. The colour is the most urgent
    one among the events (red, then orange).
    """
    loc = normalize_locale(locale)
    count = max(total if total is not None else 0, len(messages))
    headline = text(loc, "digest", count=count)
    ordered = sorted(messages, key=lambda m: m.occurred_at)
    return Message(
        event_type=DIGEST,
        title=text(loc, "prefix") + headline,
        headline=headline,
        color=_digest_color(messages),
        fields=(),
        hosts=(),
        failed_hosts=(),
        link=None,
        locale=loc,
        occurred_at=max((m.occurred_at for m in messages), default=""),
        lines=tuple(_digest_line(m) for m in ordered),
        omitted_lines=count - len(messages),
    )


def _digest_line(message: Message) -> str:
    parts = [
        " ".join(filter(None, [message.field("project"), message.field("version")])),
        message.field("environment") or "",
        message.headline,
        display_time(message.occurred_at),
    ]
    return " · ".join(part for part in parts if part)


def _digest_color(messages: Sequence[Message]) -> str:
    colors = {m.color for m in messages}
    for urgent in ("red", "orange"):
        if urgent in colors:
            return urgent
    return "green" if colors == {"green"} else "blue"


def shorten_text(message: Message, max_bytes: int) -> Message:
    """`message` with every free-text value cut to `max_bytes` UTF-8 bytes (with "…").

    Field values, digest lines and the template body are shortened; labels, title and hosts
    are left alone. Used after eliding hosts was not enough to meet a size limit.
    """

    def cut(value: str) -> str:
        return truncate_utf8(value, max_bytes)

    return replace(
        message,
        fields=tuple((label, cut(value)) for label, value in message.fields),
        lines=tuple(cut(line) for line in message.lines),
        body_override=None if message.body_override is None else cut(message.body_override),
    )


def longest_text(message: Message) -> int:
    """UTF-8 length of the longest value `shorten_text` would cut."""
    values = [v for _, v in message.fields] + list(message.lines) + [message.body_override or ""]
    return max(len(v.encode("utf-8")) for v in values)


# -- layout pieces every chat channel uses ------------------------------------------------------


def host_list(message: Message, hosts: Sequence[str], shown: int) -> str:
    """The first `shown` hosts joined by ", ", then "…另有 k 台" for the other k."""
    head = list(hosts[:shown])
    rest = len(hosts) - len(head)
    if rest:
        head.append(text(message.locale, "more_hosts", count=rest))
    return ", ".join(head)


def digest_lines(message: Message, shown: int) -> list[str]:
    """The first `shown` digest lines, then "…另有 k 条" for the events not listed."""
    lines = list(message.lines[:shown])
    rest = len(message.lines) - len(lines) + message.omitted_lines
    if rest:
        lines.append(text(message.locale, "more_lines", count=rest))
    return lines


def host_sections(message: Message, shown: int) -> list[tuple[str, str]]:
    """(label, listing) for the hosts and, when any failed, the failed hosts."""
    sections = []
    if message.hosts:
        sections.append((text(message.locale, "hosts"), host_list(message, message.hosts, shown)))
    if message.failed_hosts:
        failed = host_list(message, message.failed_hosts, shown)
        sections.append((text(message.locale, "failed_hosts"), failed))
    return sections


def footer(message: Message) -> str:
    """When the event happened, and who sent the notification."""
    moment = display_time(message.occurred_at)
    return f"{moment} · Herald" if moment else "Herald"
