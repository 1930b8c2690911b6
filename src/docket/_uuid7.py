"""UUIDv7 task keys: time-ordered, monotonic within the process."""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last = 0


def uuid7() -> uuid.UUID:
    """A version 7 UUID whose 74 bits after the timestamp increase monotonically."""
    global _last
    entropy = int.from_bytes(os.urandom(10), "big")  # one system call for both
    with _lock:
        millis = time.time_ns() // 1_000_000
        counter_bits = entropy >> 54  # 26 random bits
        candidate = (millis << 26) | counter_bits
        if candidate <= _last:
            candidate = _last + 1
        _last = candidate
    millis, sequence = candidate >> 26, candidate & ((1 << 26) - 1)
    rand_a = sequence >> 14  # 12 bits
    rand_b = ((sequence & 0x3FFF) << 48) | (entropy & ((1 << 48) - 1))
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76 | rand_a << 64
    value |= 0b10 << 62 | rand_b
    return uuid.UUID(int=value)
