"""The CLI's tables: one line per row at any width, ids never cut.

A ``Grid`` is printed through Rich but measured here: every cell is escaped
(``for_terminal``: no control character, no markup reaches the terminal), ids
(``whole`` columns: keys, dead-letter ids) are printed in full and never
wrapped, and the other columns give up width, widest first, and end in ``…``
when they must. When the ids alone are wider than the terminal, the line is
longer than the terminal (the terminal wraps it; copying still gets the whole
id). Only a ``wrap`` column (the last one) may continue on further lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from .._text import for_terminal

GAP = 2
DETAIL_INDENT = 4
ID_WIDTH = 36  # a uuid: ids up to this long stay aligned on a narrow terminal
TIME_WIDTH = 10  # "4m 58s ago", "in 2h 05m": what a time column keeps
_NARROWEST = 4  # a shortened column keeps at least this much (or its header)


@dataclass(frozen=True)
class Column:
    header: str
    whole: bool = False  # an id: never shortened
    justify: Literal["left", "right"] = "left"
    wrap: bool = False  # the last column may continue on further lines
    style: str = ""
    least: int = _NARROWEST  # narrowest it gets when shortened (or its header)


@dataclass
class Grid:
    columns: list[Column]
    title: list[str] = field(default_factory=list[str])
    rows: list[tuple[list[str], str]] = field(
        default_factory=list[tuple[list[str], str]]
    )
    details: dict[int, str] = field(default_factory=dict[int, str])

    def add_row(self, *cells: object, style: str = "", detail: str = "") -> None:
        """One row; every cell is escaped here (None is an empty cell). A
        ``detail`` is printed whole on a line of its own under the row."""
        if detail:
            self.details[len(self.rows)] = for_terminal(detail)
        self.rows.append(([for_terminal(cell) for cell in cells], style))

    def widths(self, available: int) -> list[int]:
        """Each column's width for a terminal ``available`` cells wide.

        When the natural widths do not fit, an id column is laid out at most
        ``ID_WIDTH`` wide (a longer id pushes the rest of its own line right),
        then the other columns give up width, widest first, down to their
        floor, and last the id columns down to theirs."""
        natural = [
            max([cell_len(column.header)] + [cell_len(row[i]) for row, _ in self.rows])
            for i, column in enumerate(self.columns)
        ]
        floors = [
            min(natural[i], max(column.least, cell_len(column.header)))
            for i, column in enumerate(self.columns)
        ]
        budget = available - GAP * (len(natural) - 1)
        widths = list(natural)
        if sum(widths) <= budget:
            return widths
        for i, column in enumerate(self.columns):
            if column.whole:
                widths[i] = max(floors[i], min(natural[i], ID_WIDTH))
        for ids in (False, True):
            while sum(widths) > budget:
                shrinkable = [
                    i
                    for i, w in enumerate(widths)
                    if w > floors[i] and self.columns[i].whole is ids
                ]
                if not shrinkable:
                    break
                widest = max(shrinkable, key=lambda i: widths[i])
                widths[widest] -= 1
        return widths

    def __rich_console__(
        self, console: Console, options: ConsoleOptions
    ) -> RenderResult:
        widths = self.widths(options.max_width)
        for line in self.title:
            yield Segment(for_terminal(line), Style(bold=True))
            yield Segment.line()
        if not self.rows:
            return
        header = [column.header for column in self.columns]
        yield from self._line(console, header, widths, "bold")
        for index, (cells, style) in enumerate(self.rows):
            yield from self._line(console, cells, widths, style)
            detail = self.details.get(index)
            if detail is not None:
                yield Segment(" " * DETAIL_INDENT + detail, Style(dim=True))
                yield Segment.line()

    def _line(
        self, console: Console, cells: list[str], widths: list[int], style: str
    ) -> Iterator[Segment]:
        last = len(cells) - 1
        continued: list[str] = []
        text = Text(style=style, no_wrap=True, end="")
        for i, (cell, column, width) in enumerate(
            zip(cells, self.columns, widths, strict=True)
        ):
            if i:
                text.append(" " * GAP)
            if column.wrap and i == last:
                first, *continued = _fold(cell, width)
                text.append(first, column.style)
                continue
            shown = Text(cell, style=column.style, end="")
            if not column.whole:
                shown.truncate(width, overflow="ellipsis")
            if i != last:
                shown.align(column.justify, max(width, shown.cell_len))
            elif column.justify == "right":
                shown.align("right", width)
            text.append_text(shown)
        text.rstrip()
        yield from text.render(console)
        yield Segment.line()
        indent = sum(widths[:last]) + GAP * last
        for more in continued:
            yield Segment(" " * indent)
            yield from Text(more, style=style, end="").render(console)
            yield Segment.line()


def _fold(cell: str, width: int) -> list[str]:
    """``cell`` in lines of at most ``width`` cells, broken after ``, `` where it
    can be and anywhere where it cannot."""
    lines: list[str] = []
    current = ""
    for part in cell.split(", "):
        candidate = f"{current}, {part}" if current else part
        if not current or cell_len(candidate) <= width:
            current = candidate
            continue
        lines.append(current + ",")
        current = part
    lines.append(current)
    return [piece for line in lines for piece in _cut(line, max(width, 1))]


def _cut(line: str, width: int) -> list[str]:
    pieces = Text(line).wrap(Console(width=width), width, overflow="fold")
    return [piece.plain.rstrip() for piece in pieces] or [""]


def print_grid(console: Console, grid: Grid) -> None:
    """Print ``grid`` without Rich cropping an id that is wider than the terminal."""
    console.print(grid, crop=False, soft_wrap=True)


def join(values: Iterable[str]) -> str:
    return ", ".join(values)


__all__ = ["GAP", "TIME_WIDTH", "Column", "Grid", "join", "print_grid"]
