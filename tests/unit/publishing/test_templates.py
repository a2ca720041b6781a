"""Validation, lenient rendering, precedence, the context and applying templates to messages."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt

import pytest

from herald.domain.events import EVENT_TYPES, EventContext, EventPayload, EventType
from herald.domain.messages import build_message, text
from herald.domain.samples import sample_event
from herald.publishing.sandbox import TemplateSet
from herald.publishing.templates import (
    TITLE_LIMIT,
    TemplateError,
    apply_templates,
    build_context,
    pick,
    render,
    sample_context,
    validate_template,
    validate_templates,
)

NOW = dt.datetime(2026, 1, 6, 20, 0, tzinfo=dt.UTC)

EVERY_FIELD = """\
{{ event_type }} {{ title }} {{ locale }}
{{ project.id }} {{ project.name }} {{ project.description }}
{{ version.id }} {{ version.name }} {{ version.description }}
{{ task.id }} {{ task.type }} {{ task.strategy }} {{ task.status }}
{{ deployment.total_count }} {{ deployment.canary_count }} {{ deployment.completed_count }}
{{ deployment.failed_count }} {{ deployment.hosts|hosts(2) }}
{{ timestamp }} {{ duration }} {{ environment }} {{ phase }}
{{ failed_hosts|join(', ') }} {{ reason|default('-', true) }} {{ link }}
"""


def event(event_type: str = "task_failed") -> tuple[EventPayload, EventContext]:
    return sample_event("p-1", "支付服务", EventType(event_type), NOW, "evt-1")


# --- validation --------------------------------------------------------------------------------


def test_sample_context_renders_every_field() -> None:
    validate_template("templates.default.body", EVERY_FIELD)  # every event's sample
    output = render(EVERY_FIELD, sample_context("task_failed"))
    assert output.splitlines() == [
        "task_failed 发布失败 zh",
        "sample-project demo-service test notification",
        "sample-version v1.2.3 Herald test send",
        "sample-task deploy canary failed",
        "10 2 6",
        "2 web-01.example.internal, web-02.example.internal …(+8)",
        "2026-01-06T20:00:00Z 2m30s production full",
        "web-07.example.internal, web-08.example.internal"
        " 2 host(s) failed, more than the 1 tolerated"
        " https://herald.example.com/tasks/sample-task",
    ]


def test_undefined_names_are_reported_at_validation_but_empty_at_send() -> None:
    text = "a{{ nmae }}b{{ project.nmae }}c{{ projet.name.x }}d"
    with pytest.raises(TemplateError) as caught:
        validate_template("templates.default.body", text)
    assert str(caught.value).startswith("templates.default.body: line 1: 'nmae' is undefined")
    assert render(text, sample_context("canary_started")) == "abcd"


def test_undefined_in_a_branch_only_one_event_takes_is_found() -> None:
    text = "{% if event_type == 'task_stopped' %}{{ reasn }}{% endif %}"
    validate_template("templates.task_failed.body", text, event_type="task_failed")
    with pytest.raises(TemplateError, match="sample task_stopped event"):
        validate_template("templates.default.body", text)


def test_syntax_errors_name_key_line_and_jinja_message() -> None:
    with pytest.raises(TemplateError) as caught:
        validate_template("templates.task_failed.body", "ok\n{{ project.name }\n")
    error = caught.value
    assert (error.key, error.line) == ("templates.task_failed.body", 2)
    assert str(error) == "templates.task_failed.body: line 2: unexpected '}'"


def test_runtime_errors_name_their_line() -> None:
    with pytest.raises(TemplateError) as caught:
        validate_template("k", "a\nb\n{{ 1 / 0 }}")
    assert caught.value.line == 3
    assert "ZeroDivisionError" in str(caught.value)
    assert render("a\nb\n{{ 1 / 0 }}", sample_context("task_failed")) == (
        "[template error: ZeroDivisionError on line 3]"
    )


def test_output_over_the_cap_is_refused_at_validation() -> None:
    with pytest.raises(TemplateError, match="renders more than 16000 characters"):
        validate_template("k", "{{ 'x' * 16001 }}")
    validate_template("k", "{{ 'x' * 16000 }}")


def test_validate_templates_walks_every_key_and_field() -> None:
    good: TemplateSet = {
        "default": {"title": "{{ title }}", "body": None},
        "task_failed": {"body": "{{ reason }}"},
    }
    validate_templates(good, "templates")
    validate_templates(None, "templates")
    with pytest.raises(TemplateError) as caught:
        validate_templates({"default": {"title": "{{ x }}"}}, "channels.2.templates")
    assert caught.value.key == "channels.2.templates.default.title"
    with pytest.raises(TemplateError, match=r"^templates\.deployed: is neither"):
        validate_templates({"deployed": {"body": "x"}}, "templates")
    with pytest.raises(TemplateError, match="more than 200 characters"):
        validate_templates({"default": {"title": "x" * (TITLE_LIMIT + 1)}}, "templates")


def test_filters_outside_the_list_are_refused() -> None:
    with pytest.raises(TemplateError, match="no filter named 'round'"):
        validate_template("k", "{{ 1.5|round }}")


def test_filters_and_language_features() -> None:
    ctx = sample_context("task_failed")
    text = (
        "{% for h in failed_hosts %}{{ loop.index }}.{{ h|upper|truncate(9) }}"
        "{% if not loop.last %};{% endif %}{% endfor %}|{{ failed_hosts|length }}"
        "|{{ deployment.hosts|hosts }}|{{ [] |hosts }}|{{ 'AbC'|lower }}"
        "|{% set done = deployment.completed_count %}{{ '%d/%d' % (done, deployment.total_count) }}"
        "|{{ done * 100 // deployment.total_count if done else 'n/a' }}%"
        "|{{ link ~ '#' ~ task.id }}|{{ none }}|{{ range }}"
    )
    assert render(text, ctx) == (
        "1.WEB-07...;2.WEB-08...|2"
        "|web-01.example.internal, web-02.example.internal, web-03.example.internal,"
        " web-04.example.internal, web-05.example.internal, web-06.example.internal,"
        " web-07.example.internal, web-08.example.internal, web-09.example.internal,"
        " web-10.example.internal||abc|6/10|60%"
        "|https://herald.example.com/tasks/sample-task#sample-task||"
    )


def test_block_tags_on_their_own_line_leave_no_blank_lines() -> None:
    text = "项目：{{ project.name }}\n{% if reason %}\n原因：{{ reason }}\n{% endif %}\n完成\n"
    assert render(text, sample_context("canary_started")) == "项目：demo-service\n完成\n"


def test_chinese_round_trips() -> None:
    payload, context = event()
    ctx = build_context(payload, context, title="发布失败", link=None, locale="zh")
    assert render("【{{ project.name }}】{{ title }} ✅ 🚀", ctx) == "【支付服务】发布失败 ✅ 🚀"


# --- precedence ----------------------------------------------------------------------------------

CH_EVENT = {"title": "ch-event-title", "body": "ch-event-body"}
CH_DEFAULT = {"title": "ch-default-title", "body": "ch-default-body"}
CFG_EVENT = {"title": "cfg-event-title", "body": "cfg-event-body"}
CFG_DEFAULT = {"title": "cfg-default-title", "body": "cfg-default-body"}


@pytest.mark.parametrize(
    ("channel", "config", "expected"),
    [
        (None, None, {}),
        ({}, {}, {}),
        (
            None,
            {"default": CFG_DEFAULT},
            {"title": "cfg-default-title", "body": "cfg-default-body"},
        ),
        (
            None,
            {"default": CFG_DEFAULT, "task_failed": CFG_EVENT},
            {"title": "cfg-event-title", "body": "cfg-event-body"},
        ),
        (
            {"default": CH_DEFAULT},
            {"task_failed": CFG_EVENT},
            {"title": "ch-default-title", "body": "ch-default-body"},
        ),
        (
            {"default": CH_DEFAULT, "task_failed": CH_EVENT},
            {"task_failed": CFG_EVENT},
            {"title": "ch-event-title", "body": "ch-event-body"},
        ),
        # fields are chosen independently
        (
            {"task_failed": {"title": "ch-event-title"}},
            {"default": CFG_DEFAULT},
            {"title": "ch-event-title", "body": "cfg-default-body"},
        ),
        (
            {"default": {"body": "ch-default-body", "title": None}},
            {"task_failed": {"title": "cfg-event-title"}},
            {"title": "cfg-event-title", "body": "ch-default-body"},
        ),
        (
            {"task_failed": {"title": "", "body": "ch-event-body"}},
            {"default": {"title": "cfg-default-title"}},
            {"title": "cfg-default-title", "body": "ch-event-body"},
        ),
        # other events' templates never apply
        ({"canary_started": CH_EVENT}, {"full_completed": CFG_EVENT}, {}),
    ],
)
def test_pick_precedence(
    channel: TemplateSet | None, config: TemplateSet | None, expected: dict[str, str]
) -> None:
    assert pick("task_failed", channel, config) == expected


# --- context and messages ----------------------------------------------------------------------


def _plain(value: object) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return value is None or type(value) in (str, int)


def test_build_context_is_fresh_plain_data() -> None:
    payload, context = event()
    original = copy.deepcopy((payload, context))
    ctx = build_context(payload, context, title="发布失败", link="https://x/t", locale="en")
    assert _plain(ctx)
    assert set(ctx) == {
        "event_type",
        "title",
        "project",
        "version",
        "task",
        "deployment",
        "timestamp",
        "duration",
        "environment",
        "sequence",
        "context",
        "failure",
        "step",
        "phase",
        "failed_hosts",
        "reason",
        "link",
        "locale",
    }
    ctx["context"]["labels"]["team"] = "evil"
    ctx["deployment"]["hosts"].append("evil")
    ctx["project"]["name"] = "evil"
    ctx["failed_hosts"].clear()
    assert (payload, context) == original


def test_canary_count_is_none_when_absent() -> None:
    payload, context = event("full_completed")
    del payload["deployment"]["canary_count"]
    ctx = build_context(payload, context, title="t", link=None, locale="zh")
    assert ctx["deployment"]["canary_count"] is None
    assert render("[{{ deployment.canary_count }}]", ctx) == "[]"


def test_apply_templates_without_templates_returns_the_message() -> None:
    payload, context = event()
    message = build_message(payload, context, link=None)
    kwargs = {"channel_templates": None, "config_templates": {"canary_started": {"body": "x"}}}
    assert apply_templates(message, payload, context, locale="zh", **kwargs) is message


EN = text("en", "prefix")  # "Release notification: " — owned by herald.domain.messages


@pytest.mark.parametrize(
    ("locale", "title", "expected_headline"),
    [
        ("zh", "{{ project.name }} {{ title }}", "支付服务 发布失败"),
        ("zh", "发布通知：{{ project.name }}", "支付服务"),
        ("zh", "  发布通知：  {{ project.name }}  ", "支付服务"),
        ("en", "{{ project.name }}\n  failed ", "支付服务 failed"),
        ("en", EN + "{{ version.name }}", "v1.2.3"),
    ],
)
def test_apply_templates_sets_title_and_headline(
    locale: str, title: str, expected_headline: str
) -> None:
    payload, context = event()
    message = build_message(payload, context, locale=locale, link=None)
    result = apply_templates(
        message,
        payload,
        context,
        channel_templates={"task_failed": {"title": title}},
        config_templates=None,
        locale=locale,
    )
    assert result.headline == expected_headline
    assert result.title == text(locale, "prefix") + expected_headline
    assert result.body_override is None
    assert dataclasses.replace(result, title=message.title, headline=message.headline) == message


def test_apply_templates_sets_the_body_and_keeps_an_empty_title_s_default() -> None:
    payload, context = event()
    message = build_message(payload, context, link="https://herald/t/1")
    result = apply_templates(
        message,
        payload,
        context,
        channel_templates=None,
        locale="zh",
        config_templates={
            "default": {"title": "{{ nothing }}", "body": "**{{ title }}** {{ link }}"}
        },
    )
    assert result.title == message.title
    assert result.body_override == "**发布失败** https://herald/t/1"


def test_apply_templates_cannot_change_the_event() -> None:
    payload, context = event()
    original = copy.deepcopy((payload, context))
    message = build_message(payload, context, link=None)
    result = apply_templates(
        message,
        payload,
        context,
        locale="zh",
        channel_templates=None,
        config_templates={
            "default": {"body": "{{ deployment.hosts.append('x') }}{{ project.update({}) }}"}
        },
    )
    assert result.body_override == "[template error: operation not allowed on line 1]"
    assert (payload, context) == original


def test_every_event_type_has_a_sample() -> None:
    for event_type in EVENT_TYPES:
        assert sample_context(event_type)["event_type"] == event_type


def test_one_configuration_shares_one_work_budget() -> None:
    busy = (
        "{% for i in range(10000) %}{% for j in range(5) %}{% endfor %}{% endfor %}"  # ~70k steps
    )
    validate_templates({"task_failed": {"body": busy}}, "templates")
    validate_templates({"task_stopped": {"body": busy}}, "templates")
    with pytest.raises(TemplateError, match="too much work"):
        validate_templates(
            {key: {"body": busy} for key in ("task_failed", "task_stopped", "long_running")},
            "templates",
        )
    assert not render(busy, sample_context("task_failed")).startswith("[template error")


def test_templates_see_the_release_context_the_failure_and_the_step() -> None:
    text = (
        "{{ context.operator }} {{ context.commit[:7] }} {{ context.links[0].url }}"
        "{% if failure %} {{ failure.failed_hosts|join(',') }}{% endif %}"
        "{% if step %} {{ step.index }}/{{ step.total }} {{ step.weight }}%{% endif %}"
    )
    validate_template("templates.default.body", text)  # every event's sample has them
    assert render(text, sample_context("canary_step")) == (
        "alice 9fceb02 https://grafana.example.com/d/payments 1/2 10%"
    )
    assert render(text, sample_context("task_failed")).endswith(
        " web-07.example.internal,web-08.example.internal"
    )
    payload, context = event("full_completed")
    del payload["context"], context["release"]
    bare = build_context(payload, context, title="t", link=None, locale="zh")
    assert (bare["context"], bare["failure"], bare["step"]) == ({}, None, None)
    assert render(text, bare) == "  "  # a task without context: empty text, never an error
