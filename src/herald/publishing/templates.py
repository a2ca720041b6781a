"""User message templates: sandboxed Jinja, checked strictly when saved, rendered leniently (SPEC §6).

Templates are set per config and per channel (``templates: {"default" | <event_type>: {"title",
"body"}}``); ``title`` replaces the message headline (Herald adds the "发布通知：" / "Release
notice: " prefix unless the output starts with it, and joins it onto one line), ``body`` replaces
the generated text (markdown for the chat platforms).

Template context — every template sees these names, as plain text, numbers, lists and mappings:

- ``event_type``: ``canary_started``, ``canary_completed``, ``full_completed``, ``task_failed``,
  ``task_stopped``, ``long_running``, ``canary_step``, ``rollout_started``,
  ``rollback_started`` or ``rollback_completed``.
- ``title``: Herald's own headline for the event, e.g. ``金丝雀发布开始`` or
  ``金丝雀第 2/3 步（50%）完成``.
- ``project``: ``id``, ``name``, ``description``.
- ``version``: ``id``, ``name`` (the tag, e.g. ``v1.2.3``), ``description``.
- ``task``: ``id``, ``type`` (deploy | rollback | stop), ``strategy`` (canary | rolling |
  blue_green), ``status`` (pending | running | awaiting_promotion | success | failed | stopped).
- ``deployment``: ``total_count``, ``canary_count`` (none unless the strategy is canary),
  ``completed_count``, ``failed_count``, ``hosts`` (the hosts this event concerns).
- ``timestamp``: when the event happened, ISO-8601 UTC, e.g. ``2026-01-06T20:00:00Z``.
- ``duration``: how long the task has run, e.g. ``2m30s``.
- ``environment``: production | staging | development.
- ``sequence``: the event's ordinal within its task (1, 2, 3…); none for events stored before
  Herald numbered them.
- ``context``: the release context, each key present only when set: ``operator``, ``commit``,
  ``ref``, ``pipeline_url``, ``links`` (a list of ``title``, ``url``), ``changelog``, ``labels``
  (a mapping); an empty mapping for a task without context.
- ``failure``: ``reason`` and ``failed_hosts`` on ``task_failed`` and ``task_stopped``; none
  otherwise.
- ``step``: on ``canary_step``, ``index`` (from 1), ``total``, ``weight`` (percent, or none)
  and ``hosts`` (hosts on the new version once the step is done); none otherwise.
- ``phase``: ``canary`` or ``full``.
- ``failed_hosts``: the hosts that failed (an empty list when none did).
- ``reason``: why the task failed or was stopped; none otherwise.
- ``link``: the task's page in Herald's UI; none when Herald has no public URL.
- ``locale``: ``zh`` or ``en``, the configuration's language.

Language: ``{{ … }}``, ``{% if %}``/``{% elif %}``/``{% else %}``, ``{% for %}`` (with ``loop.index``,
``loop.first``, ``loop.last``, ``loop.cycle(…)`` and ``{% else %}``), ``{% set x = … %}``,
``{% with %}``, comments, arithmetic, comparisons, ``~`` to join text, ``range(n)`` (at most
10,000 items) and Jinja's tests (``is defined``, ``is none``, …). Filters: ``hosts`` (``a, b, c
…(+7)``; ``hosts(3)`` shows three names, the default ten), ``join(", ")``, ``default("-")``,
``truncate(80)``, ``upper``, ``lower``, ``length``. Not available: macros, ``{% call %}``,
``{% filter %}``, block ``{% set %}``, ``{% include %}``/``{% import %}``/``{% extends %}``/
``{% block %}``, method calls, and names starting with ``_``. A line holding only a ``{% … %}`` tag
leaves no blank line, and none prints as empty text.

Undefined names: saving a template renders it against a sample of every event it applies to and
refuses it if it uses a name that does not exist; at send time such a name prints as empty text, so
a notification never fails over a typo. Limits: the output is cut at 16,000 characters (a title at
200) and ends with "…"; text built with ``~`` or ``join`` is cut at 100,000 characters; a template
that does too much work (about half a second of CPU) or builds an oversized value with ``*``,
``+``, ``**`` or ``%`` prints ``[template error: …]`` instead of its text.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from collections.abc import Mapping
from functools import cache
from typing import Any

from jinja2 import TemplateSyntaxError, UndefinedError
from jinja2.environment import Template
from jinja2.exceptions import SecurityError

from herald.domain.events import EVENT_TYPES, EventContext, EventPayload, EventType
from herald.domain.messages import Message, event_title, normalize_locale
from herald.domain.messages import text as ui_text
from herald.domain.samples import sample_event
from herald.publishing.sandbox import (
    OUTPUT_LIMIT,
    TITLE_LIMIT,
    LimitError,
    TemplateError,
    TemplateSet,
    compile_template,
    run_template,
    work_budget,
)

__all__ = ["OUTPUT_LIMIT", "TITLE_LIMIT", "TemplateError"]


def render(text: str, context: Mapping[str, Any], *, max_chars: int = OUTPUT_LIMIT) -> str:
    """Render `text` for sending: undefined names print as empty text, the output is cut at
    `max_chars` (ending with "…"), and any failure — syntax, disallowed access, too much work —
    yields a short "[template error: …]" marker instead of raising. Never raises."""
    try:
        output, _ = run_template(compile_template(False, text), context, max_chars)
    except Exception as exc:  # a notification must go out even when its template is broken
        output = error_marker(exc)
    return output[:max_chars]


def validate_template(
    key: str, text: str, *, event_type: str | None = None, max_chars: int = OUTPUT_LIMIT
) -> None:
    """Refuse `text` unless it compiles and renders strictly (undefined names are errors) against
    the sample of `event_type`, or of every event when None, within `max_chars`.

    Raises TemplateError naming `key`, with the line and Jinja's message when known."""
    try:
        template = compile_template(True, text)
    except TemplateSyntaxError as exc:
        raise TemplateError(key, exc.message or "syntax error", exc.lineno) from exc
    except Exception as exc:  # e.g. RecursionError on absurd nesting
        raise TemplateError(key, f"cannot be compiled ({type(exc).__name__})") from exc
    with work_budget():
        _check_samples(key, template, event_type, max_chars)


def _check_samples(key: str, template: Template, event_type: str | None, max_chars: int) -> None:
    for sample in _samples(event_type):
        where = f" (sample {sample['event_type']} event)"
        try:
            _, cut = run_template(template, sample, max_chars)
        except Exception as exc:
            known = isinstance(exc, LimitError | SecurityError | UndefinedError)
            detail = str(exc) if known else f"{type(exc).__name__}: {exc}"
            raise TemplateError(key, detail + where, line_of(exc)) from exc
        if cut:
            raise TemplateError(key, f"renders more than {max_chars} characters{where}")


def validate_templates(templates: TemplateSet | None, prefix: str) -> None:
    """Validate every title and body of a `templates` mapping; keys in errors read
    `<prefix>.<event_type|default>.<title|body>`, e.g. `channels.2.templates.default.body`."""
    with work_budget():
        _validate_each(templates or {}, prefix)


def _validate_each(templates: TemplateSet, prefix: str) -> None:
    for key, fields in templates.items():
        if key != "default" and key not in EVENT_TYPES:
            raise TemplateError(f"{prefix}.{key}", "is neither 'default' nor an event type")
        for name in ("title", "body"):
            text = (fields or {}).get(name)
            if text:
                validate_template(
                    f"{prefix}.{key}.{name}",
                    text,
                    event_type=None if key == "default" else key,
                    max_chars=TITLE_LIMIT if name == "title" else OUTPUT_LIMIT,
                )


def pick(
    event_type: str, channel_templates: TemplateSet | None, config_templates: TemplateSet | None
) -> dict[str, str]:
    """The title and body templates for `event_type`, each chosen independently from the first of
    channel[event_type], channel["default"], config[event_type], config["default"] that sets it
    (empty text counts as unset). Fields nobody sets are absent."""
    sources = [
        (templates or {}).get(key)
        for templates in (channel_templates, config_templates)
        for key in (event_type, "default")
    ]
    chosen: dict[str, str] = {}
    for name in ("title", "body"):
        text = next((s.get(name) for s in sources if s and s.get(name)), None)
        if text:
            chosen[name] = text
    return chosen


def build_context(
    payload: EventPayload, context: EventContext, *, title: str, link: str | None, locale: str
) -> dict[str, Any]:
    """The template context documented above, as fresh plain data (nothing the event holds)."""
    values: dict[str, Any] = copy.deepcopy(dict(payload))  # the §3.3 message, as plain data
    values["deployment"].setdefault("canary_count", None)
    values.setdefault("sequence", None)
    values.setdefault("context", {})
    values.setdefault("failure", None)
    values.setdefault("step", None)
    values.update(title=title, link=link, locale=locale, reason=context["reason"])
    values.update(phase=context["phase"], failed_hosts=list(context["failed_hosts"]))
    return values


def apply_templates(
    message: Message,
    payload: EventPayload,
    context: EventContext,
    *,
    channel_templates: TemplateSet | None,
    config_templates: TemplateSet | None,
    locale: str,
) -> Message:
    """`message` with the chosen templates applied (see `pick`); the same object when none apply.

    A title template sets `headline` (whitespace collapsed, at most TITLE_LIMIT characters) and
    `title` = the locale's prefix ("发布通知：") + headline, the prefix not doubled when the rendered
    title already starts with it; an empty rendered title keeps the default. A body template sets
    `body_override`. The context's `title` is the message's default headline."""
    chosen = pick(payload["event_type"], channel_templates, config_templates)
    if not chosen:
        return message
    locale = normalize_locale(locale)
    values = build_context(
        payload, context, title=message.headline, link=message.link, locale=locale
    )
    changes: dict[str, Any] = {}
    if "title" in chosen:
        prefix = ui_text(locale, "prefix")
        rendered = " ".join(render(chosen["title"], values, max_chars=TITLE_LIMIT).split())
        headline = rendered.removeprefix(prefix.strip()).strip()
        if headline:
            changes.update(headline=headline, title=prefix + headline)
    if "body" in chosen:
        changes["body_override"] = render(chosen["body"], values)
    return dataclasses.replace(message, **changes)


# --- Samples for validation ----------------------------------------------------------------------


def sample_context(event_type: str) -> dict[str, Any]:
    """A realistic context for `event_type` (a 10-host canary of `demo-service`), for previews."""
    payload, context = sample_event(
        "sample-project",
        "demo-service",
        EventType(event_type),
        dt.datetime(2026, 1, 6, 20, 0, tzinfo=dt.UTC),
        "sample-event",
    )
    link = "https://herald.example.com/tasks/sample-task"
    title = event_title("zh", event_type)
    return build_context(payload, context, title=title, link=link, locale="zh")


@cache
def _samples(event_type: str | None) -> tuple[dict[str, Any], ...]:
    return tuple(sample_context(e) for e in ([event_type] if event_type else EVENT_TYPES))


def line_of(exc: BaseException) -> int | None:
    """The template line an error happened on (Jinja rewrites tracebacks to template lines)."""
    if isinstance(exc, TemplateSyntaxError):
        return exc.lineno
    line, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


_MARKER_KINDS: tuple[tuple[type[Exception], str], ...] = (
    (TemplateSyntaxError, "syntax error"),
    (UndefinedError, "undefined value"),
    (SecurityError, "operation not allowed"),
    (LimitError, "too much work or too large a value"),
)


def error_marker(exc: Exception) -> str:
    """A short note in place of the text; names the kind of error only, never its message,
    which could quote the event's values."""
    kind = next((label for cls, label in _MARKER_KINDS if isinstance(exc, cls)), None)
    line = line_of(exc)
    where = f" on line {line}" if line else ""
    return f"[template error: {kind or type(exc).__name__}{where}]"
