"""Bar charts drawn on the server as SVG: shapes placed here, drawn by the template with SVG
presentation attributes (no style attribute, no script), each with its numbers in a table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

# The drawing's own units; the SVG scales to the page's width.
WIDTH: Final = 640
ROW: Final = 26  # a horizontal bar's row
LABEL_WIDTH: Final = 170
COLUMN_HEIGHT: Final = 180  # the tallest vertical bar
COLUMN_LABEL: Final = 40


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float
    # where its number is written
    text_x: float
    text_y: float


@dataclass(frozen=True)
class Chart:
    title: str
    bars: tuple[Bar, ...]
    width: int
    height: int
    horizontal: bool

    @property
    def empty(self) -> bool:
        return not self.bars


def rows(title: str, counts: Sequence[tuple[str, int]]) -> Chart:
    """One horizontal bar a row: for many named things (villages, categories)."""
    most = max((value for _, value in counts), default=0) or 1
    room = WIDTH - LABEL_WIDTH - 50
    bars = tuple(
        Bar(
            label=name,
            value=value,
            x=LABEL_WIDTH,
            y=index * ROW + 4,
            width=max(room * value / most, 1.0 if value else 0.0),
            height=ROW - 8,
            text_x=LABEL_WIDTH + room * value / most + 6,
            text_y=index * ROW + ROW - 8,
        )
        for index, (name, value) in enumerate(counts)
    )
    return Chart(title, bars, WIDTH, max(len(bars), 1) * ROW, horizontal=True)


def columns(title: str, counts: Sequence[tuple[str, int]]) -> Chart:
    """One vertical bar a period, oldest first: for months."""
    most = max((value for _, value in counts), default=0) or 1
    step = min(WIDTH / max(len(counts), 1), 80.0)
    top = 20  # room for the tallest bar's number
    bars = tuple(
        Bar(
            label=name,
            value=value,
            x=index * step + step * 0.15,
            y=top + COLUMN_HEIGHT - COLUMN_HEIGHT * value / most,
            width=step * 0.7,
            height=COLUMN_HEIGHT * value / most,
            text_x=index * step + step / 2,
            text_y=top + COLUMN_HEIGHT - COLUMN_HEIGHT * value / most - 6,
        )
        for index, (name, value) in enumerate(counts)
    )
    return Chart(title, bars, WIDTH, top + COLUMN_HEIGHT + COLUMN_LABEL, horizontal=False)
