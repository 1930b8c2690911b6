"""Reading the workers' start/finish journals and reconciling them with what the
producer added: tasks lost, tasks run twice, recovery time."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from tests.chaos.profiles import CRASH_WINDOW


@dataclass(frozen=True)
class Event:
    kind: str  # "start" or "finish"
    key: str
    pid: int
    at: float  # monotonic
    started: float | None  # a finish's start time


class Journal:
    """Every journal file in one directory, read incrementally (whole lines only)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._offsets: dict[Path, int] = {}
        self.events: list[Event] = []
        self.starts: dict[str, list[Event]] = defaultdict(list)
        self.finishes: dict[str, list[Event]] = defaultdict(list)

    def poll(self) -> Journal:
        for path in sorted(self.directory.glob("worker-*.log")):
            offset = self._offsets.get(path, 0)
            with open(path, "rb") as file:
                file.seek(offset)
                data = file.read()
            end = data.rfind(b"\n") + 1
            self._offsets[path] = offset + end
            for line in data[:end].decode().splitlines():
                self._add(_parse(line))
        return self

    def _add(self, event: Event) -> None:
        self.events.append(event)
        (self.starts if event.kind == "start" else self.finishes)[event.key].append(
            event
        )

    def finished(self, keys: set[str]) -> int:
        return sum(1 for key in keys if self.finishes.get(key))

    def finish_times(self, keys: set[str], prefix: str = "") -> list[float]:
        """When each finish of the ``keys`` that start with ``prefix`` came (a key
        that finished twice counts twice)."""
        return [
            e.at
            for key in keys
            if key.startswith(prefix)
            for e in self.finishes.get(key, [])
        ]

    def first_finish_started_after(self, moment: float) -> float | None:
        """When the first task that STARTED after ``moment`` finished: the service
        read, claimed and ran new work again (a body already running through the
        fault does not count)."""
        times = [
            e.at
            for e in self.events
            if e.kind == "finish" and e.started is not None and e.started >= moment
        ]
        return min(times) if times else None


def _parse(line: str) -> Event:
    parts = line.split()
    started = float(parts[5]) if len(parts) > 5 else None
    return Event(parts[0], unquote(parts[1]), int(parts[2]), float(parts[3]), started)


@dataclass
class Reconciliation:
    """What the journal says about the tasks that had to finish."""

    expected: int
    lost: list[str] = field(default_factory=list[str])
    duplicates: list[str] = field(default_factory=list[str])
    duplicate_starts: list[str] = field(default_factory=list[str])
    crash_reruns: list[str] = field(default_factory=list[str])


def reconcile(
    journal: Journal, expected: set[str], deaths: dict[int, float]
) -> Reconciliation:
    """Lost: expected but never finished. Duplicate: finished more than once,
    except a re-run of a task whose first finish came less than CRASH_WINDOW
    before its process died (``deaths``: pid -> monotonic time of death), which
    could not have been settled (``crash_reruns``). Duplicate starts are counted
    apart: a task whose worker died mid-run legitimately starts twice."""
    result = Reconciliation(expected=len(expected))
    journal.poll()
    for key in sorted(expected):
        if not journal.finishes.get(key):
            result.lost.append(key)
    for key, finishes in sorted(journal.finishes.items()):
        if len(finishes) < 2:
            continue
        first = min(finishes, key=lambda e: e.at)
        died = deaths.get(first.pid)
        if died is not None and 0 <= died - first.at <= CRASH_WINDOW:
            result.crash_reruns.append(key)
        else:
            result.duplicates.append(key)
    for key, starts in sorted(journal.starts.items()):
        if len(starts) > 1:
            result.duplicate_starts.append(key)
    return result
