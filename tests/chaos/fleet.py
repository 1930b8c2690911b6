"""Worker PROCESSES (``python -m docket worker``, the real service entry point)
for one chaos scenario, and a supervisor's restart of the ones that died."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests._support.cli import WorkerProcess
from tests.chaos.profiles import Profile
from tests.chaos.tasks import LOG_DIR_VARIABLE


@dataclass
class Member:
    label: str  # "w1", "w2": the slot a supervisor keeps filled
    name: str  # the worker's name (a new one after each restart)
    process: WorkerProcess


@dataclass
class Fleet:
    """The scenario's workers. Every worker gets the profile's settings; ``url``
    may carry options such as ``?socket_timeout=1``."""

    directory: Path  # journals go in directory/journal, outputs in directory/out
    docket: str
    url: str
    profile: Profile
    env: dict[str, str] = field(default_factory=dict[str, str])
    members: dict[str, Member] = field(default_factory=dict[str, Member])
    retired: list[Member] = field(default_factory=list[Member])
    exits: list[tuple[str, int]] = field(default_factory=list[tuple[str, int]])
    _spawned: int = 0

    @property
    def journal(self) -> Path:
        return self.directory / "journal"

    def spawn(self, label: str, concurrency: int | None = None) -> Member:
        self._spawned += 1
        name = f"{self.docket}-{label}-{self._spawned}"
        out = self.directory / "out"
        self.journal.mkdir(parents=True, exist_ok=True)
        out.mkdir(parents=True, exist_ok=True)
        args = [
            "--tasks", "tests.chaos.tasks:tasks",
            "--docket", self.docket,
            "--url", self.url,
            "--name", name,
            "--concurrency", str(concurrency or self.profile.concurrency),
            "--redelivery-timeout", f"{self.profile.redelivery}s",
            "--reconnection-delay", f"{self.profile.reconnection}s",
            "--minimum-check-interval", "50ms",
            "--scheduling-resolution", "100ms",
            "--no-schedule-automatic-tasks",
            "--logging-level", "WARNING",
            "--logging-format", "plain",
        ]  # fmt: skip
        env = {
            LOG_DIR_VARIABLE: str(self.journal),
            "TYPER_STANDARD_TRACEBACK": "1",  # plain tracebacks in the output files
            **self.env,
        }
        process = WorkerProcess(args, env, out / f"{name}.out")
        member = Member(label, name, process)
        self.members[label] = member
        return member

    @property
    def names(self) -> set[str]:
        return {m.name for m in self.members.values()}

    def dead(self) -> list[Member]:
        return [
            m for m in self.members.values() if m.process.process.poll() is not None
        ]

    def record_exits(self) -> list[Member]:
        """The members that exited since last asked; their exit noted once."""
        gone = self.dead()
        for member in gone:
            code = member.process.process.returncode
            self.exits.append((member.name, code))
            self.retired.append(member)
            del self.members[member.label]
        return gone

    def restart_dead(self) -> int:
        """What a supervisor does: start a fresh process in each dead member's slot."""
        gone = self.record_exits()
        for member in gone:
            self.spawn(member.label)
        return len(gone)

    def kill9(self, label: str) -> tuple[int, float]:
        """SIGKILL one worker; its pid and the monotonic time of the kill."""
        member = self.members[label]
        pid = member.process.pid
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        member.process.process.wait(timeout=10)
        self.retired.append(member)
        del self.members[label]
        return pid, killed

    def pid_of(self, label: str) -> int:
        return self.members[label].process.pid

    def tail(self, lines: int = 15) -> str:
        """The end of every worker's output, for a failure report."""
        parts: list[str] = []
        for member in [*self.retired, *self.members.values()]:
            text = member.process.output().strip().splitlines()[-lines:]
            if text:
                parts.append(f"--- {member.name} (pid {member.process.pid}) ---")
                parts.extend(text)
        return "\n".join(parts)

    def close(self) -> None:
        for member in [*self.members.values(), *self.retired]:
            member.process.close()
        self.members.clear()
