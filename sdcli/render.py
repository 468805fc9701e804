"""How results look: rich tables for people, JSON for scripts. Part of the CLI layer; the core never prints.

rich is imported on first use so that ``sdcli lookup --output json`` never pays for it. Output going to a pipe or
file (a script, a CI log) is drawn here without rich, since importing rich costs a lookup more than its HTTP
request does: tables character for character as rich draws them, except that a pipe has no width, so a wide
table (a deploy's ARNs) keeps each row on one line instead of folding at an assumed 80 columns.
"""

from __future__ import annotations

import json
import os
import sys
from functools import cache
from typing import Any

ACTION_STYLES = {
    "create": "green",
    "created": "green",
    "update": "yellow",
    "updated": "yellow",
    "delete": "red",
    "deleted": "red",
    "unchanged": "dim",
    "absent": "dim",
}


def _given_width() -> int | None:
    """COLUMNS when it is a usable width; 0, junk or a sliver would draw nothing legible."""
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) >= 20 else None


def _width(stream: Any) -> int | None:
    """What rich should draw to: COLUMNS if given, no limit for a pipe (it has no width), else the terminal's."""
    given = _given_width()
    if given is not None:
        return given
    return None if stream.isatty() else 1_000_000


@cache
def console() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True, width=_width(sys.stdout))


@cache
def error_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True, width=_width(sys.stderr))


def safe_markup(text: str) -> str:
    """Data (a table name) for a place rich reads as markup, such as a spinner's text."""
    from rich.markup import escape

    return escape(visible(text))


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def visible(text: str) -> str:
    """``text`` with control characters shown as escapes, so data (a name, an endpoint URL) cannot drive the
    terminal (ESC sequences) or break the table; rich itself keeps ESC and NUL."""
    return "".join(
        char if char.isprintable() or char == " " else char.encode("unicode_escape", "backslashreplace").decode()
        for char in text
    )


# Settings under which rich would colour or reshape output that is not going to a terminal.
_RICH_ENVIRONMENT = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "JUPYTER_COLUMNS", "JUPYTER_LINES")


def _plain_stream(stream: Any) -> bool:
    """Whether ``stream`` takes plain text: not a terminal, UTF-8, and no setting that asks rich for colour."""
    return not (
        stream.isatty()
        or not (getattr(stream, "encoding", None) or "").lower().replace("-", "").startswith("utf")
        or any(os.environ.get(name) for name in _RICH_ENVIRONMENT)
    )


def _plain_table(title: str | None, columns: list[str], rows: list[list[str]], show_header: bool) -> str | None:
    """The table as rich draws it for a non-terminal (heavy-head box, no styles), or None if rich must draw it.

    Only the simple case: printable ASCII everywhere (one cell per character), and nothing to fold: a table
    wider than COLUMNS, when that is set, is left to rich; without it a pipe gets the table at its own width.
    """
    if not _plain_stream(sys.stdout):
        return None
    texts = [*columns, *(cell for row in rows for cell in row), title or ""]
    if not all(text.isascii() and text.isprintable() for text in texts) or any("[" in column for column in columns):
        return None  # (rich reads column headers as markup)
    widths = [
        max([len(column) if show_header else 0] + [len(row[i]) for row in rows]) for i, column in enumerate(columns)
    ]
    total = sum(widths) + 3 * len(widths) + 1
    if total > (_given_width() or total) or len(title or "") > total or 0 in widths or not columns:
        return None

    def rule(left: str, line: str, middle: str, right: str) -> str:
        return left + middle.join(line * (width + 2) for width in widths) + right

    def cells(edge: str, values: list[str]) -> str:
        return edge + edge.join(f" {value.ljust(width)} " for value, width in zip(values, widths, strict=True)) + edge

    lines = [title] if title else []
    if show_header:
        lines += [rule("┏", "━", "┳", "┓"), cells("┃", columns), rule("┡", "━", "╇", "┩")]
    else:
        lines.append(rule("┌", "─", "┬", "┐"))
    lines += [cells("│", row) for row in rows]
    lines.append(rule("└", "─", "┴", "┘"))
    return "\n".join(lines) + "\n"


def table(
    title: str | None,
    columns: list[str],
    rows: list[list[Any]],
    styles: dict[int, Any] | None = None,
    show_header: bool = True,
) -> None:
    plain = _plain_table(
        None if title is None else visible(title),
        [visible(column) for column in columns],
        [["" if cell is None else visible(str(cell)) for cell in row] for row in rows],
        show_header,
    )
    if plain is not None:
        sys.stdout.write(plain)
        return
    from rich.table import Table
    from rich.text import Text

    # Text, not str: a title is data (``sdcli lookup '[/]' 1``), never rich markup.
    heading = None if title is None else Text(visible(title))
    grid = Table(title=heading, title_justify="left", show_edge=True, show_header=show_header)
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        cells = []
        for index, cell in enumerate(row):
            style = (styles or {}).get(index)
            style = style(cell) if callable(style) else style
            cells.append(Text("" if cell is None else visible(str(cell)), style=style or ""))
        grid.add_row(*cells)
    console().print(grid)


def key_values(title: str, pairs: list[tuple[str, Any]]) -> None:
    table(title, ["", ""], [[key, value] for key, value in pairs], show_header=False)


def action_style(action: str) -> str:
    return ACTION_STYLES.get(action, "")


def line(text: str) -> None:
    """A line of results (``Invoke URL: ...``) on stdout; plain text, never read as rich markup."""
    sys.stdout.write(visible(text) + "\n")


def message(text: str) -> None:
    """A line for people (stderr), kept out of stdout so pipes get only data."""
    if _plain_stream(sys.stderr):
        sys.stderr.write(visible(text) + "\n")
        return
    error_console().print(safe_markup(text))


def error(text: str, hint: str | None = None, problems: list[str] | None = None) -> None:
    """Errors carry data (a name, a path, an AWS message): shown with control characters escaped."""
    stream = sys.stderr
    stream.write(f"Error: {visible(text)}\n")
    for problem in (problems or [])[:50]:
        stream.write(f"  - {visible(problem)}\n")
    if problems and len(problems) > 50:
        stream.write(f"  ... and {len(problems) - 50} more\n")
    if hint:
        stream.write(f"Hint: {visible(hint)}\n")
