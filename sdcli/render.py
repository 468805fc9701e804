"""How results look: rich tables for people, JSON for scripts. Part of the CLI layer; the core never prints.

rich is imported on first use so that ``sdcli lookup --output json`` never pays for it.
"""

from __future__ import annotations

import json
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


@cache
def console() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


@cache
def error_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def _visible(text: str) -> str:
    """``text`` with control characters shown as escapes, so data (a name, an endpoint URL) cannot drive the
    terminal (ESC sequences) or break the table; rich itself keeps ESC and NUL."""
    return "".join(
        char if char.isprintable() or char == " " else char.encode("unicode_escape", "backslashreplace").decode()
        for char in text
    )


def table(
    title: str | None,
    columns: list[str],
    rows: list[list[Any]],
    styles: dict[int, Any] | None = None,
    show_header: bool = True,
) -> None:
    from rich.table import Table
    from rich.text import Text

    # Text, not str: a title is data (``sdcli lookup '[/]' 1``), never rich markup.
    heading = None if title is None else Text(_visible(title))
    grid = Table(title=heading, title_justify="left", show_edge=True, show_header=show_header)
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        cells = []
        for index, cell in enumerate(row):
            style = (styles or {}).get(index)
            style = style(cell) if callable(style) else style
            cells.append(Text("" if cell is None else _visible(str(cell)), style=style or ""))
        grid.add_row(*cells)
    console().print(grid)


def key_values(title: str, pairs: list[tuple[str, Any]]) -> None:
    table(title, ["", ""], [[key, value] for key, value in pairs], show_header=False)


def action_style(action: str) -> str:
    return ACTION_STYLES.get(action, "")


def message(text: str) -> None:
    """A line for people (stderr), kept out of stdout so pipes get only data."""
    from rich.markup import escape

    error_console().print(escape(text))


def error(text: str, hint: str | None = None, problems: list[str] | None = None) -> None:
    stream = sys.stderr
    stream.write(f"Error: {text}\n")
    for problem in (problems or [])[:50]:
        stream.write(f"  - {problem}\n")
    if problems and len(problems) > 50:
        stream.write(f"  ... and {len(problems) - 50} more\n")
    if hint:
        stream.write(f"Hint: {hint}\n")
