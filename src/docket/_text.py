"""Text from Redis made safe for a human's terminal.

Keys, task names, worker names, exception messages and progress text are written
by whoever can write to the docket's Redis keys. Printed raw, an ESC sequence
retitles or clears the terminal, a carriage return or a newline forges output
lines, and a bidi override reorders what the reader sees; printed through Rich
with markup on, ``[/]`` raises ``MarkupError`` and ``[link=...]`` plants a live
hyperlink.

``for_terminal`` is the one function every human-readable output uses (CLI tables
and detail views, ``watch``, the worker's rich and plain log lines): control
characters become visible escapes (``\\x1b``, ``\\n``, ``\\r``, ``\\t``,
``\\x9b``, ``\\u202e``), everything else is kept as it is, so an ordinary key is
printed exactly and can be copied. Backslashes are left alone (a key that
contains ``\\n`` as two characters reads like one that contains a newline; only
the latter is rewritten). JSON outputs never go through it: they stay exact.

Through Rich, print ``for_rich(value)`` (a ``Text``, which Rich never parses for
markup) or, inside a markup string, ``for_markup(value)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.text import Text

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

# Bidirectional formatting characters (embeddings, overrides, isolates, marks) and
# the Unicode line and paragraph separators: each changes what a reader sees
# without being seen itself.
_INVISIBLE_LAYOUT = (
    "\u061c\u200e\u200f\u2028\u2029"
    "\u202a\u202b\u202c\u202d\u202e"
    "\u2066\u2067\u2068\u2069"
)


def as_text(value: Any) -> str:
    """A value from a Redis reply as text: bytes decoded (UTF-8), anything else
    (a str already decoded, a number) through ``str``. The one decoding helper of
    the broker's readers; it makes nothing safe to print (see ``for_terminal``)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def as_text_replacing(value: Any) -> str:
    """``as_text`` for replies anyone who can write the docket's keys may have
    written (gate and mailbox hashes, checkpoint names): a byte that is not UTF-8
    becomes U+FFFD instead of raising, so one bad field cannot break the read."""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _escape(character: str) -> str:
    named = _NAMED.get(character)
    if named is not None:
        return named
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


# C0 controls, DEL and the C1 controls (0x9b is a one-byte CSI on some terminals).
_CONTROLS = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))]
_TABLE = str.maketrans({c: _escape(c) for c in (*_CONTROLS, *_INVISIBLE_LAYOUT)})


def for_terminal(value: object) -> str:
    """``value`` as text (None as ``""``) with every control character, bidi
    formatting character and line separator written as a visible escape."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():  # the usual case: nothing to rewrite
        return text
    return text.translate(_TABLE)


def for_lines(text: str) -> str:
    """Multi-line text of ours (a traceback, a banner) that may hold untrusted
    parts: every line keeps its line break, everything else is escaped as by
    ``for_terminal``."""
    return "\n".join(for_terminal(line) for line in text.split("\n"))


def for_rich(value: object, style: str = "") -> Text:
    """``for_terminal(value)`` as a Rich ``Text``: markup in it stays inert."""
    from rich.text import Text

    return Text(for_terminal(value), style=style)


def for_markup(value: object) -> str:
    """``for_terminal(value)`` for a Rich markup string: ``[`` cannot open a tag."""
    from rich.markup import escape

    return escape(for_terminal(value))


__all__ = ["for_lines", "for_markup", "for_rich", "for_terminal"]
