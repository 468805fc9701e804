"""What people and logs see: tables to a pipe unfolded, data never read as markup nor driving the terminal."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdefghij/*/GET/catalog/*/*"

DRAW = """\
import sys
from sdcli import render
render.table("café deploy", ["resource", "name", "detail"], [["permission", "café[bold]x[/bold]", sys.argv[1]]])
render.line("Api id: \\x1b[31mred")
render.message("Seeded 日本 [/]")
render.error("bad name \\x1b[2J", hint="try `sdcli --table \\x07 deploy`", problems=["record 0: \\x1b]0;title\\x07"])
"""


def _draw(**env: str) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8", **env}
    return subprocess.run(
        [sys.executable, "-c", DRAW, ARN], capture_output=True, text=True, cwd=ROOT, env=environment, timeout=60
    )


def test_a_pipe_gets_a_non_ascii_table_unfolded() -> None:
    result = _draw()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "café deploy"
    row = next(line for line in lines if line.startswith("│ permission"))
    assert f"café[bold]x[/bold] │ {ARN} │" in row  # whole, and the brackets are data, not markup
    assert len({len(line) for line in lines[1:6]}) == 1


@pytest.mark.parametrize("columns", ["0", "abc", "-5", "3"])
def test_a_useless_columns_setting_still_draws_the_table(columns: str) -> None:
    result = _draw(COLUMNS=columns)
    assert result.returncode == 0, result.stderr
    assert any(ARN in line for line in result.stdout.splitlines())


def test_a_given_width_is_kept() -> None:
    result = _draw(COLUMNS="60")
    assert result.returncode == 0, result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) <= 60
    assert not any(ARN in line for line in result.stdout.splitlines())  # folded, as asked


@pytest.mark.parametrize("env", [{}, {"FORCE_COLOR": "1"}])
def test_control_characters_from_data_are_shown_escaped(env: dict[str, str]) -> None:
    result = _draw(**env)
    assert result.returncode == 0, result.stderr
    assert "Api id: \\x1b[31mred" in result.stdout
    assert "Seeded 日本 [/]" in result.stderr
    assert "Error: bad name \\x1b[2J" in result.stderr
    assert "Hint: try `sdcli --table \\x07 deploy`" in result.stderr
    assert "  - record 0: \\x1b]0;title\\x07" in result.stderr
    assert "\x1b[2J" not in result.stderr and "\x07" not in result.stderr and "\x1b]" not in result.stderr


def test_a_spinner_shows_data_as_text() -> None:
    """`--api '[/]oops'` used to abort a deploy on a terminal with a MarkupError from the progress line."""
    import io

    from rich.console import Console
    from rich.text import Text

    from sdcli import render

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=80)
    with console.status(render.safe_markup("Create api [/]oops\x1b[31m...")) as status:
        status.update(render.safe_markup("Create stage [bold]..."))
    assert Text.from_markup(render.safe_markup("[/]oops\x1b")).plain == "[/]oops\\x1b"


def test_a_name_the_output_encoding_lacks_is_escaped_not_a_crash(tmp_path) -> None:
    from tests.localstack import SDCLI

    out = tmp_path / "日本.zip"
    result = subprocess.run(
        [SDCLI, "package", "--source", str(ROOT / "lambda_src"), "--out", str(out)],
        capture_output=True,
        text=True,
        encoding="latin-1",
        env={"PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "latin-1"},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "\\u65e5\\u672c.zip" in result.stdout and out.exists()


def test_a_reader_that_goes_away_ends_the_command_quietly() -> None:
    """`sdcli ... | head -1`: exit 1 (the output was cut), and no Unexpected BrokenPipeError on stderr."""
    import os

    from tests.localstack import SDCLI

    read, write = os.pipe()
    os.close(read)  # the reader is gone before sdcli writes
    try:
        result = subprocess.run(
            [SDCLI, "package", "--source", str(ROOT / "lambda_src")], stdout=write, stderr=subprocess.PIPE, timeout=60
        )
    finally:
        os.close(write)
    assert result.returncode == 1
    assert result.stderr == b""
