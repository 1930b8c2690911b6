"""A DocketBackend's ``OPTIONS`` and ``QUEUES``, checked once: which Docket
holds each queue, and how to open it (the web process and the worker open the
same Dockets from the same settings).

Each queue is its own Docket, so a worker chooses the queues it runs: the
``default`` queue is the Docket named ``name``, any other queue ``q`` the Docket
``f"{name}.{q}"``."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from docket import Docket

from ._compat import InvalidTaskBackend

DEFAULT_QUEUE = "default"
QUEUE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
KNOWN_OPTIONS = ("url", "name", "execution_ttl", "serializer", "signing_keys")
# The name a Docket gets when none is given (its constructor's default).
DEFAULT_DOCKET_NAME: str = inspect.signature(Docket).parameters["name"].default


def _seconds(alias: str, value: Any) -> timedelta:
    if isinstance(value, timedelta):
        ttl = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        ttl = timedelta(seconds=value)
    else:
        raise InvalidTaskBackend(
            f"TASKS[{alias!r}]['OPTIONS']['execution_ttl'] must be a timedelta or "
            f"a number of seconds, not {value!r}"
        )
    if ttl <= timedelta(0):
        raise InvalidTaskBackend(
            f"TASKS[{alias!r}]['OPTIONS']['execution_ttl'] must be positive: "
            "results are read back from what a run keeps"
        )
    return ttl


@dataclass(frozen=True)
class DocketSettings:
    """How one backend alias reaches its Dockets."""

    alias: str
    queues: tuple[str, ...]
    options: Mapping[str, Any] = field(default_factory=dict[str, Any])

    @classmethod
    def parse(
        cls, alias: str, queues: Iterable[str], options: Mapping[str, Any]
    ) -> DocketSettings:
        unknown = sorted(set(options) - set(KNOWN_OPTIONS))
        if unknown:
            raise InvalidTaskBackend(
                f"TASKS[{alias!r}]['OPTIONS'] has unknown option(s) "
                f"{', '.join(map(repr, unknown))}; known: {', '.join(KNOWN_OPTIONS)}"
            )
        listed = tuple(sorted(queues))
        if not listed:
            raise InvalidTaskBackend(
                f"TASKS[{alias!r}]['QUEUES'] must list the queues: each queue is a "
                "Docket, which workers and get_result() need to know"
            )
        for queue in listed:
            if not isinstance(queue, str) or not QUEUE_NAME.fullmatch(queue):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise InvalidTaskBackend(
                    f"TASKS[{alias!r}]['QUEUES'] has {queue!r}: queue names are "
                    "letters, digits, '_', '.' and '-' (each names a Docket)"
                )
        docket_options: dict[str, Any] = {}
        for key in ("url", "name", "serializer"):
            if key in options:
                value = options[key]
                if not isinstance(value, str) or not value:
                    raise InvalidTaskBackend(
                        f"TASKS[{alias!r}]['OPTIONS'][{key!r}] must be a "
                        f"non-empty string, not {value!r}"
                    )
                docket_options[key] = value
        url = str(docket_options.get("url", ""))
        if url.startswith("memory://"):
            raise InvalidTaskBackend(
                f"TASKS[{alias!r}]: a memory:// docket lives inside one event loop "
                "of one process, but Django enqueues from its own loop and "
                "`manage.py docket_worker` runs tasks in another process; use a "
                "redis:// URL (in tests, Django's ImmediateBackend runs tasks at once)"
            )
        if "execution_ttl" in options:
            docket_options["execution_ttl"] = _seconds(alias, options["execution_ttl"])
        if "signing_keys" in options:
            keys = options["signing_keys"]
            if isinstance(keys, (str, bytes)) or not all(
                isinstance(k, (str, bytes)) for k in keys
            ):
                raise InvalidTaskBackend(
                    f"TASKS[{alias!r}]['OPTIONS']['signing_keys'] must be a list of "
                    "keys (strings or bytes)"
                )
            docket_options["signing_keys"] = list(keys)
        docket_options.setdefault("serializer", "json")
        settings = cls(alias, listed, docket_options)
        try:  # what the Docket itself refuses (a URL, a key), said now
            settings.make_docket(DEFAULT_QUEUE)
        except (TypeError, ValueError) as problem:
            raise InvalidTaskBackend(
                f"TASKS[{alias!r}]['OPTIONS']: {problem}"
            ) from None
        return settings

    @property
    def name(self) -> str | None:
        name = self.options.get("name")
        return str(name) if name is not None else None

    def docket_name(self, queue: str) -> str:
        """The Docket that holds ``queue``."""
        base = self.name or DEFAULT_DOCKET_NAME
        return base if queue == DEFAULT_QUEUE else f"{base}.{queue}"

    def queue_of(self, docket_name: str) -> str | None:
        """The queue ``docket_name`` holds, if it is one of ours."""
        for queue in self.queues:
            if self.docket_name(queue) == docket_name:
                return queue
        return None

    def key(self, queue: str) -> tuple[Any, ...]:
        """What tells two Dockets apart (the portal opens each once)."""
        return (
            self.docket_name(queue),
            self.options.get("url"),
            self.options.get("serializer"),
            self.options.get("execution_ttl"),
            tuple(self.options.get("signing_keys") or ()),
        )

    def make_docket(self, queue: str) -> Docket:
        """A Docket for ``queue`` (not yet entered)."""
        options = {k: v for k, v in self.options.items() if k != "name"}
        return Docket(name=self.docket_name(queue), **options)


__all__ = ["DEFAULT_QUEUE", "DocketSettings"]
