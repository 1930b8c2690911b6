"""The outage log (one per process and Redis URL): what it says and when, driven
by a clock the test sets, with real log records."""

from __future__ import annotations

import logging

import pytest
from redis.exceptions import ConnectionError, ResponseError

from docket import Docket
from docket._redis.outages import OutageLog, outage_log
from tests._support.servers import RedisServer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def told(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [
        (r.levelname, r.getMessage())
        for r in caplog.records
        if r.name == "docket.redis"
    ]


def test_one_warning_a_reminder_a_minute_and_one_line_when_back(
    caplog: pytest.LogCaptureFixture,
):
    """Failures of five loops over 150 s: one WARNING naming the first failure
    and the URL, a reminder at 60 s and 120 s with the outage's length, and one
    INFO with its length once every loop that failed has succeeded again."""
    clock = Clock()
    log = OutageLog("redis://:***@db:6379/0", reminder=60.0, clock=clock)
    loops = ["read tasks", "renew leases", "send a heartbeat", "move due tasks"]
    with caplog.at_level(logging.INFO, logger="docket.redis"):
        for second in range(150):
            clock.now = 100.0 + second
            for what in loops:
                log.failed(what, ConnectionError("Connection refused"))
        assert log.down
        clock.now = 250.0
        for what in loops[:-1]:
            log.succeeded(what)
        assert log.down  # one loop has not reached Redis yet
        clock.now = 250.5
        log.succeeded(loops[-1])
    assert not log.down
    lines = told(caplog)
    assert [level for level, _ in lines] == ["WARNING", "WARNING", "WARNING", "INFO"]
    assert lines[0][1].startswith(
        "Failed to read tasks: Redis at redis://:***@db:6379/0 is unavailable "
        "(ConnectionError: Connection refused); retrying"
    )
    assert "still unavailable after 60.0 s" in lines[1][1]
    assert "still unavailable after 120.0 s" in lines[2][1]
    assert lines[3][1] == "Redis at redis://:***@db:6379/0 back after 150.5 s"


def test_a_redis_that_answers_reads_but_refuses_writes_is_still_out(
    caplog: pytest.LogCaptureFixture,
):
    """Out of memory: reads succeed while writes fail. The outage is told once
    and ends only when the writes succeed too."""
    clock = Clock()
    log = OutageLog("redis://db:6379/0", reminder=60.0, clock=clock)
    oom = ResponseError("OOM command not allowed when used memory > 'maxmemory'.")
    with caplog.at_level(logging.INFO, logger="docket.redis"):
        for second in range(10):
            clock.now = 100.0 + second
            log.failed("move due tasks", oom)
            log.succeeded("read tasks")
        assert log.down
        log.succeeded("move due tasks")
    assert [level for level, _ in told(caplog)] == ["WARNING", "INFO"]


def test_a_part_that_stopped_trying_does_not_hold_the_outage_open(
    caplog: pytest.LogCaptureFixture,
):
    """A loop that failed and then never ran again (its session ended) is
    forgotten after ``forget_after``: the others' successes end the outage."""
    clock = Clock()
    log = OutageLog("redis://db:6379/0", forget_after=60.0, clock=clock)
    with caplog.at_level(logging.INFO, logger="docket.redis"):
        log.failed("start a session", ConnectionError("refused"))
        log.failed("read tasks", ConnectionError("refused"))
        clock.now = 130.0
        log.failed("read tasks", ConnectionError("refused"))
        clock.now = 170.0
        log.succeeded("read tasks")
    assert not log.down
    assert [level for level, _ in told(caplog)] == ["WARNING", "INFO"]
    assert told(caplog)[1][1] == "Redis at redis://db:6379/0 back after 70.0 s"


def test_one_log_per_process_and_url_and_never_a_password():
    """Every part of a process using one URL shares its outage log; it names the
    URL with the password masked."""
    first = outage_log("redis://user:hunter2@db.example:6379/3")
    assert outage_log("redis://user:hunter2@db.example:6379/3") is first
    assert outage_log("redis://db.example:6379/4") is not first
    assert first.where == "redis://user:***@db.example:6379/3"


async def test_the_outage_probe_pings_each_engine():
    """The probe's PING answers on memory:// (the engine lives in the process)
    and on a running redis-server, and raises once that server is stopped."""
    async with Docket(name="probe", url="memory://probe") as docket:
        await docket.broker.ping()
    server = RedisServer(durable=False).start()
    try:
        url = server.url + "?socket_connect_timeout=1"
        async with Docket(name="probe", url=url) as docket:
            await docket.broker.ping()
            server.stop()
            with pytest.raises((ConnectionError, OSError)):
                await docket.broker.ping()
    finally:
        server.close()
