"""``docket show KEY``: everything known about one task (what the dashboard's
task page shows): state, timeline and each attempt, arguments, result or
exception with its traceback, progress."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Annotated

import typer

from .. import _defaults
from .._broker.history import Attempt
from .._codec.message import DEFAULT_PRIORITY
from .._console.task_report import TaskReport, task_report
from .._text import for_terminal
from ._app import app
from ._common import fail, run, say
from ._human import local_and_relative, relative, span
from ._options import DocketName, SigningKeysFile, Unpickle, WatchUrl
from ._options import signing_keys as keys_of

WIDTH = 80  # indented blocks (arguments, tracebacks) are cut to this width
INDENT = "  "


def _block(text: str | None, indent: str = INDENT) -> list[str]:
    """A multi-line value, indented, each line escaped and folded at ``WIDTH``."""
    lines: list[str] = []
    room = WIDTH - len(indent)
    for line in (text or "").splitlines() or [""]:
        shown = for_terminal(line)
        while len(shown) > room:
            lines.append(indent + shown[:room])
            shown = shown[room:]
        lines.append(indent + shown)
    return lines


def _attempt(now: datetime, attempt: Attempt) -> list[str]:
    outcome = attempt.outcome or ("running" if attempt.started_at else "waiting")
    parts = [f"#{attempt.number} {outcome}"]
    if attempt.worker:
        parts.append(f"on {for_terminal(attempt.worker)}")
    if attempt.started_at:
        parts.append(f"started {relative(now, attempt.started_at)}")
    if attempt.seconds is not None:
        parts.append(f"ran {span(attempt.seconds)}")
    if attempt.redelivered:
        parts.append("(redelivered)")
    lines = [INDENT + ", ".join(parts)]
    if attempt.error:
        lines += _block(attempt.error, INDENT * 2)
    if attempt.traceback and attempt.outcome != "failed":
        lines += _block(attempt.traceback, INDENT * 2)
    return lines


def report_lines(report: TaskReport) -> list[str]:
    """The human form: one fact a line, values escaped."""
    now = datetime.now(timezone.utc)
    lines = [
        f"Key: {for_terminal(report.key)}",
        f"State: {report.state}",
        f"Task: {for_terminal(report.task)}",
    ]
    if report.priority != DEFAULT_PRIORITY:
        lines.append(f"Priority: {report.priority}")
    lines += [
        f"Added: {local_and_relative(now, report.added)}",
        f"Due: {local_and_relative(now, report.due)}",
    ]
    if report.finished:
        lines.append(f"Finished: {local_and_relative(now, report.finished)}")
    if report.progress:
        progress = report.progress
        text = f"{progress.current}/{progress.total}"
        if progress.percent is not None:
            text += f" ({progress.percent}%)"
        if progress.message:
            text += f" {for_terminal(progress.message)}"
        lines.append(f"Progress: {text}")
    if report.parents:  # one parent a line: "<key> (<state it ended in>)"
        total = len(report.parents)
        awaited = f"waiting on {report.awaited} of {total}" if report.awaited else ""
        lines.append(f"After: {awaited or total}")
        named = [k + (f" ({s})" if s else "") for k, s in report.parents.items()]
        lines += _block("\n".join(named))
    for signal in report.signals:  # "waiting on signal X since T" and the like
        since, name = (
            relative(now, signal.since) or "unknown",
            for_terminal(signal.name),
        )
        if signal.state == "waiting":
            text = f"Signal: waiting on signal {name} since {since}"
            if signal.deadline is not None:
                text += f", times out {relative(now, signal.deadline)}"
        else:
            text = f"Signal: {name} {signal.state} (waited since {since})"
        lines.append(text)
    if report.followers:
        lines.append("Followers:")
        lines += _block("\n".join(report.followers))
    if report.suspended:
        if report.suspended_signal is not None:
            what = f"waiting for signal {for_terminal(report.suspended_signal)}"
        else:
            what = f"until {local_and_relative(now, report.suspended_until)}"
        since = relative(now, report.suspended_since or now)
        lines.append(f"Suspended: {what}, since {since}")
    if report.steps:
        lines.append("Checkpoint:")
        lines += _block("\n".join(map(for_terminal, report.steps)))  # one a line
    if report.kept:
        lines.append("Checkpoint values:")
        lines += _block("\n".join(map(for_terminal, report.kept)))
    retries = f", {report.retries} retried" if report.retries else ""
    lines.append(f"Attempts: {len(report.attempts)}{retries}")
    for attempt in report.attempts:
        lines += _attempt(now, attempt)
    lines.append("Arguments:")
    lines += _block(report.arguments)
    if report.state == "completed":
        lines.append("Result:")
        lines += _block(report.result)
    if report.state == "failed":
        lines.append("Error:")
        lines += _block(report.error)
        if report.traceback:
            lines.append("Traceback:")
            lines += _block(report.traceback)
    if report.actions:
        lines.append(f"Actions: {', '.join(report.actions)}")
    return lines


async def _report(
    docket_name: str, url: str, key: str, keys: list[str] | None, unsafe: bool
) -> TaskReport:
    from ..docket import Docket

    async with Docket(name=docket_name, url=url, signing_keys=keys) as docket:
        return await task_report(docket, key, unsafe)


@app.command()
def show(
    key: Annotated[str, typer.Argument(help="The task's key")],
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON document, for scripts")
    ] = False,
    url: WatchUrl = _defaults.DOCKET_URL,
    docket_name: DocketName = _defaults.DOCKET_NAME,
    signing_keys: SigningKeysFile = None,
    unpickle: Unpickle = False,
) -> None:
    """Show one task: its state, when it was added and is due, each attempt
    (worker, times, outcome, error), its arguments, its result or exception
    with the traceback, and its progress. Exits 1 for an unknown key.

    Arguments and results are shown when they verify against the signing
    keys or were written as JSON; without keys pickles only with --unpickle."""
    keys = keys_of(signing_keys)
    try:
        report = run(_report(docket_name, url, key, keys, unpickle), url)
    except ValueError as error:
        raise fail(f"Error: {error}") from None
    if report.state is None:
        raise fail(
            f"Error: no task with key {for_terminal(key)!r} in docket "
            f"{for_terminal(docket_name)!r} (never added, or its record expired)"
        )
    if as_json:
        say(json.dumps(report.as_dict(), indent=2))
        return
    say("\n".join(report_lines(report)))
