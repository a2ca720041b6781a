"""Text every store can hold.

PostgreSQL `text` cannot hold the NUL character and neither store can encode an unpaired UTF-16
surrogate (U+D800–U+DFFF, which JSON's `\\ud800` escapes can produce) as UTF-8. Input from people
and API clients containing them is refused (`problem` names what is wrong); output Herald merely
records, such as what a deploy command printed, is made storable (`storable`).
"""

from __future__ import annotations

import re

_NUL = "\x00"
_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def problem(text: str) -> str | None:
    """Why `text` cannot be stored, or None if it can."""
    if _NUL in text:
        return "must not contain the NUL character (U+0000)"
    if _SURROGATE.search(text):
        return "must not contain an unpaired surrogate (U+D800-U+DFFF); send valid Unicode text"
    return None


def storable(text: str) -> str:
    """`text` with every NUL and unpaired surrogate replaced by U+FFFD, as undecodable bytes are."""
    if _NUL in text:
        text = text.replace(_NUL, REPLACEMENT)
    return _SURROGATE.sub(REPLACEMENT, text)
