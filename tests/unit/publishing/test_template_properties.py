"""Whatever text reaches `render`, it returns within the cap and never raises."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from herald.publishing.templates import OUTPUT_LIMIT, render, sample_context

CTX = sample_context("task_failed")

# Fragments that make random text look like templates, so the parser gets past the first token.
TOKENS = [
    "{{", "}}", "{%", "%}", "{#", "#}", " ", "\n", "for ", " in ", "endfor", "if ", "endif",
    "else", "set ", "=", "~", "*", "**", "%", "+", "(", ")", "[", "]", ",", ".", "|", "'x'",
    "10", "9", "range(", "project", ".name", "deployment", ".hosts", "failed_hosts", "loop",
    ".index", "hosts", "join", "upper", "truncate", "default", "__class__", "_", "发布",
    "none", "true", "reason", "not ", " and ", "==", "is ", "defined",
]  # fmt: skip

template_text = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=3)), max_size=60).map("".join),
)


@settings(max_examples=400, deadline=None, database=None)
@given(text=template_text)
def test_render_never_raises_and_respects_the_cap(text: str) -> None:
    output = render(text, CTX)
    assert isinstance(output, str)
    assert len(output) <= OUTPUT_LIMIT


@settings(max_examples=200, deadline=None, database=None)
@given(text=template_text, cap=st.integers(min_value=1, max_value=60))
def test_small_caps_hold_for_any_text(text: str, cap: int) -> None:
    assert len(render(text, CTX, max_chars=cap)) <= cap
