"""Small frozen values the broker hands back: docket terms, not raw Redis replies."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message read from the stream for this worker."""

    message_id: bytes
    fields: dict[bytes, bytes]
    redelivered: bool


@dataclass(frozen=True, slots=True)
class Settlement:
    """The final word on one execution, settled with others in one script call."""

    key: str
    generation: int
    message_id: bytes | None
    state: str
    completed_at: str = ""  # "" = the time the batch is settled
    error: str = ""
    stored_result: bool = False
    wrote_progress: bool = False


@dataclass(frozen=True, slots=True)
class DueResult:
    moved: int
    next_due: float | None
