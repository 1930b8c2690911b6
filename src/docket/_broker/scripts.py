"""Loading and calling the Lua scripts of ``lua/``: one file per atomic operation."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

from redis.exceptions import NoScriptError

Arg = str | bytes | int | float


@cache
def _prelude() -> str:
    return resources.files(__package__).joinpath("lua/_prelude.lua").read_text()


class Script:
    """One operation's script: run by SHA, loaded again when the server forgot it."""

    def __init__(self, name: str) -> None:
        self.name = name
        body = resources.files(__package__).joinpath(f"lua/{name}.lua").read_text()
        self.source = _prelude() + "\n" + body
        self.sha = hashlib.sha1(self.source.encode()).hexdigest()

    async def __call__(
        self, client: Any, keys: Sequence[str], args: Sequence[Arg]
    ) -> Any:
        values = [a if isinstance(a, (str, bytes)) else str(a) for a in args]
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *values)
        except NoScriptError:
            await client.script_load(self.source)
            return await client.evalsha(self.sha, len(keys), *keys, *values)


SCHEDULE = Script("schedule")
CLAIM = Script("claim")
SETTLE = Script("settle")
CANCEL = Script("cancel")
STREAM_DUE = Script("stream_due")
