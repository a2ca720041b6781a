"""Names and host names: the documented pattern and the domain rule accept the same text."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from herald.domain.labels import LABEL_PATTERN, MAX_HOST_LENGTH, is_host_name


def _acceptable(name: str) -> bool:
    """The rule in words, written independently of the pattern."""
    return (
        0 < len(name) <= MAX_HOST_LENGTH
        and name == name.strip()
        and name[0] != "\ufeff"
        and name[-1] != "\ufeff"
        and not any(unicodedata.category(ch) == "Cc" for ch in name)
    )


@given(st.text(max_size=20))
def test_any_text_is_judged_as_the_rule_says(name: str) -> None:
    assert is_host_name(name) == _acceptable(name)


@given(st.from_regex(LABEL_PATTERN, fullmatch=True).filter(lambda s: len(s) <= MAX_HOST_LENGTH))
def test_every_name_the_pattern_allows_is_accepted(name: str) -> None:
    assert is_host_name(name) and name == name.strip()


def test_usual_names_pass_and_edge_spaces_do_not() -> None:
    for name in ["web-1", "10.0.3.4", "支付-应用-01.pay.internal", "a", "pay 1"]:
        assert is_host_name(name), name
    for name in ["", " a", "a ", "a\u3000", "\u00a0a", "\ufeffa", "a\x85", "a\tb", "\x1f"]:
        assert not is_host_name(name), repr(name)


def test_an_organisation_rule_reaches_projects_carrying_all_its_labels() -> None:
    from herald.domain.subscriptions import reaches_project

    labels = {"tier": "production", "team": "pay"}
    assert reaches_project(None, labels) and reaches_project({}, {})
    assert reaches_project({"tier": "production"}, labels)
    assert reaches_project({"tier": "production", "team": "pay"}, labels)
    assert not reaches_project({"tier": "production", "team": "search"}, labels)
    assert not reaches_project({"tier": "staging"}, labels)
    assert not reaches_project({"region": "cn"}, labels)
