"""``docket._text``: what every human-readable output does to text from Redis."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from docket._broker.gates import decode_gate
from docket._broker.mailbox import decode_waits
from docket._text import (
    as_text,
    as_text_replacing,
    for_lines,
    for_markup,
    for_rich,
    for_terminal,
)

HOSTILE = "a\x1b]0;owned\x07b\x1b[2J[/]\n[link=https://x.example]c[/link]\r\t\x9b\u202e"


def test_ordinary_text_is_kept_exactly():
    """Keys, names and messages without control characters come out unchanged,
    non-ASCII letters, emoji and backslashes included (they can be copied)."""
    for text in ("order-12345", "clé:é", "任务", "🚀 done", "a\\nb", "x y", ""):
        assert for_terminal(text) == text


@pytest.mark.parametrize(
    "character, shown",
    [
        ("\x1b", "\\x1b"),
        ("\n", "\\n"),
        ("\r", "\\r"),
        ("\t", "\\t"),
        ("\x00", "\\x00"),
        ("\x07", "\\x07"),
        ("\x7f", "\\x7f"),
        ("\x85", "\\x85"),
        ("\x9b", "\\x9b"),
        ("\u202e", "\\u202e"),
        ("\u2066", "\\u2066"),
        ("\u200f", "\\u200f"),
        ("\u2028", "\\u2028"),
    ],
)
def test_each_control_character_is_made_visible(character: str, shown: str):
    """C0, DEL, C1, bidi formatting characters and line separators become escapes."""
    assert for_terminal(f"a{character}b") == f"a{shown}b"


def test_undecodable_bytes_in_gate_and_mailbox_hashes_are_replaced():
    """as_text raises on bytes that are not UTF-8; as_text_replacing (what the gate
    and mailbox readers use: anyone who can write the keys writes those hashes)
    turns them into U+FFFD, so one bad field cannot break reading a task's gate."""
    with pytest.raises(UnicodeDecodeError):
        as_text(b"a\xffb")
    assert as_text_replacing(b"a\xffb") == "a\ufffdb"
    assert as_text_replacing("kept") == "kept"
    assert as_text_replacing(7) == "7"

    gate = decode_gate({b"p:par\xffent": b"completed", b"~pending": b"0"})
    assert gate is not None and gate.parents == {"par\ufffdent": "completed"}
    waits = decode_waits({b"s:appr\xffoval": b"w\xfe"})
    assert [(w, r.mark) for w, r in waits.items()] == [("appr\ufffdoval", "w\ufffd")]


def test_other_values_are_shown_as_text():
    """None is an empty cell; numbers and objects are their str(), escaped too."""
    assert for_terminal(None) == ""
    assert for_terminal(42) == "42"

    class Sneaky:
        def __str__(self) -> str:
            return "x\x1b[2Jy"

    assert for_terminal(Sneaky()) == "x\\x1b[2Jy"


def test_multi_line_text_keeps_only_its_line_breaks():
    """for_lines keeps the lines of a traceback and escapes the rest of each line."""
    assert for_lines("Traceback:\n  x\x1b[2J\r\nEnd\u202e") == (
        "Traceback:\n  x\\x1b[2J\\r\nEnd\\u202e"
    )


def render(*objects: object, markup: bool = True) -> str:
    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=True, color_system=None)
    console.print(*objects, markup=markup)
    return out.getvalue()


def test_through_rich_markup_stays_inert_and_no_escape_byte_is_written():
    """A Text from for_rich, and for_markup inside a markup string, print the
    markup literally (no MarkupError, no hyperlink) with no raw ESC or newline."""
    for shown in (render(for_rich(HOSTILE)), render(f"[bold]{for_markup(HOSTILE)}")):
        assert "\x1b]8;" not in shown  # no OSC 8 hyperlink
        assert "[/]" in shown and "[link=https://x.example]" in shown
        assert "\\x1b]0;owned\\x07" in shown and "\\n" in shown
        assert shown.count("\n") == 1  # the one line Rich ends it with
        assert "\x1b]0;" not in shown and "\x9b" not in shown


def test_unescaped_markup_is_what_breaks():
    """The precondition: the same text given to Rich as markup raises."""
    from rich.errors import MarkupError

    with pytest.raises(MarkupError):
        render(HOSTILE)
