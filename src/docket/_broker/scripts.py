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

    def __init__(self, name: str, includes: Sequence[str] = ()) -> None:
        self.name = name
        folder = resources.files("docket._broker")
        # Shared helper files (``lua/<include>.lua``) go first inside the body, so
        # their local functions can use ``emit`` and the prelude's helpers.
        body = "".join(folder.joinpath(f"lua/{i}.lua").read_text() for i in includes)
        body += folder.joinpath(f"lua/{name}.lua").read_text()
        self.inline = _Variant(
            _prelude() + _PUBLISH_INLINE + body + "\nend\nreturn main()\n"
        )
        self.deferred = _Variant(
            _prelude() + _PUBLISH_AFTER + body + "\nend\nreturn {main(), OUTBOX}\n"
        )

    async def call_inline(
        self, client: Any, keys: Sequence[str], values: Sequence[str | bytes]
    ) -> Any:
        """Run the publishing-inline variant (Redis), loading it when needed."""
        try:
            return await client.evalsha(self.inline.sha, len(keys), *keys, *values)
        except NoScriptError:
            await client.script_load(self.inline.source)
            return await client.evalsha(self.inline.sha, len(keys), *keys, *values)

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


SCHEDULE = Script(
    "schedule", includes=["_lanes", "_fair", "_gates", "_steps", "_mailbox"]
)
CLAIM = Script("claim", includes=["_lanes", "_fair"])
SETTLE = Script("settle", includes=["_lanes", "_fair", "_gates", "_steps"])
CANCEL = Script("cancel", includes=["_lanes", "_fair", "_gates", "_steps"])
STREAM_DUE = Script(
    "stream_due", includes=["_lanes", "_fair", "_gates", "_steps", "_runs", "_mailbox"]
)
CLEAR = Script("clear", includes=["_lanes", "_fair", "_gates", "_steps", "_runs"])
DEAD_LETTER = Script(
    "dead_letter", includes=["_lanes", "_fair", "_gates", "_steps", "_runs"]
)
# A run's checkpoint: Checkpoint and Suspend (see docket._broker.steps).
STEPS_WRITE = Script("steps_write", includes=["_steps"])
STEPS_TAKE = Script(
    "steps_take", includes=["_lanes", "_fair", "_gates", "_steps", "_mailbox"]
)
# Signals: delivering one, taking a kept one (see docket._broker.mailbox).
SIGNAL = Script("signal", includes=["_lanes", "_fair", "_gates", "_mailbox"])
DEAD_PAGE = Script("dead_page")
SCAN_FAILED = Script("failed_scan")
SCHEDULED_SEARCH = Script("scheduled_search")
# Priority lanes: moving the best waiting tasks into the stream for a worker.
DISPATCH = Script("dispatch", includes=["_lanes"])
# Admission control; see docket._broker.admission.
CONCURRENCY_ACQUIRE = Script("concurrency_acquire", includes=["_lanes", "_concurrency"])
CONCURRENCY_RELEASE = Script("concurrency_release", includes=["_lanes", "_concurrency"])
CONCURRENCY_RENEW = Script("concurrency_renew")
CONCURRENCY_CANCEL = Script("concurrency_cancel", includes=["_lanes", "_concurrency"])
DEBOUNCE = Script("debounce")
RATELIMIT = Script("ratelimit")
COOLDOWN = Script("cooldown")
# Pausing a task type: holding its delivered work, releasing it.
PAUSE = Script("pause")
PAUSE_PARK = Script("pause_park")
# FairShare: releasing backlogs, weights (see docket._broker.fair).
FAIR_RELEASE = Script(
    "fair_release", includes=["_lanes", "_fair", "_gates", "_steps", "_runs"]
)
RESUME = Script("resume")
