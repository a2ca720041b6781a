"""Fitting messages into the chat platforms' size limits, which count UTF-8 bytes.

Feishu, DingTalk and WeCom reject (or silently cut) messages past a byte limit, and a Chinese
character is three bytes. Senders first drop list entries (hosts, digest lines) and only then
shorten free text, so what is kept is always whole and says how much was left out.
"""

from __future__ import annotations

from collections.abc import Callable

ELLIPSIS = "…"


def utf8_len(text: str) -> int:
    """Length of `text` in UTF-8 bytes, the unit every platform limit uses."""
    return len(text.encode("utf-8"))


def truncate_utf8(text: str, max_bytes: int, ellipsis: str = ELLIPSIS) -> str:
    """`text` itself if it fits in `max_bytes` UTF-8 bytes, else its longest prefix that fits
    together with `ellipsis`.

    Never splits a code point. When not even the ellipsis fits, the result is the longest
    prefix of the ellipsis that does (possibly empty). Raises ValueError for negative limits.
    """
    if max_bytes < 0:
        raise ValueError(f"max_bytes must be 0 or more, got {max_bytes}")
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    room = max_bytes - utf8_len(ellipsis)
    if room < 0:
        return _prefix(ellipsis.encode("utf-8"), max_bytes)
    return _prefix(encoded, room) + ellipsis


def _prefix(encoded: bytes, max_bytes: int) -> str:
    # A cut inside a multi-byte sequence leaves an incomplete tail, which "ignore" drops.
    return encoded[:max_bytes].decode("utf-8", errors="ignore")


def largest_fitting(low: int, high: int, fits: Callable[[int], bool]) -> int | None:
    """The largest n in [low, high] with `fits(n)`, assuming `fits` holds up to some point
    and fails after it; None when `fits(low)` fails. Binary search: O(log(high - low)) calls.
    """
    if high < low or not fits(low):
        return None
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def fit_hosts(render: Callable[[int], bytes], host_count: int, max_bytes: int) -> bytes:
    """The rendering showing the most hosts that still fits in `max_bytes`.

    `render(n)` must show the first n hosts and, when n < host_count, a note such as "…(+k)"
    for the other k. All hosts are tried first (the usual case costs one call), then the
    largest n is found by binary search. Raises ValueError when even `render(0)` is too big:
    the caller must then shorten its text.
    """
    full = render(host_count)
    if len(full) <= max_bytes:
        return full
    best: dict[int, bytes] = {}

    def fits(n: int) -> bool:
        best[n] = render(n)
        return len(best[n]) <= max_bytes

    n = largest_fitting(0, max(host_count - 1, 0), fits)
    if n is None:
        raise ValueError(
            f"the message is {len(best[0])} bytes without any host, over the {max_bytes}-byte limit"
        )
    return best[n]
