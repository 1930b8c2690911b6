"""``docket dead ls|show|replay|purge`` against a real redis-server."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime

import cloudpickle  # type: ignore[import-untyped]
import pytest
from typer.testing import CliRunner

from docket import Docket, Worker
from docket.cli import app
from tests._support.servers import RedisServer

pytestmark = pytest.mark.usefixtures("restore_logging")
runner = CliRunner()


async def noted(value: int) -> None: ...


def poison(url: str, name: str, count: int) -> None:
    """``count`` entries with a bad 'when' (no time zone), left for a worker."""

    async def main() -> None:
        async with Docket(name=name, url=url) as docket:
            docket.register(noted)
            async with docket.redis() as client:
                for i in range(count):
                    await client.xadd(
                        docket.stream_key,
                        {
                            b"key": f"bad-{i}".encode(),
                            b"when": datetime.now().isoformat().encode(),
                            b"function": b"noted",
                            b"args": cloudpickle.dumps((i,)),
                            b"kwargs": cloudpickle.dumps({}),
                        },
                    )
            async with Worker(docket) as worker:
                await worker.run_until_finished()

    asyncio.run(main())


def cli(url: str, name: str, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, ["dead", *args, "--url", url, "--docket", name])
    assert result.exit_code == code, result.output
    return result.output


def test_dead_letters_are_listed_shown_and_purged(
    redis_server: RedisServer, docket_name: str
):
    """ls (plain and --json with stable fields), show (payload never unpickled),
    purge by id and --all, and clear errors for bad input."""
    url = redis_server.url
    assert "No dead letters" in cli(url, docket_name, "ls")
    poison(url, docket_name, 3)
    document = json.loads(cli(url, docket_name, "ls", "--json", "--limit", "2"))
    assert document["cursor"] == document["letters"][-1]["id"]
    older = cli(url, docket_name, "ls", "--json", "--cursor", document["cursor"])
    listed = document["letters"] + json.loads(older)["letters"]
    assert [item["key"] for item in listed] == ["bad-2", "bad-1", "bad-0"]
    assert set(listed[0]) == {
        "id", "reason", "detail", "worker", "dead_at", "message_id", "key",
        "function", "fields", "payload_bytes",
    }  # fmt: skip
    assert listed[0]["reason"] == "malformed-message"
    assert "no time zone" in listed[0]["detail"]
    assert "bad-1" in cli(url, docket_name, "ls")
    shown = json.loads(cli(url, docket_name, "show", listed[0]["id"], "--json"))
    assert shown["payload_bytes"]["args"] > 0 and "args" not in shown["fields"]
    text = cli(url, docket_name, "show", listed[0]["id"]).splitlines()
    assert text[:2] == [f"Id: {listed[0]['id']}", "Key: bad-2"]
    assert "Reason: malformed-message" in text
    assert f"  args: <{shown['payload_bytes']['args']} bytes, not decoded>" in text
    assert "no dead letter" in cli(url, docket_name, "show", "0-1", code=1)
    assert "(not both)" in cli(url, docket_name, "purge", code=2)
    assert "Removed 1" in cli(url, docket_name, "purge", listed[0]["id"])
    assert "no time zone" in cli(url, docket_name, "replay", listed[1]["id"], code=1)
    assert "Removed 2" in cli(url, docket_name, "purge", "--all")
    assert json.loads(cli(url, docket_name, "ls", "--json"))["letters"] == []


def test_dead_ls_fits_80_columns_with_whole_ids(
    redis_server: RedisServer, docket_name: str
):
    """At 80 columns every entry is one line holding its whole id (what 'dead
    show' takes); --task keeps one task's entries."""
    url = redis_server.url
    poison(url, docket_name, 2)
    ids = [
        d["id"] for d in json.loads(cli(url, docket_name, "ls", "--json"))["letters"]
    ]
    lines = cli(url, docket_name, "ls").splitlines()
    assert lines[1].split() == ["Id", "Dead", "Task", "Key", "Reason"]
    assert [line.split()[0] for line in lines[2:]] == ids
    assert all(len(line) <= 80 for line in lines)
    assert "No dead letters" in cli(url, docket_name, "ls", "--task", "other")
    assert len(cli(url, docket_name, "ls", "-t", "noted").splitlines()) == 4


def test_a_dead_letter_is_replayed_under_its_key(
    redis_server: RedisServer, docket_name: str
):
    """replay re-adds a readable dead letter's task now, under its key."""
    url = redis_server.url

    async def main() -> str:
        async with Docket(name=docket_name, url=url) as docket:
            docket.register(noted)
            execution = await docket.add(noted, key="again")(7)
            async with docket.redis() as client:
                ((message_id, fields),) = await client.xrange(docket.stream_key)
                await client.xdel(docket.stream_key, message_id)
                await client.xadd(docket.stream_key, fields)
            # delivered too often: a worker with a limit of 1 refuses it
            await docket.broker.ensure_group()
            await docket.broker.queue.read("ghost", 1, 10)
            await docket.broker.sweep.reclaim("ghost-2", 1, 0)
            async with Worker(docket, max_deliveries=1) as worker:
                worker.redelivery_timeout = worker.redelivery_timeout.__class__(
                    0, 0, 0, 10
                )
                await worker.run_until_finished()
            (letter,) = await docket.dead_letters.list()
            assert letter.reason == "max-deliveries" and execution.key == "again"
            return letter.id

    letter_id = asyncio.run(main())
    assert "as task key 'again'" in cli(url, docket_name, "replay", letter_id)
    assert json.loads(cli(url, docket_name, "ls", "--json"))["letters"] == []
