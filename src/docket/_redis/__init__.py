"""The client seam: the only code that knows which engine serves a URL.

``redis://``, ``rediss://`` and ``unix://`` go through redis-py; ``memory://``
goes through the embedded burner-redis engine. Everything above this package
talks to a :class:`Backend` and never asks which one it got.
"""

from .backend import Backend, open_backend
from .memory import clear_memory_servers, get_memory_server
from .urls import is_memory_url, redact_url

__all__ = [
    "Backend",
    "clear_memory_servers",
    "get_memory_server",
    "is_memory_url",
    "open_backend",
    "redact_url",
]
