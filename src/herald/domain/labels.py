"""Names and host names: text that Herald puts into chat messages, history and the UI."""

from __future__ import annotations

import re

MAX_HOST_LENGTH = 253

# No control characters; no spaces of any kind at either end. Ranges are spelled out (not `\s`)
# because Python, pydantic's Rust engine and the JSON Schema (ECMA) engines of API clients
# disagree on which characters `\s` covers.
_CONTROLS = r"\x00-\x1f\x7f-\x9f"
_SPACES = r"\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
LABEL_PATTERN = rf"^[^{_SPACES}]([^{_CONTROLS}]*[^{_SPACES}])?$"
_LABEL = re.compile(LABEL_PATTERN)
_HAS_CONTROL = re.compile(rf"[{_CONTROLS}]")


def is_label(text: str) -> bool:
    """True if `text` is non-empty, has no control characters and no spaces at either end."""
    return _LABEL.fullmatch(text) is not None


def is_host_name(name: str) -> bool:
    """A label of at most MAX_HOST_LENGTH characters."""
    return len(name) <= MAX_HOST_LENGTH and is_label(name)


def has_control_characters(text: str) -> bool:
    """True when `text` holds a C0 or C1 control character (newlines and tabs included)."""
    return _HAS_CONTROL.search(text) is not None
