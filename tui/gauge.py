"""Bars drawn with block characters as Textual ``Content``: no animation (stable snapshots), and colours
taken from the theme's variables, so light and dark themes both read well."""

from __future__ import annotations

from textual.content import Content

EMPTY = "$foreground 25%"


def bar(fraction: float | None, width: int, fill: str = "$primary") -> Content:
    """A ``width``-cell bar filled to ``fraction`` (clamped to 0..1); None draws an empty bar."""
    f = 0.0 if fraction is None else min(1.0, max(0.0, fraction))
    eighths = round(f * width * 8)
    full, part = divmod(eighths, 8)
    pieces: list[tuple[str, str]] = [("█" * full, fill)]
    if part and full < width:
        pieces.append((" ▏▎▍▌▋▊▉"[part], fill))
        full += 1
    pieces.append(("░" * (width - full), EMPTY))
    return Content.assemble(*pieces)


def split_bar(left: float | None, width: int, left_style: str, right_style: str) -> Content:
    """Two shares side by side (local | cloud); an empty bar when nothing was served yet."""
    if left is None:
        return Content.assemble(("░" * width, EMPTY))
    n = round(min(1.0, max(0.0, left)) * width)
    return Content.assemble(("█" * n, left_style), ("█" * (width - n), right_style))
