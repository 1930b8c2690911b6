"""The task page ``/tasks/{key}`` (and ``/api/tasks/{key}``): state, timeline
with every attempt and its traceback, arguments (never unpickled unless they
verify, are JSON, or the dashboard was started with ``unpickle``), result or
exception, progress, and the actions that apply; every row links to it."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta, timezone

from docket import CurrentExecution, Docket, Execution, Retry, Worker
from tests._support.timings import FAST
from tests.web.conftest import client_of, post


async def twice_broken(
    label: str,
    execution: Execution = CurrentExecution(),
    retry: Retry = Retry(attempts=2),
) -> None:
    raise ValueError(f"attempt {execution.attempt} of {label} breaks")


async def answer(value: int) -> dict[str, int]:
    return {"answer": value}


def soon() -> datetime:
    return datetime.now(timezone.utc) + timedelta(hours=1)


async def run_all(docket: Docket) -> None:
    async with Worker(docket, **FAST) as worker:
        await worker.run_until_finished()


async def test_a_failed_task_shows_each_attempt_with_its_traceback(docket: Docket):
    """A task that failed on both of its attempts: its page shows the failure,
    both attempts (worker, outcome, the traceback of each), the arguments as a
    placeholder (unsigned pickles are never unpickled) and a replay button; the
    failed list links to it, and the JSON form says the same."""
    docket.register(twice_broken)
    await docket.add(twice_broken, key="broken-1")("<b>label</b>")
    await run_all(docket)
    async with client_of(docket) as client:
        page = await client.get("/tasks/broken-1")
        assert page.status_code == 200
        text = html.unescape(page.text)
        assert 'data-state="failed"' in page.text
        assert "attempt 1 of <b>label</b> breaks" in text
        assert "attempt 2 of <b>label</b> breaks" in text
        assert "<b>label</b>" not in page.text  # escaped
        assert len(re.findall(r'data-attempt="\d"', page.text)) == 2
        assert text.count("Traceback (most recent call last)") >= 2
        assert "args <pickled, " in text
        assert 'data-action="/failed/replay"' in page.text
        assert 'data-action="/tasks/cancel"' not in page.text
        document = (await client.get("/api/tasks/broken-1")).json()
        assert document["state"] == "failed" and document["retries"] == 1
        assert [a["outcome"] for a in document["attempts"]] == ["retried", "failed"]
        assert all(a["traceback"] for a in document["attempts"])
        assert document["actions"] == ["replay"]
        failed = await client.get("/failed")
        assert 'href="/tasks/broken-1"' in failed.text


async def test_a_scheduled_task_has_its_actions_and_they_come_back_to_it(
    docket: Docket,
):
    """A task due in an hour: its page shows it scheduled, with run now,
    reschedule and cancel; the tasks page links to it; cancelling from the task
    page comes back to the task page, which then says cancelled."""
    docket.register(answer)
    await docket.add(answer, key="later/one", when=soon())(7)
    async with client_of(docket) as client:
        listing = await client.get("/tasks")
        assert 'href="/tasks/later/one"' in listing.text
        page = await client.get("/tasks/later/one")
        assert 'data-state="scheduled"' in page.text
        for action in ("/tasks/run-now", "/tasks/reschedule", "/tasks/cancel"):
            assert f'data-action="{action}"' in page.text
        done = await post(client, "/tasks/cancel", key="later/one", back="task")
        assert done.status_code == 303
        assert done.headers["location"].startswith("/tasks/later/one?notice=")
        after = await client.get(done.headers["location"])
        assert 'data-state="cancelled"' in after.text
        assert "Cancelled later/one" in after.text


async def test_results_and_arguments_are_decoded_only_when_safe(
    docket: Docket, docket_url: str, docket_name: str
):
    """A completed task's result and arguments are placeholders on a docket of
    unsigned pickles, shown with ``unpickle``, and shown without it when the
    docket writes JSON."""
    docket.register(answer)
    await docket.add(answer, key="answered")(41)
    await run_all(docket)
    async with client_of(docket) as client:
        document = (await client.get("/api/tasks/answered")).json()
    assert document["state"] == "completed"
    assert document["result"].startswith("<hidden")
    assert document["arguments"].startswith("<not kept")
    async with client_of(docket, unpickle=True) as client:
        document = (await client.get("/api/tasks/answered")).json()
    assert document["result"] == "{'answer': 41}"

    async with Docket(
        name=f"{docket_name}-json", url=docket_url, serializer="json"
    ) as plain:
        plain.register(answer)
        await plain.add(answer, key="done")(6)
        await run_all(plain)
        await plain.add(answer, key="waiting", when=soon())(5)
        async with client_of(plain) as client:
            waiting = (await client.get("/api/tasks/waiting")).json()
            done = (await client.get("/api/tasks/done")).json()
    assert waiting["arguments"] == "(5)"
    assert done["result"] == "{'answer': 6}"


async def test_an_unknown_key_is_a_404_page_and_keys_are_escaped(docket: Docket):
    """No record: 404 with a page saying so (and for the API); a hostile key is
    shown escaped, its link encoded."""
    async with client_of(docket) as client:
        page = await client.get("/tasks/%3Cscript%3Enope")
        assert page.status_code == 404
        assert "<script>nope" not in page.text
        assert "&lt;script&gt;nope" in page.text
        assert "never added" in page.text
        assert (await client.get("/api/tasks/nope")).status_code == 404
