"""What every benchmark shares: a private local stack, a clean environment, interleaved timing, result rows.

The local stack is started exactly as a user starts it (``sdcli local start --detach --port 0``) with a private
``SDCLI_STATE_DIR``, so a benchmark never touches a stack someone else runs on this (shared) machine, never
needs a fixed port, and stops only the process it started.
"""

from __future__ import annotations

import compileall
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(sys.executable).parent
REGION = "us-east-1"
LOCAL_KEY = "test"  # the local stack accepts any credentials; these are the usual dummies


def log(message: str) -> None:
    """Progress for the person running the suite; stderr, so the table on stdout stays clean."""
    sys.stderr.write(f"[bench] {message}\n")
    sys.stderr.flush()


def tool(name: str) -> str | None:
    """An executable of this virtualenv (``sdcli``, ``aws``), or None when it is not installed."""
    path = BIN / name
    return str(path) if path.exists() else shutil.which(name)


def sdcli_command() -> list[str]:
    """The installed ``sdcli`` console script, as users run it; ``python -m sdcli`` when it is missing."""
    script = tool("sdcli")
    return [script] if script else [PYTHON, "-m", "sdcli"]


def compile_ours() -> None:
    """Byte-compile sdcli once, as ``pip install`` does for an installed package, before anything is timed.

    An editable install leaves that to the first run, and where PYTHONDONTWRITEBYTECODE is set (as on CI
    machines) every ``sdcli`` process compiles its modules again: 50 ms or more that an installed sdcli never
    pays, and that the baselines (boto3, the AWS CLI: installed packages) do not pay either.
    """
    compileall.compile_dir(ROOT / "sdcli", quiet=1)


def clean_environment(state_dir: Path) -> dict[str, str]:
    """The caller's environment without any AWS or sdcli setting, plus dummy credentials and a private state.

    Nothing of the user's own AWS configuration (profile, real credentials, endpoint) can reach a benchmark.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "SDCLI_"))}
    env.update(
        SDCLI_STATE_DIR=str(state_dir),
        AWS_CONFIG_FILE=str(state_dir / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(state_dir / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_ACCESS_KEY_ID=LOCAL_KEY,
        AWS_SECRET_ACCESS_KEY=LOCAL_KEY,
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        PYTHONPATH=str(ROOT),
    )
    return env


def require_loopback(url: str) -> None:
    """Load is only ever sent to this machine's loopback address."""
    host = urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"refusing to send benchmark traffic to {url}: only 127.0.0.1 is allowed")


class LocalStack:
    """One benchmark's own local stack: ephemeral port, private state folder, stopped on exit."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.state_dir = Path(tempfile.mkdtemp(prefix=f"sdcli-bench-{label}-"))
        self.env = clean_environment(self.state_dir)
        self.endpoint = ""
        self.pid: int | None = None

    def __enter__(self) -> LocalStack:
        started = self.json("local", "start", "--detach", "--port", "0", local=False, timeout=90)
        self.endpoint, self.pid = started["endpoint"], started["pid"]
        require_loopback(self.endpoint)
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.sdcli("local", "stop", local=False, check=False, timeout=30)
        if self.pid is not None:  # only the process this benchmark started
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.pid, 0)
                os.kill(self.pid, signal.SIGKILL)
            self.pid = None
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def command(self, *args: str, local: bool = True) -> list[str]:
        return [*sdcli_command(), *(["--local"] if local else []), *args]

    def sdcli(
        self, *args: str, local: bool = True, check: bool = True, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            self.command(*args, local=local), env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"sdcli {' '.join(args)} exited {result.returncode}: {result.stderr.strip()}")
        return result

    def json(self, *args: str, local: bool = True, timeout: float = 600) -> Any:
        return json.loads(self.sdcli("--output", "json", *args, local=local, timeout=timeout).stdout)

    def deploy(self) -> dict[str, Any]:
        return self.json("deploy")

    def boto3_client(self, service: str = "dynamodb") -> Any:
        import boto3

        session = boto3.Session(aws_access_key_id=LOCAL_KEY, aws_secret_access_key=LOCAL_KEY, region_name=REGION)
        return session.client(service, endpoint_url=self.endpoint)


def services(count: int, prefix: str = "svc") -> list[dict[str, Any]]:
    """``count`` distinct, valid catalog records (deterministic, so every answer can be checked)."""
    return [
        {
            "name": f"{prefix}-{index:05d}",
            "version": f"{index % 7}.{index % 13}",
            "endpoint_url": f"https://{prefix}-{index:05d}.internal.example/v{index % 7}",
            "ttl": 60 + index % 600,
            "status": "healthy" if index % 5 else "degraded",
        }
        for index in range(count)
    ]


def write_services(path: Path, records: Sequence[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(list(records)))
    return path


# --- timing ------------------------------------------------------------------------------------------------


def interleaved(variants: dict[str, Callable[[], float]], runs: int, warmup: int = 1) -> dict[str, list[float]]:
    """Run each variant ``warmup + runs`` times, rotating their order every round; warm-up rounds are dropped.

    Each callable returns its own measurement (seconds, or a rate), so a variant can time exactly its part.
    Rotating the order (AB, BA, ...) spreads machine noise and drift over every variant alike.
    """
    names = list(variants)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(warmup + runs):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            value = variants[name]()
            if round_index >= warmup:
                samples[name].append(value)
    return samples


def timed_process(command: Sequence[str], env: dict[str, str], check: Callable[[str], bool] | None = None) -> float:
    """Wall-clock seconds of one whole process, start to exit (what a script calling it waits)."""
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - started
    if result.returncode != 0 or (check is not None and not check(result.stdout)):
        raise RuntimeError(f"{' '.join(command[:4])}... failed ({result.returncode}): {result.stderr.strip()[-500:]}")
    return elapsed


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def paired_ratio(ours: Sequence[float], baseline: Sequence[float]) -> float:
    """The median of the per-round ratios ours[i] / baseline[i].

    Each round measures both side by side, so a burst of load from another process on this shared machine
    slows both members of a pair alike and cancels out of their ratio; a ratio of two medians taken over the
    whole run does not cancel it. The table prints both medians beside this ratio.
    """
    return statistics.median(a / b for a, b in zip(ours, baseline, strict=True))


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), int(-(-fraction * len(sorted_values) // 1))))
    return sorted_values[rank - 1]


# --- results ---------------------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the table: a ratio of two medians, its goal, and whether the code reaches it."""

    goal: str
    comparison: str
    ours: str
    baseline: str
    ratio: float | None
    target: str = "report"  # "<= 1.05", ">= 0.9", "check" (extra_ok alone decides), or "report"
    note: str = ""
    extra_ok: bool = True  # a non-timing condition of the goal (zero errors, zero mutating calls)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def met(self) -> bool | None:
        if self.target == "report":
            return None
        if self.target == "check":
            return self.extra_ok
        if self.ratio is None:
            return False
        op, _, limit = self.target.partition(" ")
        bound = float(limit)
        ok = self.ratio <= bound if op == "<=" else self.ratio >= bound
        return ok and self.extra_ok

    @property
    def verdict(self) -> str:
        if self.met is None:
            return "-"
        return "met" if self.met else "NOT MET"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def rate(value: float) -> str:
    return f"{value:,.0f}/s"


def render_table(rows: Sequence[Row]) -> str:
    """A plain-text table (copy-pastable into an issue); notes follow it, numbered."""
    header = ["goal", "comparison (ours vs baseline)", "ours", "baseline", "ratio", "goal", "result"]
    body = []
    notes = []
    for row in rows:
        ratio = "-" if row.ratio is None else f"{row.ratio:.3f}x"
        comparison = row.comparison
        if row.note:
            notes.append(row.note)
            comparison += f" [{len(notes)}]"
        body.append([row.goal, comparison, row.ours, row.baseline, ratio, row.target, row.verdict])
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(cell).ljust(width) for cell, width in zip(cells, widths, strict=True)) + " |"

    out = [line(header), "|" + "|".join("-" * (width + 2) for width in widths) + "|"]
    out += [line(cells) for cells in body]
    out += [f"[{index}] {note}" for index, note in enumerate(notes, 1)]
    return "\n".join(out)


@dataclass(frozen=True)
class Options:
    """How long to measure: the full run, or ``--quick`` for a short look (same machinery, fewer samples)."""

    quick: bool = False
    profile_dir: Path | None = None

    def runs(self, full: int, quick: int) -> int:
        return quick if self.quick else full


@contextlib.contextmanager
def temporary_dir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
