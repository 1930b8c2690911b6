"""A tour of Docket on the embedded memory:// engine: no Redis server needed.

Shows an immediate task with a result, a task scheduled for later, a flaky task
that succeeds on its third attempt, and a perpetual task run three times.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta, timezone

from docket import Docket, Perpetual, Retry, Worker

started = time.monotonic()
attempts: dict[str, int] = {}


def stamp(text: str) -> None:
    print(f"[{time.monotonic() - started:6.3f}s] {text}")


async def add_numbers(a: int, b: int) -> int:
    stamp(f"add_numbers({a}, {b}) running")
    return a + b


async def remind(message: str) -> None:
    stamp(f"reminder: {message}")


async def flaky(
    name: str, retry: Retry = Retry(attempts=3, delay=timedelta(milliseconds=100))
) -> str:
    attempts[name] = attempts.get(name, 0) + 1
    if retry.attempt < 3:
        stamp(f"flaky({name!r}) attempt {retry.attempt} fails")
        raise ConnectionError("the network blinked")
    stamp(f"flaky({name!r}) attempt {retry.attempt} succeeds")
    return f"{name} done after {retry.attempt} attempts"


async def heartbeat(
    perpetual: Perpetual = Perpetual(every=timedelta(milliseconds=150)),
) -> None:
    stamp("heartbeat tick")


async def main() -> None:
    async with Docket(name="demo", url="memory://demo") as docket:
        total = await docket.add(add_numbers)(2, 3)
        now = datetime.now(timezone.utc)
        later = await docket.add(remind, when=now + timedelta(milliseconds=300))(
            "stretch your legs"
        )
        retried = await docket.add(flaky)("upload")
        await docket.add(heartbeat, key="heartbeat")()
        stamp(
            f"scheduled: {total.key[:8]}… ({total.state.value}), reminder ({later.state.value})"
        )

        async with Worker(
            docket, minimum_check_interval=timedelta(milliseconds=10)
        ) as worker:
            await worker.run_at_most({"heartbeat": 3})

        stamp(f"add_numbers result: {await total.get_result()}")
        stamp(f"flaky result: {await retried.get_result()}")
        await later.sync()
        stamp(f"reminder state: {later.state.value}")
        assert await total.get_result() == 5
        assert attempts["upload"] == 3


if __name__ == "__main__":
    # The worker logs each failed attempt with its traceback; the demo prints its own lines.
    logging.getLogger("docket").setLevel(logging.CRITICAL)
    asyncio.run(main())
    stamp("demo finished: immediate, scheduled, retried and perpetual tasks all ran")
