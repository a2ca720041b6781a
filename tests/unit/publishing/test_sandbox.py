"""Templates cannot escape the sandbox, run long, or produce unbounded output."""

from __future__ import annotations

import time

import pytest

from herald.publishing.templates import (
    OUTPUT_LIMIT,
    TemplateError,
    render,
    sample_context,
    validate_template,
)

KEY = "templates.task_failed.body"

# Each of these must be refused at validation and render harmlessly at send time.
ESCAPES = {
    "str mro": "{{ ''.__class__.__mro__ }}",
    "dict class": "{{ project.__class__ }}",
    "cycler globals": "{{ cycler.__init__.__globals__ }}",
    "lipsum globals": "{{ lipsum.__globals__ }}",
    "range globals": "{{ range.__globals__ }}",
    "import": "{% import 'os' as os %}",
    "include": "{% include 'x' %}",
    "extends": "{% extends 'x' %}",
    "template reference": "{{ self._TemplateReference__context }}",
    "private attribute": "{{ project._private }}",
    "private item": "{{ project['_private'] }}",
    "computed private item": "{% set k = '_private' %}{{ project[k] }}",
    "list append": "{{ deployment.hosts.append('x') }}",
    "dict update": "{{ project.update({'name': 'x'}) }}",
    "method call": "{{ project.name.upper() }}",
    "str.format": "{{ '{0.__class__}'.format(project) }}",
    "attr filter": "{{ project|attr('__class__') }}",
    "unknown filter in untaken branch": "{% if false %}{{ x|map('upper') }}{% endif %}",
    "macro": "{% macro f() %}{% endmacro %}",
    "call block": "{% call range(1) %}{% endcall %}",
    "filter block": "{% filter upper %}x{% endfilter %}",
    "block set": "{% set x %}y{% endset %}",
    "recursive loop": "{% for x in deployment.hosts recursive %}{{ loop(x) }}{% endfor %}",
    "namespace": "{% set ns = namespace(a=1) %}",
    "huge repeat": "{{ 'x' * 10**9 }}",
    "huge list repeat": "{{ [1] * 10**9 }}",
    "huge power": "{{ 10 ** 100000 }}",
    "huge format width": "{{ '%1000000000s' % 'x' }}",
    "huge range": "{% for i in range(10**8) %}x{% endfor %}",
    "huge range count": "{{ range(10**100)|length }}",
    "nested loops": "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}",
    "nested loops over data": (
        "{% for a in 'x' * 10000 %}{% for b in 'x' * 10000 %}{% endfor %}{% endfor %}"
    ),
    "shared list doubling": "{% set a = [1] %}" + "{% set a = [a, a] %}" * 60 + "{{ a }}",
}


@pytest.fixture(scope="module")
def ctx() -> dict[str, object]:
    return sample_context("task_failed")


@pytest.mark.parametrize("text", ESCAPES.values(), ids=ESCAPES.keys())
def test_escape_is_refused_at_validation(text: str) -> None:
    with pytest.raises(TemplateError) as caught:
        validate_template(KEY, text)
    assert str(caught.value).startswith(KEY + ": ")


@pytest.mark.parametrize("text", ESCAPES.values(), ids=ESCAPES.keys())
def test_escape_renders_harmlessly_and_fast(text: str, ctx: dict[str, object]) -> None:
    started = time.perf_counter()
    output = render(text, ctx)
    assert time.perf_counter() - started < 1.0
    assert len(output) <= OUTPUT_LIMIT
    assert "class" not in output
    assert "globals" not in output
    deployment = ctx["deployment"]
    assert isinstance(deployment, dict)
    assert deployment["hosts"] == sample_context("task_failed")["deployment"]["hosts"]


def test_output_is_capped_while_rendering(ctx: dict[str, object]) -> None:
    started = time.perf_counter()
    output = render("{% for i in range(10000) %}{{ 'x' * 1000 }}{% endfor %}", ctx)
    assert time.perf_counter() - started < 1.0
    assert len(output) == OUTPUT_LIMIT
    assert output.endswith("…")
    assert output[:-1] == "x" * (OUTPUT_LIMIT - 1)


def test_the_brief_s_range_example_ends_fast(ctx: dict[str, object]) -> None:
    # range() is limited to 10,000 items, so this one stops with a marker instead of a cut.
    started = time.perf_counter()
    output = render("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", ctx)
    assert time.perf_counter() - started < 1.0
    assert output.startswith("[template error:")


def test_smaller_caps_are_honoured(ctx: dict[str, object]) -> None:
    assert render("{{ project.name }}", ctx, max_chars=5) == "demo…"
    assert len(render("{{ x( }}", ctx, max_chars=5)) == 5


@pytest.mark.parametrize(
    "text",
    [
        # Work that is cheap per step but huge in total stops at the step or time budget.
        "{% set a = [0] * 40000 %}{% set b = [0] * 40000 %}"
        "{% for i in range(10000) %}{% for j in range(10000) %}"
        "{% if a == b %}{% endif %}{% endfor %}{% endfor %}",
        "{% for i in range(10000) %}{% if ('x' * 100000)|upper == 'y' %}{% endif %}{% endfor %}",
        "{% for i in range(10000) %}{{ loop.cycle(*range(10000)) }}{% endfor %}",
    ],
)
def test_expensive_steps_stop_within_a_second(text: str, ctx: dict[str, object]) -> None:
    # These spend the whole 0.5 s CPU budget; CPU time, unlike wall time, ignores a busy machine.
    started = time.thread_time()
    output = render(text, ctx)
    assert time.thread_time() - started < 1.0
    assert output == "[template error: too much work or too large a value on line 1]"


@pytest.mark.parametrize(
    "text",
    [
        "{% set s = 'xx' %}" + "{% set s = s ~ s %}" * 100 + "{{ s|length }}",
        "{{ deployment.hosts|join('x' * 99000) }}",
        "{{ (['x' * 99990] * 1)|hosts(10**9) }}",
    ],
)
def test_text_building_is_bounded(text: str, ctx: dict[str, object]) -> None:
    started = time.perf_counter()
    output = render(text, ctx)
    assert time.perf_counter() - started < 1.0
    assert len(output) <= OUTPUT_LIMIT


def test_deep_nesting_is_an_error_not_a_crash(ctx: dict[str, object]) -> None:
    text = "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}"
    assert render(text, ctx).startswith("[template error:")
    with pytest.raises(TemplateError, match="cannot be compiled"):
        validate_template(KEY, text)


def test_error_markers_never_quote_the_event(ctx: dict[str, object]) -> None:
    secret = "s3cr3t-value"
    values = dict(ctx, reason=secret, project={"id": "p", "name": secret, "description": ""})
    for text in [
        "{{ reason + 1 }}",
        "{{ 1 + reason }}",
        "{{ reason % 1 }}",
        "{{ reason|truncate(1) }}",
        "{{ project.name.__len__ }}",
        "{{ reason() }}",
        "{{ reason.split() }}",
    ]:
        output = render(text, values)
        assert output.startswith("[template error: ")
        assert secret not in output
