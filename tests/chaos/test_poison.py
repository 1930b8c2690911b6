"""Poison: malformed entries written straight into the stream with XADD, among
good tasks. The workers keep running, every good task completes, and each bad
entry ends in the dead-letter stream ``P:dead`` (read with XRANGE). A key that
holds the ``\x1e``/``\x1f`` separators is a legal key (keys may hold any
character), so that entry passes if it runs exactly once OR is dead-lettered
without running: either way it did not break its batch."""

from __future__ import annotations

import asyncio
import pickle
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, cast

import pytest

from tests.chaos.profiles import Profile, timeout
from tests.chaos.scenario import Scenario, mentions

pytestmark = pytest.mark.timeout(timeout())

SEPARATOR_KEY = "poison-separator-\x1ekey\x1f-end"


def entry(key: str, **fields: bytes) -> dict[bytes, bytes]:
    """A well-formed task message for ``work(0.01)`` under ``key`` (generation 0:
    no run record to check against), with ``fields`` replaced."""
    message = {
        b"key": key.encode(),
        b"when": datetime.now(timezone.utc).isoformat().encode(),
        b"function": b"work",
        b"args": pickle.dumps((0.01,)),
        b"kwargs": pickle.dumps({}),
        b"attempt": b"1",
        b"generation": b"0",
    }
    message.update({name.encode(): value for name, value in fields.items()})
    return message


def poisons() -> dict[str, dict[bytes, bytes]]:
    naive = datetime.now().replace(tzinfo=None).isoformat().encode()
    return {
        "poison-generation": entry("poison-generation", generation=b"seven"),
        SEPARATOR_KEY: entry(SEPARATOR_KEY),
        "poison-naive-when": entry("poison-naive-when", when=naive),
        # (a pickled list is what earlier releases wrote: it runs, it is no poison)
        "poison-args-dict": entry("poison-args-dict", args=pickle.dumps({"s": 0.01})),
        "poison-kwargs-list": entry(
            "poison-kwargs-list", kwargs=pickle.dumps([("seconds", 0.01)])
        ),
        "poison-unpicklable": entry("poison-unpicklable", args=b"\x80\x05not a pickle"),
    }


async def test_poison_entries(profile: Profile, tmp_path: Path) -> None:
    """Six malformed entries among good tasks (and one well-formed raw entry as a
    control, which must run). A key containing the separators ``\\x1e``/``\\x1f``
    may be run (keys may hold any character) or dead-lettered; either way once,
    and never breaking its batch-mates."""
    async with Scenario("poison-entries", profile, tmp_path) as s:
        await s.start_workers("w1", "w2")
        good = s.producer("task", profile.tasks // 3)
        production = asyncio.create_task(good.run(patience=30))
        assert await s.flowing(set(good.keys), 0.1), "no traffic before the poison"
        bad = poisons()
        raw = {"raw-control": entry("raw-control"), **bad}
        ids: dict[str, bytes] = {}
        for key, fields in raw.items():
            added = await s.control.xadd(s.docket.stream_key, cast(Any, fields))
            ids[key] = cast(bytes, added)
            await asyncio.sleep(0.05)  # among the good traffic
        await production
        expected = set(good.confirmed) | {"raw-control"}

        def lettered(letters: list[dict[bytes, bytes]] | None, key: str) -> bool:
            return mentions(letters, key) or mentions(letters, ids[key].decode())

        async def handled(key: str) -> bool:
            letters = await s.dead_letters()
            if key == SEPARATOR_KEY:
                runs = len(s.journal.finishes.get(key, []))
                starts = len(s.journal.starts.get(key, []))
                ran_once = runs == 1 and starts == 1 and not lettered(letters, key)
                return ran_once or (starts == 0 and lettered(letters, key))
            return lettered(letters, key)

        async def done() -> bool:
            # A worker that dies is a failure (outcome() lists it), but restart it
            # as a supervisor would, to see what becomes of every bad entry.
            s.fleet.restart_dead()
            if s.journal.poll().finished(expected) < len(expected):
                return False
            if not all([await handled(k) for k in bad]):
                return False
            return await s.backlog() == (0, 0)

        drained = await s.until(done, profile.drain_timeout)
        outcome = await s.outcome(expected, drained=drained)
        letters = await s.dead_letters()
        if letters is None:
            outcome.check(False, f"no dead-letter stream {s.docket.key('dead')}")
        missing = [k for k in bad if not await handled(k)]
        count = sum(1 for k in bad if lettered(letters, k))
        outcome.details.append(f"dead-lettered {count}/{len(bad)}")
        if s.journal.finishes.get(SEPARATOR_KEY):
            outcome.details.append("the separator key ran as a task")
        outcome.check(not missing, f"not dead-lettered (or run once): {missing}")
        ran = [k for k in bad if k != SEPARATOR_KEY and s.journal.starts.get(k)]
        outcome.check(not ran, f"malformed entries ran: {ran}")
        s.verdict(outcome)
