import asyncio
from typing import Annotated
from docket import ConcurrencyLimit, Docket, Worker
from tests.conftest import eventually

async def test_annotated(docket: Docket, worker: Worker):
    active = 0; peak = 0; gate = asyncio.Event()
    async def job(customer_id: Annotated[int, ConcurrencyLimit(max_concurrent=2)]):
        nonlocal active, peak
        active += 1; peak = max(peak, active)
        await asyncio.wait_for(gate.wait(), 10)
        active -= 1
    for n in range(5):
        await docket.add(job)(1)
    run = asyncio.ensure_future(worker.run_until_finished())
    await eventually(lambda: active >= 2)
    await asyncio.sleep(0.3)
    gate.set()
    await asyncio.wait_for(run, 15)
    assert peak == 2

def test_key():
    c = ConcurrencyLimit(max_concurrent=2)
    print(c.concurrency_key)
