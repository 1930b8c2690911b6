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
    return resources.files("docket._broker").joinpath("lua/_prelude.lua").read_text()


# Redis delivers what a script publishes. The embedded engine does not deliver
# PUBLISH calls made inside scripts, so there a script collects its messages in an
# outbox, returns them beside its result, and the caller publishes them.
_PUBLISH_INLINE = """
local function emit(channel, payload) redis.call('PUBLISH', channel, payload) end
local function main()
"""
_PUBLISH_AFTER = """
local OUTBOX = {}
local function emit(channel, payload)
  OUTBOX[#OUTBOX + 1] = channel
  OUTBOX[#OUTBOX + 1] = payload
end
local function main()
"""


class _Variant:
    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()


class Script:
    """One operation's script: run by SHA, loaded again when the server forgot it."""

    def __init__(self, name: str) -> None:
        self.name = name
        body = resources.files("docket._broker").joinpath(f"lua/{name}.lua").read_text()
        self.inline = _Variant(
            _prelude() + _PUBLISH_INLINE + body + "\nend\nreturn main()\n"
        )
        self.deferred = _Variant(
            _prelude() + _PUBLISH_AFTER + body + "\nend\nreturn {main(), OUTBOX}\n"
        )

    async def __call__(
        self,
        client: Any,
        keys: Sequence[str],
        args: Sequence[Arg],
        publish_after: bool = False,
    ) -> Any:
        variant = self.deferred if publish_after else self.inline
        values = [a if isinstance(a, (str, bytes)) else str(a) for a in args]
        try:
            reply = await client.evalsha(variant.sha, len(keys), *keys, *values)
        except NoScriptError:
            await client.script_load(variant.source)
            reply = await client.evalsha(variant.sha, len(keys), *keys, *values)
        if not publish_after:
            return reply
        result, outbox = reply
        for i in range(0, len(outbox), 2):
            await client.publish(outbox[i], outbox[i + 1])
        return result


SCHEDULE = Script("schedule")
CLAIM = Script("claim")
SETTLE = Script("settle")
CANCEL = Script("cancel")
STREAM_DUE = Script("stream_due")
