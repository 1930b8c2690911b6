"""One line per scenario: tasks, lost, duplicates, recovery, and why it failed."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.chaos.journal import Reconciliation

LINES: list[str] = []
"""Every scenario's line, printed again at the end of the run (conftest.py)."""


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def _sample(keys: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(k) for k in keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


@dataclass
class Outcome:
    scenario: str
    reconciliation: Reconciliation
    recovery: float | None = None
    details: list[str] = field(default_factory=list[str])  # "outage 1.1s", ...
    failures: list[str] = field(default_factory=list[str])

    def check(self, holds: bool, failure: str) -> None:
        if not holds:
            self.failures.append(failure)

    def check_counts(self, duplicates_count: bool) -> None:
        """The bar every scenario shares: nothing lost; nothing run twice where
        the outage was shorter than the redelivery timeout."""
        r = self.reconciliation
        self.check(not r.lost, f"lost {len(r.lost)}: {_sample(r.lost)}")
        if duplicates_count:
            self.check(
                not r.duplicates,
                f"ran twice {len(r.duplicates)}: {_sample(r.duplicates)}",
            )

    def line(self) -> str:
        r = self.reconciliation
        parts = [
            f"{r.expected} tasks",
            f"lost {len(r.lost)}",
            f"duplicates {len(r.duplicates)}",
            f"duplicate starts {len(r.duplicate_starts)}",
        ]
        if r.crash_reruns:
            parts.append(
                f"re-runs of unsettled work in a dead process {len(r.crash_reruns)}"
            )
        parts.append(f"recovery {_seconds(self.recovery)}")
        parts.extend(self.details)
        verdict = (
            "ok" if not self.failures else "FAIL (" + "; ".join(self.failures) + ")"
        )
        return f"chaos: {self.scenario}: {', '.join(parts)}: {verdict}"

    def emit(self) -> str:
        text = self.line()
        LINES.append(text)
        print(text, flush=True)
        return text


__all__ = ["LINES", "Outcome"]
