"""Run one worker in a subprocess (started by ``processes.worker_process``).

``python -m tests._support.run_worker URL NAME WORKER REDELIVERY_MS TASKS`` where
TASKS is a ``module:collection`` of task functions to register.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

from docket import Docket, Worker


async def main(
    url: str, name: str, worker_name: str, redelivery_ms: int, tasks: str
) -> None:
    async with Docket(name=name, url=url) as docket:
        docket.register_collection(tasks)
        async with Worker(
            docket,
            name=worker_name,
            concurrency=4,
            redelivery_timeout=timedelta(milliseconds=redelivery_ms),
            minimum_check_interval=timedelta(milliseconds=10),
            scheduling_resolution=timedelta(milliseconds=10),
        ) as worker:
            await worker.run_forever()


if __name__ == "__main__":
    url, name, worker_name, redelivery, tasks = sys.argv[1:6]
    asyncio.run(main(url, name, worker_name, int(redelivery), tasks))
