"""What every group of broker operations shares."""

from __future__ import annotations

from typing import Any

from .._keys import Keyspace
from .._redis import Backend


class BrokerBase:
    backend: Backend
    client: Any
    keys: Keyspace
    group: str
