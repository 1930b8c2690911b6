"""Tasks that carry hostile text into every human-readable output: they echo it,
raise it, and report it as progress (``tests._support.hostile_tasks:tasks``)."""

from __future__ import annotations

from docket import Progress

# ESC sequences (an OSC retitle, a clear screen), Rich markup that breaks
# (``[/]``) or links, a newline followed by what looks like a plain log record,
# a carriage return and a bidi override.
HOSTILE = (
    "k\x1b]0;owned\x07[/]\n[2026-01-01 00:00:00] INFO - docket.worker - forged "
    "[link=https://x.example]x[/link]\r\x1b[2J\u202e"
)
FORGED = "[2026-01-01 00:00:00]"  # how a forged line would start


async def echo(text: str) -> str:
    return text


async def refuse(text: str) -> None:
    raise ValueError(text)


async def report(text: str, progress: Progress = Progress()) -> None:
    await progress.set_total(2)
    await progress.increment()
    await progress.set_message(text)


tasks = [echo, refuse, report]
