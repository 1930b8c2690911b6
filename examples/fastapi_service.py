"""A FastAPI service that hands work to Docket: sign-ups send a welcome email in
the background, and the dashboard is served under /admin/docket.

Run it (configured by DOCKET_URL and DOCKET_NAME, like the docket CLI):

    DOCKET_URL=redis://localhost:6379/0 uvicorn examples.fastapi_service:app
    docket worker --tasks examples.fastapi_service:tasks

then `curl -X POST 'localhost:8000/signups?email=ann@example.com'`, follow the
task at /signups/<key>, and watch it on http://localhost:8000/admin/docket.
Set DOCKET_DASHBOARD_TOKEN to require a token for the dashboard's actions.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException

from docket import Docket, ExecutionState, TaskKey
from docket.contrib.fastapi import docket_lifespan, get_docket, mount_dashboard


async def send_welcome(email: str, key: str = TaskKey()) -> str:
    """Pretend to send a welcome email (a real one would call a mail API)."""
    await asyncio.sleep(0.05)
    return f"welcomed {email} ({key})"


tasks = [send_welcome]  # `docket worker --tasks examples.fastapi_service:tasks`

lifespan = docket_lifespan(tasks=tasks)  # DOCKET_NAME, DOCKET_URL
app = FastAPI(title="Sign-ups", lifespan=lifespan)
mount_dashboard(app, lifespan.docket)  # /admin/docket

DocketDependency = Annotated[Docket, Depends(get_docket)]


@app.post("/signups", status_code=202)
async def sign_up(email: str, docket: DocketDependency) -> dict[str, str]:
    """Accept a sign-up; the welcome email goes out in the background, once
    per address (the address is in the task key)."""
    execution = await docket.add(send_welcome, key=f"welcome:{email}")(email)
    return {"key": execution.key, "state": execution.state.value}


@app.get("/signups/{key}")
async def sign_up_status(key: str, docket: DocketDependency) -> dict[str, Any]:
    """Where the welcome email of ``key`` is, and its result once sent."""
    execution = await docket.get_execution(key)
    if execution is None:
        raise HTTPException(404, f"no task {key!r}")
    answer: dict[str, Any] = {"key": key, "state": execution.state.value}
    if execution.state is ExecutionState.COMPLETED:
        answer["result"] = await execution.get_result()
    elif execution.state is ExecutionState.FAILED:
        answer["error"] = execution.error
    return answer
