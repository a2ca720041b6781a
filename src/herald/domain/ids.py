"""Identifiers: UUIDv7 strings, so ids sort by creation time and serve as keyset cursors."""

from __future__ import annotations

import random
import threading
import time
import uuid

_lock = threading.Lock()
_random = random.Random()  # seeded from os.urandom; see new_id
_last = (0, 0)  # (milliseconds, 12-bit counter) of the previous id from this process


def new_id() -> str:
    """Return a new UUIDv7 (RFC 9562) as a lowercase string.

    Within one process ids strictly increase, even within a millisecond (the 12-bit `rand_a`
    field counts up, as RFC 9562 §6.2 method 1 allows), so records created one after another
    sort in creation order.
    """
    global _last
    with _lock:
        ms = time.time_ns() // 1_000_000
        last_ms, counter = _last
        if ms <= last_ms:
            ms, counter = last_ms, counter + 1
            if counter > 0xFFF:
                ms, counter = last_ms + 1, 0
        else:
            counter = _random.getrandbits(10)
        _last = (ms, counter)
    # Ids must be unique and ordered, not secret: a fast PRNG seeded from the OS is enough.
    tail = _random.getrandbits(62)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | tail
    return str(uuid.UUID(int=value))
