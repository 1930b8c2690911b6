"""TaskCall: one fully resolved scheduling request, for ``add_many``/``replace_many``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ._handles import TaskFunction


@dataclass(frozen=True)
class TaskCall:
    """What to schedule: the function, its arguments, the key and the time.

    ``Docket.call(fn, when=, key=)(*args, **kwargs)`` builds one (registering the
    function and fixing the key and time); it may also be built directly. A None
    ``function_name`` means the message names ``function.__name__``. It compares
    field by field; it is not hashable (``kwargs`` is a dict).
    """

    function: TaskFunction
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    key: str
    when: datetime
    function_name: str | None = None


__all__ = ["TaskCall"]
