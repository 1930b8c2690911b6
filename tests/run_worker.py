"""Run one worker in a subprocess: python -m tests.run_worker URL NAME WORKER [REDELIVERY_MS]."""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

from docket import Docket, Worker


async def main(url: str, name: str, worker_name: str, redelivery_ms: int) -> None:
    async with Docket(name=name, url=url) as docket:
        docket.register_collection("tests.process_tasks:tasks")
        async with Worker(
            docket,
            name=worker_name,
            concurrency=4,
            redelivery_timeout=timedelta(milliseconds=redelivery_ms),
            minimum_check_interval=timedelta(milliseconds=20),
            scheduling_resolution=timedelta(milliseconds=20),
        ) as worker:
            await worker.run_forever()


if __name__ == "__main__":
    url, name, worker_name = sys.argv[1:4]
    redelivery = int(sys.argv[4]) if len(sys.argv) > 4 else 300_000
    asyncio.run(main(url, name, worker_name, redelivery))
