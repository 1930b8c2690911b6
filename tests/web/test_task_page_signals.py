"""Tasks waiting for a signal on the dashboard: the task page and the tasks
list say "waiting on signal X since T"; the task page's "send signal" form sends
it (guarded like every action: a CSRF token, refused when read-only)."""

from __future__ import annotations

import html
from datetime import timedelta

from docket import Docket, ExecutionState, Signal
from tests.web.conftest import client_of, csrf, post


async def review(
    post_id: str,
    decision: dict[str, bool] | None = Signal(
        "review-{post_id}", timeout=timedelta(days=2), default=None
    ),
) -> None:
    pass  # pragma: no cover (never run here)


async def test_a_waiting_task_page_names_its_signal_and_sends_it(docket: Docket):
    """The page of a task waiting for a signal shows the signal (escaped) and since
    when, with a send form; sending it with a JSON payload releases the task, and
    the page then says the signal was received."""
    docket.register(review)
    await docket.add(review, key="wait-1")("<b>1</b>")
    async with client_of(docket) as client:
        page = await client.get("/tasks/wait-1")
        assert page.status_code == 200
        assert "<b>1</b>" not in page.text  # escaped
        assert "waiting on signal" in page.text
        assert "review-<b>1</b>" in html.unescape(page.text)
        assert 'data-action="/tasks/signal"' in page.text
        document = (await client.get("/api/tasks/wait-1")).json()
        assert document["signals"][0]["signal"] == "review-<b>1</b>"
        assert document["signals"][0]["state"] == "waiting"
        listing = await client.get("/tasks")
        assert 'data-signal="review-&lt;b&gt;1&lt;/b&gt;"' in listing.text
        waits = (await client.get("/api/tasks")).json()["waiting_on_signals"]
        assert waits["wait-1"][0]["signal"] == "review-<b>1</b>"

        sent = await post(
            client,
            "/tasks/signal",
            name="review-<b>1</b>",
            payload='{"approved": true}',
            key="wait-1",
            back="task",
        )
        assert sent.status_code in (302, 303)
        execution = await docket.get_execution("wait-1")
        assert execution is not None and execution.state is ExecutionState.QUEUED
        after = html.unescape((await client.get("/tasks/wait-1")).text)
        assert "received" in after and 'data-action="/tasks/signal"' not in after


async def test_a_payload_that_is_not_json_is_refused(docket: Docket):
    """The form's payload must be JSON: anything else is refused with a notice,
    and nothing is sent."""
    async with client_of(docket) as client:
        refused = await client.post(
            "/tasks/signal",
            data={"csrf": await csrf(client), "name": "n", "payload": "{nope"},
            headers={"x-docket-action": "1"},
        )
        assert refused.status_code == 400
        assert "JSON" in refused.json()["error"]
    assert await docket.broker.mailbox.kept("n") == 0


async def test_read_only_hides_the_form_and_refuses_the_action(docket: Docket):
    """A read-only dashboard shows the wait without the form and refuses a
    signal posted anyway."""
    docket.register(review)
    await docket.add(review, key="wait-2")("2")
    async with client_of(docket, read_only=True) as client:
        page = await client.get("/tasks/wait-2")
        assert "waiting on signal" in page.text
        assert 'action="/tasks/signal"' not in page.text
        refused = await client.post(
            "/tasks/signal",
            data={"name": "review-2", "csrf": await csrf(client)},
            headers={"x-docket-action": "1"},
        )
        assert refused.status_code == 403
    assert await docket.broker.mailbox.waiters("review-2") == ["wait-2"]


async def test_the_notice_says_whether_a_signal_nobody_waits_for_was_kept(
    docket: Docket,
):
    """With nobody waiting, the form's notice says the signal was kept (the
    docket's lookback) or, on a docket that keeps none, dropped; never "kept"
    for a signal that is gone."""

    async def send(name: str) -> str:
        async with client_of(docket) as client:
            sent = await client.post(
                "/tasks/signal",
                data={"csrf": await csrf(client), "name": name, "payload": "1"},
                headers={"x-docket-action": "1"},
            )
            assert sent.status_code == 200
            return sent.json()["notice"]

    assert await send("kept-one") == "Signal kept-one kept: no task was waiting for it"
    assert await docket.broker.mailbox.kept("kept-one") == 1
    docket.signal_lookback = timedelta(0)
    assert await send("gone") == "Signal gone dropped: no task was waiting for it"
    assert await docket.broker.mailbox.kept("gone") == 0
