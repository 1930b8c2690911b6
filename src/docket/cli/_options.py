"""Options and value parsers shared by the commands, declared once."""

from __future__ import annotations

import enum
import importlib
import os
import sys
from datetime import timedelta
from typing import Annotated, Any

import typer

from .. import _defaults
from .._codec import Codec, check_serializer
from .._codec.signing import read_keys_file
from .._defaults import parse_duration
from .._redis import is_memory_url
from .._redis.backend import check_url
from ._logging import normalise_format, normalise_level

MEMORY_URL_MESSAGE = (
    "The memory:// URL scheme is not supported by the CLI.\n"
    "The memory backend does not persist across processes.\n"
    "Please use a persistent backend like Redis or Valkey."
)


def duration(duration_str: str | timedelta) -> timedelta:
    """Parse ``10m``, ``5s``, ``250ms``, ``1d``, ``1.5``, ``90`` (seconds),
    ``mm:ss`` or ``hh:mm:ss``; raise ValueError for anything else."""
    return parse_duration(duration_str)


def duration_text(length: timedelta) -> str:
    """``length`` in the largest whole unit ``duration`` reads back (``1m``,
    ``5s``, ``250ms``): how an option shows its default."""
    milliseconds = round(length.total_seconds() * 1000)
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if milliseconds and milliseconds % size == 0:
            return f"{milliseconds // size}{unit}"
    return f"{milliseconds}ms"


def positive_duration(value: str | timedelta) -> timedelta:
    parsed = duration(value)
    if parsed <= timedelta(0):
        raise ValueError(f"{value!r} must be longer than zero")
    return parsed


def duration_option(value: str | timedelta) -> timedelta:
    """``duration`` for an option: a bad value is a usage error (exit 2)."""
    try:
        return duration(value)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


def positive_duration_option(value: str | timedelta) -> timedelta:
    try:
        return positive_duration(value)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


def redelivery_timeout_option(value: str | timedelta) -> timedelta:
    """A redelivery timeout: at least ``MIN_REDELIVERY_TIMEOUT`` (usage error)."""
    parsed = positive_duration_option(value)
    shortest = _defaults.MIN_REDELIVERY_TIMEOUT
    if parsed < shortest:
        raise typer.BadParameter(
            f"{value!r} is too short: the redelivery timeout is at least "
            f"{shortest.total_seconds() * 1000:.0f}ms"
        )
    return parsed


def check_signing_keys(path: str | None) -> str | None:
    """The keys file (or, without one, DOCKET_SIGNING_KEYS and DOCKET_SERIALIZER)
    must make a usable codec: a bad file or key is a usage error, exit 2."""
    try:
        Codec.configured(None, None if path is None else read_keys_file(path))
    except (ValueError, TypeError) as error:
        raise typer.BadParameter(str(error)) from None
    return path


def signing_keys(path: str | None) -> list[str] | None:
    """The keys of ``--signing-keys-file``; None lets the Docket read the
    environment (DOCKET_SIGNING_KEYS or DOCKET_SIGNING_KEYS_FILE)."""
    return None if path is None else read_keys_file(path)


def validate_serializer(name: str | None) -> str | None:
    if name is None:
        return None
    try:
        return check_serializer(name.strip().lower())
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


def pools(values: list[str] | None) -> dict[str, int]:
    """``--pool heavy=2`` (repeatable; in ``DOCKET_WORKER_POOLS`` separated by
    spaces or commas) as ``{"heavy": 2}``."""
    found: dict[str, int] = {}
    for value in values or []:
        for item in value.replace(",", " ").split():
            name, equals, size = item.partition("=")
            if not equals or not name.strip() or not size.strip().isdigit():
                raise ValueError(
                    f"Cannot read pool {item!r}: write NAME=SIZE, e.g. heavy=2"
                )
            if int(size) < 1:
                raise ValueError(f"Pool {name!r} must have at least 1 process")
            found[name.strip()] = int(size)
    return found


def validate_pools(values: list[str] | None) -> list[str] | None:
    try:
        pools(values)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    return values


def validate_url(url: str) -> str:
    """Reject URLs the CLI cannot use: memory:// and unsupported schemes."""
    if is_memory_url(url):
        raise typer.BadParameter(MEMORY_URL_MESSAGE)
    return validate_any_url(url)


def validate_any_url(url: str) -> str:
    """Reject unsupported schemes (memory:// is fine here)."""
    try:
        check_url(url)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    return url


def _import(path: str, what: str) -> Any:
    """Import ``module:attribute`` (the working directory is importable too)."""
    module_name, _, attribute = path.rpartition(":")
    if not module_name or not attribute:
        raise typer.BadParameter(f"{what} are given as module:attribute, not {path!r}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise typer.BadParameter(f"cannot import {module_name!r}: {error}") from None
    found = getattr(module, attribute, None)
    if found is None:
        raise typer.BadParameter(f"{module_name!r} has no attribute {attribute!r}")
    return found


def validate_tasks(paths: list[str]) -> list[str]:
    """Each path must name an importable collection of task functions."""
    for path in paths:
        collection = _import(path, "Task collections")
        try:
            functions = list(collection)
        except TypeError:
            raise typer.BadParameter(f"{path!r} is not a list of tasks") from None
        for function in functions:
            if not callable(function):
                raise typer.BadParameter(f"{path!r} holds {function!r}, not a task")
    return paths


def validate_fallback_task(path: str | None) -> str | None:
    if path is not None and not callable(_import(path, "Fallback tasks")):
        raise typer.BadParameter(f"{path!r} is not a function")
    return path


def validate_dependencies(path: str | None) -> str | None:
    """``module:member`` must name a list or a mapping of worker dependencies."""
    if not path:
        return path
    from ..worker import Worker  # the constructor's own checks, messages included

    collection = _import(path, "Worker dependencies")
    try:
        Worker.check_dependencies(collection)
    except (TypeError, ValueError) as error:
        raise typer.BadParameter(f"{path!r}: {error}") from None
    return path


class LogLevel(str, enum.Enum):
    """The ``--logging-level`` values (any case is accepted on the command line)."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


class LogFormat(str, enum.Enum):
    """The ``--logging-format`` values."""

    RICH = "rich"
    PLAIN = "plain"
    JSON = "json"


def set_logging_level(level: str) -> str:
    try:
        return normalise_level(level)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


def set_logging_format(format: str | None) -> str | None:
    if format is None:
        return None
    try:
        return normalise_format(format)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


DocketName = Annotated[
    str,
    typer.Option(
        "--docket",
        "-d",
        envvar=_defaults.ENV_NAME,
        metavar="NAME",
        help="The name of the docket",
    ),
]
Url = Annotated[
    str,
    typer.Option(
        "--url",
        "-u",
        envvar=_defaults.ENV_URL,
        callback=validate_url,
        help="The URL of the Redis server (memory:// is not supported here)",
    ),
]
WorkerUrl = Annotated[
    str,
    typer.Option(
        "--url",
        "-u",
        envvar=_defaults.ENV_URL,
        callback=validate_any_url,
        help="The URL of the Redis server, or memory:// for a single-process service",
    ),
]
WatchUrl = Annotated[
    str,
    typer.Option(
        "--url",
        "-u",
        envvar=[_defaults.ENV_WATCH_URL, _defaults.ENV_URL],
        callback=validate_any_url,
        help="The URL of the Redis server",
    ),
]
Tasks = Annotated[
    list[str],
    typer.Option(
        "--tasks",
        envvar=_defaults.ENV_TASKS,
        metavar="MODULE:ATTR",
        callback=validate_tasks,
        help="Task collections to register, as module:attribute (repeatable)",
    ),
]
SigningKeysFile = Annotated[
    str | None,
    typer.Option(
        "--signing-keys-file",
        metavar="PATH",
        callback=check_signing_keys,
        show_default="DOCKET_SIGNING_KEYS",
        help="File of signing keys, one a line (the first signs, all verify); "
        "see docs/security.md",
    ),
]
ShowArgs = Annotated[
    bool,
    typer.Option(
        "--show-args",
        help="Show each task's arguments on a line under it (when they verify "
        "against the signing keys; else a placeholder saying why not)",
    ),
]
Unpickle = Annotated[
    bool,
    typer.Option(
        "--unpickle",
        help="Without signing keys, decode and show arguments anyway (unpickling "
        "runs code chosen by whoever wrote to Redis: only on trusted data)",
    ),
]
# The earlier spelling of --unpickle on snapshot and watch, kept working.
UnsafeShowArgs = Annotated[bool, typer.Option("--unsafe-show-args", hidden=True)]
Delay = Annotated[
    timedelta,
    typer.Option(
        "--delay",
        parser=duration_option,
        metavar="DURATION",
        show_default="0s",
        help="How long from now to schedule the task (5s, 10m, hh:mm:ss...)",
    ),
]

Json = Annotated[
    bool,
    typer.Option(
        "--json", help="Print JSON (stable field names, see docs/dashboard.md)"
    ),
]

__all__ = [
    "Json",
    "MEMORY_URL_MESSAGE",
    "DocketName",
    "Delay",
    "LogFormat",
    "LogLevel",
    "ShowArgs",
    "SigningKeysFile",
    "Tasks",
    "Unpickle",
    "UnsafeShowArgs",
    "Url",
    "WatchUrl",
    "WorkerUrl",
    "duration",
    "duration_option",
    "positive_duration",
    "positive_duration_option",
    "redelivery_timeout_option",
    "signing_keys",
    "set_logging_format",
    "set_logging_level",
    "validate_any_url",
    "validate_dependencies",
    "validate_fallback_task",
    "validate_serializer",
    "validate_tasks",
    "validate_url",
]
