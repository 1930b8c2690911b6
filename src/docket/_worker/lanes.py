"""Reading work while priority lanes hold tasks (``_broker/lanes.py``).

A worker reads the stream as always until it learns that some lane holds a task:
from the ``lanes`` wake-up (the first lane task publishes it), from a doorbell
entry among the messages it reads, or when its listener (re)subscribes (a wake-up
may have been missed). From then on each read first dispatches: the dispatch
script hands it the lane tasks that rank before the stream's oldest waiting task
(they go to the front of its buffer, so they start at the next free slot); the
rest of the read comes from the stream as usual. The settler's round trip carries
the dispatch ahead of its read (``turn_dispatch``, ``take_turn``); the main loop
dispatches before its own reads and before starting messages read earlier. A
dispatch that finds the lanes empty turns this off again, so a docket that never
uses priorities reads exactly as before. While lanes are in use the worker reads
at most ``LANES_READ_AHEAD`` messages ahead (a late high-priority task waits
behind that many at most), and while the last dispatch filled all it asked for,
the settler reads nothing beside it (``turn_dispatch``): stream work does not
start ahead of lane tasks that rank first.
"""

from __future__ import annotations

from .._broker import Delivery
from .._broker.lanes import (
    DEFAULT_PRIORITY,
    DISPATCHED,
    DOORBELL,
    DispatchCall,
    message_priority,
)
from .._defaults import LANES_READ_AHEAD
from .session import Session


def sort_in(
    session: Session, deliveries: list[Delivery], asked: int, fresh: bool = True
) -> list[Delivery]:
    """The deliveries that are tasks for this worker. A doorbell turns lanes on
    (the next dispatch deletes it); a dispatched copy read as a new message
    (``fresh``) already has its worker and is left alone. A fresh read
    also tells when the stream's oldest waiting task became due (about when the
    last message read was added), or that none is known to be left: it came back
    short, or ended in dispatched copies (they follow whatever waited when they
    were dispatched, so what they tell is only that the lanes had work; a
    dispatch then hands lane tasks over, and ``take_turn`` orders them after any
    stream work its read finds)."""
    if fresh:
        last = deliveries[-1] if deliveries else None
        if len(deliveries) >= asked and last and DISPATCHED not in last.fields:
            session.stream_head = _added(last.message_id)
        else:
            session.stream_head = None
    kept: list[Delivery] = []
    for delivery in deliveries:
        fields = delivery.fields
        if DOORBELL in fields:
            session.lanes = True
        elif fresh and DISPATCHED in fields:
            continue
        else:
            kept.append(delivery)
    return kept


def _added(message_id: bytes) -> float | None:
    try:
        return int(message_id.split(b"-", 1)[0]) / 1000
    except ValueError:
        return None


def note_placements(session: Session) -> None:
    """Lanes on when this process placed a lane task since the last look (a retry
    or a Perpetual successor of a task of another priority, an add)."""
    placed = session.docket.broker.lane_placements
    if placed != session.lane_placements:
        session.lane_placements = placed
        session.lanes = True


def stale_buffer(session: Session) -> bool:
    """Whether lanes are in use and the buffer holds messages read from the
    stream since an earlier read (a lane task may now rank before them: dispatch
    before starting them). Right after a read that dispatched, no."""
    if not session.lanes or session.buffer_fresh:
        return False
    return any(DISPATCHED not in delivery.fields for delivery in session.buffer)


def to_front(session: Session, dispatched: list[Delivery]) -> None:
    """Put lane tasks at the front of the buffer, among those already there by
    priority (highest first; a stable sort keeps each dispatch's own order)."""
    if not dispatched:
        return
    buffer = session.buffer
    lead = 0
    while lead < len(buffer) and DISPATCHED in buffer[lead].fields:
        lead += 1
    front = sorted(
        [*buffer[:lead], *dispatched], key=lambda d: -message_priority(d.fields)
    )
    session.buffer = [*front, *buffer[lead:]]


def _head(session: Session) -> float | None:
    """When the stream's oldest waiting task became due, as far as this worker
    knows: the first message it holds read from the stream and not started yet,
    else what its last read said (None: the stream had none left)."""
    for delivery in session.buffer:
        if DISPATCHED not in delivery.fields:
            return _added(delivery.message_id)
    return session.stream_head


async def dispatch(session: Session, count: int) -> list[Delivery]:
    """Up to ``count`` lane tasks that rank before the stream's oldest waiting
    task, delivered to this worker; lanes turn off when none are left."""
    worker = session.worker
    dispatched, left = await session.broker.lanes.dispatch(
        worker.name, count, worker.priority_aging.total_seconds(), _head(session)
    )
    _note_dispatch(session, len(dispatched), count, left)
    return dispatched


def _note_dispatch(session: Session, got: int, asked: int, left: int) -> None:
    """What a dispatch tells: whether lanes still hold tasks (-1: unknown, the
    group was missing), and whether it filled all it was asked for (lane tasks
    may still rank first: reads beside dispatches stay small)."""
    if left >= 0:
        session.lanes = left > 0
    session.lanes_ahead = got >= asked


def turn_dispatch(session: Session, count: int) -> tuple[DispatchCall | None, int]:
    """The dispatch that rides along with a settle's round trip (the settler's
    ``broker.runs.turn``, ahead of its stream read) while lanes hold tasks, and
    how many messages that round trip reads from the stream. While the last
    dispatch filled all it was asked for (lane tasks rank before the stream's),
    there is no read beside it: the dispatch ranks them against the stream's
    oldest waiting task already. Only a dispatch made believing the stream
    empty reads up to ``LANES_READ_AHEAD`` beside it, to see stream work that
    arrived meanwhile. Either way no batch of stream work starts before lane
    tasks that rank first."""
    note_placements(session)
    if not session.lanes or count <= 0:
        return None, count
    worker = session.worker
    call = session.broker.lanes.dispatch_call(
        worker.name, count, worker.priority_aging.total_seconds(), _head(session)
    )
    if not session.lanes_ahead:
        read = count
    elif call.blind:  # only to notice stream work that arrived meanwhile
        read = min(count, LANES_READ_AHEAD)
    else:  # the dispatch ranks against a stream head it knows: no read beside
        read = 0
    return call, read


def take_turn(
    session: Session,
    call: DispatchCall | None,
    handed: tuple[list[Delivery], int] | Exception | None,
    deliveries: list[Delivery],
    asked: int,
) -> None:
    """Put what a settle's turn dispatched and read (``asked`` messages asked
    for) into the buffer. Dispatched lane tasks go to the front; but when the
    dispatch was made believing the stream empty (its last read came back short)
    and this read found messages after all (added meanwhile), tasks below
    priority 5 go after them, as they would have ranked. A failed dispatch leaves
    lanes on: the next one tries again."""
    got: list[Delivery] = []
    if call is not None and isinstance(handed, tuple):
        got, left = handed
        _note_dispatch(session, len(got), call.count, left)
        session.buffer_fresh = True
    # (After the dispatch: a doorbell this read finds turns lanes on again.)
    read = sort_in(session, deliveries, asked) if asked else []
    if call is not None and call.blind and read:
        late = [d for d in got if message_priority(d.fields) < DEFAULT_PRIORITY]
        to_front(
            session, [d for d in got if message_priority(d.fields) >= DEFAULT_PRIORITY]
        )
        session.buffer.extend([*read, *late])
        return
    to_front(session, got)
    session.buffer.extend(read)


async def read(
    session: Session, count: int, block_ms: int | None
) -> tuple[list[Delivery], list[Delivery]]:
    """(dispatched lane tasks, messages read from the stream) for up to ``count``
    slots; blocking up to ``block_ms`` only when nothing was dispatched."""
    dispatched: list[Delivery] = []
    if session.lanes:
        dispatched = await dispatch(session, count)
        session.buffer_fresh = True
        count -= len(dispatched)
        if dispatched:
            block_ms = None
    if count <= 0:
        return dispatched, []
    read = await session.broker.queue.read(session.worker.name, count, block_ms)
    return dispatched, sort_in(session, read, count)


__all__ = [
    "dispatch",
    "stale_buffer",
    "take_turn",
    "turn_dispatch",
    "note_placements",
    "read",
    "sort_in",
    "to_front",
]
