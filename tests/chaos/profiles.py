"""The two profiles of the chaos suite: ``short`` (CI) and ``long``.

``DOCKET_CHAOS=short|long`` chooses one; without it the folder is not collected
(see conftest.py). Durations are seconds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

PROFILE_VARIABLE = "DOCKET_CHAOS"

RECOVERY_BAR = 2.5
"""Service must recover within this long of Redis coming back."""
RERUN_SLACK = 2.0
"""A killed worker's task must re-run within redelivery_timeout + this."""
CRASH_WINDOW = 0.5
"""A task that finished this close before its process died may not have been
settled yet: running it again is at-least-once delivery, not a duplicate."""


@dataclass(frozen=True)
class Profile:
    name: str
    redelivery: float  # the workers' --redelivery-timeout
    reconnection: float  # the workers' --reconnection-delay
    concurrency: int  # per worker process
    tasks: int  # tasks the producer adds in each fault scenario
    rate: float  # tasks added per second
    task_seconds: float  # how long each task works
    restart_outage: float  # redis-server down for this long
    pause: float  # CLIENT PAUSE this long (the workers' socket_timeout is 1 s)
    oom_outage: float  # maxmemory too low for this long
    client_kills: int  # rounds of CLIENT KILL
    hold_seconds: float  # the long tasks a killed worker holds
    held_tasks: int  # how many such tasks
    max_deliveries: int  # DOCKET_WORKER_MAX_DELIVERIES for the crash scenario
    test_timeout: float  # pytest-timeout per scenario
    stall_redelivery: float  # the workers' --redelivery-timeout in the stall scenarios
    stall_pause: float  # CLIENT PAUSE this long (longer than stall_redelivery)
    stall_freeze: float  # SIGSTOP redis-server this long (longer than stall_redelivery)

    @property
    def drain_timeout(self) -> float:
        """After the producer is done: room for one round of redeliveries."""
        return 2 * self.redelivery + 10


SHORT = Profile(
    name="short",
    redelivery=3.0,
    reconnection=0.2,
    concurrency=20,
    tasks=600,
    rate=150.0,
    task_seconds=0.05,
    restart_outage=1.0,
    pause=3.0,
    oom_outage=2.0,
    client_kills=2,
    hold_seconds=3.0,
    held_tasks=4,
    max_deliveries=3,
    test_timeout=150,
    stall_redelivery=2.0,
    stall_pause=4.0,
    stall_freeze=5.0,
)

LONG = Profile(
    name="long",
    redelivery=10.0,
    reconnection=0.2,
    concurrency=40,
    tasks=6000,
    rate=400.0,
    task_seconds=0.1,
    restart_outage=6.0,
    pause=8.0,
    oom_outage=8.0,
    client_kills=10,
    hold_seconds=5.0,
    held_tasks=10,
    max_deliveries=5,
    test_timeout=600,
    stall_redelivery=5.0,
    stall_pause=10.0,
    stall_freeze=15.0,
)

PROFILES = {"short": SHORT, "long": LONG}


def chosen() -> Profile | None:
    """The profile DOCKET_CHAOS names, None when unset; a bad name is an error."""
    name = os.environ.get(PROFILE_VARIABLE, "").strip()
    if not name:
        return None
    if name not in PROFILES:
        raise ValueError(f"{PROFILE_VARIABLE}={name!r}: use 'short' or 'long'")
    return PROFILES[name]


def timeout() -> float:
    """pytest-timeout for one scenario of the chosen profile."""
    profile = chosen()
    return profile.test_timeout if profile else 60
