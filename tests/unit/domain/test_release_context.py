"""The release context's validation: what a pipeline may attach to a task."""

from __future__ import annotations

import pytest

from herald.domain.errors import InvalidInput
from herald.domain.release_context import normalise_context


def test_empty_fields_are_dropped_and_order_is_display_order() -> None:
    context = normalise_context(
        {
            "labels": {"team": " payments "},
            "commit": " 9f2c1e7 ",
            "operator": "alice",
            "ref": "",
            "links": [{"url": "https://ci.example.com/runs/812"}],
        }
    )
    assert list(context) == ["operator", "commit", "links", "labels"]
    assert context["commit"] == "9f2c1e7"
    assert context["links"] == [
        {"title": "https://ci.example.com/runs/812", "url": "https://ci.example.com/runs/812"}
    ]
    assert context["labels"] == {"team": "payments"}


def test_none_and_empty_give_an_empty_context() -> None:
    assert normalise_context(None) == {}
    assert normalise_context({}) == {}


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"author": "x"}, "unknown field 'author'"),
        ({"operator": 3}, "context.operator: must be a string"),
        ({"operator": "a\nb"}, "one line"),
        ({"pipeline_url": "javascript:alert(1)"}, "http(s) URL"),
        ({"links": [{"title": "x"}]}, "links[0].url: required"),
        ({"links": "https://x"}, "list of {title, url}"),
        ({"changelog": "x" * 4001}, "at most 4000"),
        ({"labels": {"k": 1}}, "context.labels"),
    ],
)
def test_bad_context_is_refused_with_the_field_named(raw: dict[str, object], needle: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalise_context(raw)
    assert needle in str(caught.value)


def test_changelog_keeps_its_lines() -> None:
    assert normalise_context({"changelog": "- fix a\n- add b"})["changelog"] == "- fix a\n- add b"
