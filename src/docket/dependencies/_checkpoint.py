"""``Checkpoint``: a small store that lives as long as one run of a task.

A run is every attempt of one schedule of a key: its retries, its suspensions
(``Suspend``) and its redeliveries after a worker died. The checkpoint survives
them all and goes when the run ends (completed, failed for good, cancelled) or a
new run of the key starts (an add after the end, a replace); it also carries an
expiry of its own (``CHECKPOINT_TTL`` after its last write). It is read once per
attempt, when the task's dependencies are resolved; each ``mark``/``set`` is one
round trip, ``done``/``get`` none.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from typing import Any, ClassVar

from typing_extensions import Self
from uncalled_for import Dependency

from .. import _clock, _defaults
from .._broker.steps import MARK, VALUE
from .._codec import Purpose, Sealed
from .._errors import UnverifiedPayload
from ..execution import Execution
from ._blips import through_blips
from ._context import current_execution

# Checkpoint values: fields task key, value name.
STEP = Purpose(b"docket.step.v2", b"docket.step.v1")
_TTL = int(_defaults.CHECKPOINT_TTL.total_seconds())

# One view per attempt (an Execution is built for every delivery), shared by the
# Checkpoint and Suspend of that attempt.
_views: weakref.WeakKeyDictionary[Execution, asyncio.Future[RunSteps]] = (
    weakref.WeakKeyDictionary()
)


class RunSteps:
    """One attempt's view of its run's checkpoint: read once, written through."""

    def __init__(self, execution: Execution, fields: dict[str, bytes]) -> None:
        # Not the execution itself: the cache of views is keyed by it (weakly).
        self.docket = execution.docket
        self.key = execution.key
        self.generation = execution.generation
        self.fields = fields

    @classmethod
    async def of(cls, execution: Execution) -> RunSteps:
        """The view of ``execution``'s run (read from Redis on the first call)."""
        loading = _views.get(execution)
        if loading is None:
            loading = asyncio.ensure_future(cls._load(execution))
            _views[execution] = loading
        return await asyncio.shield(loading)

    @classmethod
    async def _load(cls, execution: Execution) -> RunSteps:
        steps = execution.docket.broker.steps
        fields = await through_blips(lambda: steps.read(execution.key))
        return cls(execution, fields)

    async def write(self, fields: Mapping[str, str | bytes], ttl: int = _TTL) -> bool:
        """Write ``fields`` (one round trip); False when this attempt's run has moved
        on (the key was replaced, cancelled or has finished): nothing is kept then."""
        steps = self.docket.broker.steps
        written = await through_blips(
            lambda: steps.write(self.key, self.generation, fields, ttl)
        )
        if written:
            self.fields.update(
                {k: v.encode() if isinstance(v, str) else v for k, v in fields.items()}
            )
        return written

    def seal(self, name: str, value: Any) -> bytes:
        """``value`` as one field: through the docket's codec, signed (when signing
        is on) for this task key and name."""
        codec = self.docket.codec
        sealed = codec.dumps(STEP, [self.key.encode(), name.encode()], value)
        return b"\n".join(
            [sealed.serializer.encode(), sealed.signature or b"", *sealed.blobs]
        )

    def unseal(self, name: str, raw: bytes) -> Any:
        """The value of a field written by ``seal``, verified first; a value that
        does not verify (tampered, unsigned on a signing docket) is refused with
        ``UnverifiedPayload``."""
        key = self.key
        parts = raw.split(b"\n", 2)
        if len(parts) != 3:
            raise UnverifiedPayload(
                f"The checkpoint value {name!r} of task {key!r} is not a sealed value"
            )
        serializer, signature, blob = parts
        sealed = Sealed(serializer.decode(errors="replace"), (blob,), signature or None)
        codec = self.docket.codec
        try:
            (value,) = codec.loads(STEP, [key.encode(), name.encode()], sealed)
        except UnverifiedPayload as problem:
            raise UnverifiedPayload(
                f"The checkpoint value {name!r} of task {key!r} was not loaded: {problem}"
            ) from None
        return value


class OnRunSteps:
    """What ``Checkpoint`` and ``Suspend`` share: one per task, refused beside
    ``Isolated`` (see _tasks), and a fresh instance per attempt, bound to that
    attempt's view of its run's checkpoint."""

    single: bool = True
    isolated: ClassVar[bool] = False
    _steps: RunSteps | None = None

    async def __aenter__(self) -> Self:
        bound = type(self)()
        bound._steps = await RunSteps.of(current_execution.get())
        return bound

    @property
    def _view(self) -> RunSteps:
        if self._steps is None:
            raise RuntimeError(
                f"{type(self).__name__} is only usable inside a task run by a "
                "docket worker"
            )
        return self._steps


def _name(name: str) -> str:
    if not isinstance(name, str) or not name:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ValueError(f"A checkpoint name is a non-empty string, not {name!r}")
    return name


class Checkpoint(OnRunSteps, Dependency["Checkpoint"]):
    """A per-run store of marks and values (``steps: Checkpoint = Checkpoint()``).

    ``await steps.done(name)`` / ``await steps.mark(name)`` record that a step of
    the run was done; ``await steps.get(name, default)`` / ``await steps.set(name,
    value)`` keep a value (through the docket's codec: signed when signing is on).
    Code between two marks runs at least once; a marked step is skipped on every
    later attempt of the same run. Not available to ``Isolated`` tasks.
    """

    async def done(self, name: str) -> bool:
        """Whether ``mark(name)`` was called in this run (no round trip)."""
        return MARK + _name(name) in self._view.fields

    async def mark(self, name: str) -> None:
        """Record that step ``name`` is done in this run."""
        await self._view.write({MARK + _name(name): str(int(_clock.time()))})

    async def get(self, name: str, default: Any = None) -> Any:
        """The value ``set(name, ...)`` kept in this run, else ``default``."""
        view = self._view
        raw = view.fields.get(VALUE + _name(name))
        return default if raw is None else view.unseal(name, raw)

    async def set(self, name: str, value: Any) -> None:
        """Keep ``value`` under ``name`` for the rest of this run."""
        view = self._view
        await view.write({VALUE + _name(name): view.seal(name, value)})

    def names(self) -> list[str]:
        """The names marked in this run, in order of name."""
        return sorted(n[len(MARK) :] for n in self._view.fields if n.startswith(MARK))

    def __repr__(self) -> str:
        return "Checkpoint()"
