"""The CLI at the trust boundary, in-process against a real redis-server:
inspection never executes payloads (snapshot, watch, workers), signing keys come
from --signing-keys-file, and absurd durations are usage errors."""

from __future__ import annotations

import asyncio
import pickle
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import pytest
from typer.testing import CliRunner

from docket import Docket, Worker
from docket.cli import app
from docket.cli._common import console
from tests._support import cli_tasks
from tests._support.cli import WorkerProcess, wait_until
from tests._support.hostile import (
    OLD_KEY,
    hostile_message,
    marker_pickle,
    proves_marker_works,
)
from tests._support.servers import RedisServer

pytestmark = pytest.mark.usefixtures("restore_logging")
runner = CliRunner()
T = TypeVar("T")
TASKS = "tests._support.cli_tasks:tasks"


def flat(output: str) -> str:
    return " ".join(output.replace("│", " ").split())


def with_docket(
    url: str, name: str, body: Callable[[Docket], Awaitable[T]], keys: Any = None
) -> T:
    async def main() -> T:
        async with Docket(name=name, url=url, signing_keys=keys) as docket:
            docket.register_collection(TASKS)
            return await body(docket)

    return asyncio.run(main())


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables as wide as their rows: the CLI's console took its width at import."""
    monkeypatch.setattr(console, "width", 250)


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    proves_marker_works(tmp_path)
    return tmp_path / "marker"


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    path = tmp_path / "signing-keys"
    path.write_text(f"{OLD_KEY}\n")
    return path


def inject(url: str, name: str, marker: Path, keys: Any = None) -> None:
    """A signed task, plus a hostile stream entry and a hostile parked task."""

    async def body(docket: Docket) -> None:
        await docket.add(cli_tasks.greet, key="genuine")("Ada")
        async with docket.redis() as client:
            await client.xadd(
                docket.stream_key, hostile_message(marker, "in-stream", "greet")
            )
            parked = hostile_message(marker, "parked", "greet")
            await client.hset(docket.keyspace.parked("parked"), mapping=parked)
            await client.zadd(docket.queue_key, {"parked": time.time() + 3600})

    with_docket(url, name, body, keys)


def snapshot(url: str, name: str, *args: str) -> Any:
    return runner.invoke(
        app,
        ["snapshot", "--url", url, "--docket", name, "--tasks", TASKS, *args],
        env={"COLUMNS": "250"},
    )


def arguments_of(output: str, key: str) -> str:
    """With --show-args, the line under a task's row holds its arguments."""
    lines = output.splitlines()
    row = next(i for i, line in enumerate(lines) if f"  {key}" in line)
    return lines[row + 1]


def test_snapshot_with_keys_shows_verified_arguments_and_marks_the_rest(
    redis_server: RedisServer, docket_name: str, marker: Path, keys_file: Path
):
    """Signed arguments are shown; injected entries are listed as unverified
    with the reason, and never unpickled."""
    inject(redis_server.url, docket_name, marker, [OLD_KEY])
    result = snapshot(
        redis_server.url,
        docket_name,
        "--signing-keys-file",
        str(keys_file),
        "--show-args",
    )
    assert result.exit_code == 0, result.output
    assert arguments_of(result.output, "genuine").strip() == "greet('Ada')"
    for key in ("in-stream", "parked"):
        assert "<unverified" in arguments_of(result.output, key)
    assert "not signed" in flat(result.output)
    assert "0/3 running" in result.output
    assert not marker.exists()


def test_snapshot_without_keys_hides_arguments_unless_asked(
    redis_server: RedisServer, docket_name: str, marker: Path
):
    """Unsigned payloads are hidden by default (no unpickling at all);
    --unpickle (or its earlier spelling --unsafe-show-args) decodes them, and
    one that cannot be decoded, or whose envelope is broken, is shown as
    unreadable instead of crashing."""
    inject(redis_server.url, docket_name, marker)
    hidden = snapshot(redis_server.url, docket_name, "--show-args")
    assert hidden.exit_code == 0, hidden.output
    assert flat(hidden.output).count("<hidden: unsigned payload") == 3
    assert "<hidden" not in snapshot(redis_server.url, docket_name).output
    assert not marker.exists()

    async def replace_hostile(docket: Docket) -> None:
        async with docket.redis() as client:
            entries = await client.xrange(docket.stream_key)
            await client.xdel(docket.stream_key, entries[1][0])
            await client.delete(docket.keyspace.parked("parked"))
            await client.zrem(docket.queue_key, "parked")
            broken = hostile_message(marker, "broken", "greet")
            broken[b"args"] = b"not a pickle"
            await client.xadd(docket.stream_key, broken)
            await client.xadd(docket.stream_key, {b"key": b"no-envelope"})

    with_docket(redis_server.url, docket_name, replace_hostile)
    for flag in ("--unpickle", "--unsafe-show-args"):
        shown = snapshot(redis_server.url, docket_name, flag)
        assert shown.exit_code == 0, shown.output
        assert arguments_of(shown.output, "genuine").strip() == "greet('Ada')"
        assert "<unreadable" in arguments_of(shown.output, "broken")
        assert "<unreadable" in arguments_of(shown.output, "no-envelope")
        assert "Traceback" not in shown.output


def test_watch_shows_arguments_only_when_they_verify(
    redis_server: RedisServer, docket_name: str, marker: Path, keys_file: Path
):
    """watch verifies the run record: a waiting task shows its signed arguments;
    a finished one whose record was given hostile arguments shows them as
    unverified (state and outcome still shown); without keys they stay hidden."""
    url = redis_server.url

    async def prepare(docket: Docket) -> str:
        await docket.add(cli_tasks.greet, key="tampered")("Bob")
        async with Worker(docket) as worker:
            await worker.run_until_finished()
        async with docket.redis() as client:
            hostile = {"args": marker_pickle(marker), "kwargs": pickle.dumps({})}
            await client.hset(docket.runs_key("tampered"), mapping=hostile)
        later = datetime.now(timezone.utc) + timedelta(hours=1)
        return (await docket.add(cli_tasks.greet, when=later)("Ada")).key

    waiting = with_docket(url, docket_name, prepare, [OLD_KEY])
    keys = ["--signing-keys-file", str(keys_file)]
    base = ["watch", "--url", url, "--docket", docket_name, *keys]

    def cancel_once_watched() -> None:
        wait_until(lambda: with_docket(url, docket_name, listening))
        with_docket(url, docket_name, lambda d: d.cancel(waiting), [OLD_KEY])

    canceller = threading.Thread(target=cancel_once_watched)
    canceller.start()
    genuine = runner.invoke(app, [*base, waiting])
    canceller.join()
    assert genuine.exit_code == 4, genuine.output  # it was cancelled
    assert "Arguments: ('Ada')" in genuine.output
    tampered = runner.invoke(app, [*base, "tampered"])
    assert tampered.exit_code == 0, tampered.output
    assert "Arguments: <unverified: its signature matches none" in tampered.output
    assert "State: COMPLETED" in tampered.output
    unsigned = runner.invoke(
        app, ["watch", "--url", url, "-d", docket_name, "tampered"]
    )
    assert "Arguments: <hidden: unsigned payload" in unsigned.output
    assert not marker.exists()


async def listening(docket: Docket) -> bool:
    """Whether someone subscribed to the docket's events (the listening flag)."""
    async with docket.redis() as client:
        return bool(await client.exists(docket.keyspace.listening))


def test_watch_without_keys_never_unpickles_a_record(
    redis_server: RedisServer, docket_name: str, marker: Path
):
    """Without keys (and without --unsafe-show-args) a hostile record is shown,
    hidden, and not unpickled; with the flag a benign record's arguments show,
    and a finished task says its arguments are no longer kept."""
    url = redis_server.url

    def record(args: bytes) -> dict[str, Any]:
        return {
            "state": "completed",
            "when": "0",
            "function": "greet",
            "args": args,
            "kwargs": pickle.dumps({}),
        }

    async def write(docket: Docket) -> None:
        await docket.add(cli_tasks.greet, key="finished")("Ada")
        async with Worker(docket) as worker:
            await worker.run_until_finished()
        async with docket.redis() as client:
            hostile = record(marker_pickle(marker))
            await client.hset(docket.runs_key("hostile"), mapping=hostile)
            benign = record(pickle.dumps(("Ada",)))
            await client.hset(docket.runs_key("benign"), mapping=benign)

    with_docket(url, docket_name, write)
    base = ["watch", "--url", url, "-d", docket_name]
    hostile = runner.invoke(app, [*base, "hostile"])
    assert hostile.exit_code == 0, hostile.output
    assert "<hidden: unsigned payload" in hostile.output
    assert not marker.exists()
    shown = runner.invoke(app, [*base, "--unpickle", "benign"])
    assert "Arguments: ('Ada')" in shown.output
    finished = runner.invoke(app, [*base, "--unsafe-show-args", "finished"])
    assert "Arguments: <not kept once the task finished>" in finished.output


def test_workers_ls_survives_names_that_are_not_text(
    redis_server: RedisServer, docket_name: str
):
    """A worker entry whose name is not UTF-8 is listed, not a crash."""

    async def write(docket: Docket) -> None:
        async with docket.redis() as client:
            await client.zadd(
                f"{docket_name}:workers", {b"\xff\xfe-worker": time.time()}
            )

    with_docket(redis_server.url, docket_name, write)
    result = runner.invoke(
        app, ["workers", "ls", "--url", redis_server.url, "--docket", docket_name]
    )
    assert result.exit_code == 0, result.output
    assert "-worker" in result.output


@pytest.mark.parametrize(
    "args, env, message",
    [
        (["worker", "--redelivery-timeout", "99999999999h"], {}, "is too long"),
        (["worker", "--redelivery-timeout", "9" * 400], {}, "is too long"),
        (["worker", "--redelivery-timeout", "50ms"], {}, "at least 100ms"),
        (["worker"], {"DOCKET_WORKER_SHUTDOWN_TIMEOUT": "999999999:00:00"}, "too long"),
        (["worker"], {"DOCKET_WORKER_RECONNECTION_DELAY": "9999999999999"}, "too long"),
        (["tasks", "trace", "--delay", "100000000000000h"], {}, "is too long"),
        (["snapshot", "--signing-keys-file", "/no/such/file"], {}, "Cannot read"),
        (["snapshot"], {"DOCKET_SIGNING_KEYS": "short"}, "at least 16 bytes"),
        (["watch", "k"], {"DOCKET_SERIALIZER": "yaml"}, "Unknown serializer"),
        (["worker", "--serializer", "xml"], {}, "Unknown serializer"),
    ],
)
def test_bad_trust_and_duration_input_is_a_usage_error(
    args: list[str], env: dict[str, str], message: str
):
    """Absurd durations, too-short redelivery timeouts, unreadable key files, weak
    keys and unknown serializers exit 2 with the reason, never a traceback."""
    result = runner.invoke(app, [*args, "--url", "redis://127.0.0.1:1/0"], env=env)
    assert result.exit_code == 2, result.output
    assert message in flat(result.output)
    assert "Traceback" not in result.output


@pytest.mark.slow
async def test_docket_worker_with_a_keys_file_refuses_injected_messages(
    redis_server: RedisServer,
    docket_name: str,
    marker: Path,
    keys_file: Path,
    tmp_path: Path,
):
    """``docket worker --signing-keys-file`` runs signed tasks, fails an injected
    one with the reason (logged), never unpickles it, and keeps running."""
    url = redis_server.url
    process = WorkerProcess(
        ["--url", url, "--docket", docket_name, "--tasks", TASKS]
        + ["--logging-format", "plain", "--signing-keys-file", str(keys_file)]
        + ["--minimum-check-interval", "10ms"],
        {},
        tmp_path / "worker.log",
    )
    try:
        async with Docket(name=docket_name, url=url, signing_keys=[OLD_KEY]) as docket:
            docket.register_collection(TASKS)
            async with docket.redis() as client:
                await client.xadd(
                    docket.stream_key, hostile_message(marker, "hostile", "greet")
                )
            greeting = await docket.add(cli_tasks.greet)("signed")
            assert await greeting.get_result(timeout=timedelta(seconds=20)) == (
                "Hello, signed!"
            )
            (letter,) = await docket.dead_letters.list()
            assert (letter.key, letter.reason) == ("hostile", "unverified-payload")
            later = await docket.add(cli_tasks.greet)("still running")
            assert await later.get_result(timeout=timedelta(seconds=20)) == (
                "Hello, still running!"
            )
        assert process.process.poll() is None
    finally:
        process.close()
    output = process.output()
    assert "'hostile'" in output and "not signed" in output
    assert "payloads are unsigned" not in output
    assert not marker.exists()


def test_strike_and_tasks_sign_with_the_keys_file(
    redis_server: RedisServer, docket_name: str, keys_file: Path
):
    """``docket strike`` and ``docket tasks`` sign what they write with the keys
    of --signing-keys-file: a signing docket accepts both; a docket with another
    key refuses them."""
    url, keys = redis_server.url, ["--signing-keys-file", str(keys_file)]
    base = ["--url", url, "--docket", docket_name, *keys]
    assert runner.invoke(app, ["strike", "greet", *base]).exit_code == 0
    added = runner.invoke(app, ["tasks", "trace", "signed", *base])
    assert added.exit_code == 0, added.output
    task_key = added.output.split("'")[1]

    async def check(docket: Docket) -> tuple[bool, tuple[Any, ...]]:
        await docket.wait_for_strikes_loaded()
        execution = await docket.get_execution(task_key)
        assert execution is not None
        return "greet" in docket.strike_list.struck_functions, execution.args

    assert with_docket(url, docket_name, check, [OLD_KEY]) == (True, ("signed",))

    async def refused(docket: Docket) -> bool:
        await docket.wait_for_strikes_loaded()
        with pytest.raises(ValueError, match="matches none"):
            await docket.get_execution(task_key)
        return "greet" in docket.strike_list.struck_functions

    other = "another-key-0123456789abcdef-xyz"
    assert with_docket(url, docket_name, refused, [other]) is False


def test_dead_replay_refuses_an_unverified_dead_letter(
    redis_server: RedisServer, docket_name: str, marker: Path, keys_file: Path
):
    """``docket dead replay --signing-keys-file`` verifies the entry first: a
    hostile one is refused with the reason (exit 1), stays, and is never
    unpickled; ``dead show`` lists its fields without decoding them."""
    url = redis_server.url

    async def dead_letter(docket: Docket) -> str:
        async with docket.redis() as client:
            await client.xadd(
                docket.stream_key, hostile_message(marker, "bad", "greet")
            )
        async with Worker(docket) as worker:
            await worker.run_until_finished()
        (letter,) = await docket.dead_letters.list()
        return letter.id

    dead_id = with_docket(url, docket_name, dead_letter, [OLD_KEY])
    base = ["--url", url, "--docket", docket_name]
    shown = runner.invoke(app, ["dead", "show", dead_id, *base])
    assert shown.exit_code == 0, shown.output
    assert "unverified-payload" in shown.output
    keys = ["--signing-keys-file", str(keys_file)]
    replayed = runner.invoke(app, ["dead", "replay", dead_id, *base, *keys])
    assert replayed.exit_code == 1, replayed.output
    assert "not signed" in flat(replayed.output)

    async def count(docket: Docket) -> int:
        return await docket.dead_letters.count()

    assert with_docket(url, docket_name, count) == 1
    assert not marker.exists()
