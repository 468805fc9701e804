"""Goal 1: a warm lookup in the handler vs a bare GetItem with a reused low-level client, same backend.

Both run in one child process whose environment is the function's (TABLE_NAME, AWS_ENDPOINT_URL pointing at
this benchmark's local stack, dummy credentials), so the handler under test is the real module, unmodified.
The write-up-style handler (a boto3 resource per invocation) is measured alongside for the speed-up.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.harness import PYTHON, ROOT, LocalStack, Options, Row, log, median, ms, paired_ratio

EVENT = {"service_name": "testservice2", "service_version": "1.0"}
EXPECTED = {"endpoint_url": "notarealurl2", "ttl": 600, "status": "healthy"}


def run(options: Options) -> list[Row]:
    """Start a stack, create and seed the table, and measure in a child process."""
    runs = options.runs(40, 10)
    with LocalStack("warm") as stack:
        stack.sdcli("table", "create", "--billing-mode", "PAY_PER_REQUEST")
        stack.sdcli("seed")
        env = {**stack.env, "AWS_ENDPOINT_URL": stack.endpoint, "TABLE_NAME": "Services"}
        out = stack.state_dir / "warm.json"
        profile = str(options.profile_dir / "warm-handler.txt") if options.profile_dir else ""
        log(f"warm lookup: {runs} rounds of 50 alternating handler / bare GetItem calls, and the write-up handler")
        subprocess.run(
            [PYTHON, "-m", "bench.warm", str(out), str(runs), profile], env=env, check=True, cwd=ROOT, timeout=900
        )
        samples = json.loads(out.read_text())
    ours, bare, naive = (median(samples[name]) for name in ("handler", "getitem", "naive"))
    return [
        Row(
            "1",
            "warm lookup: handler vs bare GetItem (reused client)",
            ms(ours),
            ms(bare),
            paired_ratio(samples["handler"], samples["getitem"]),
            "<= 1.05",
            data=samples,
        ),
        Row(
            "1",
            "warm lookup: resource-per-call handler vs ours (speed-up)",
            ms(ours),
            ms(naive),
            paired_ratio(samples["naive"], samples["handler"]),
            "report",
            note="ratio here is the write-up-style handler's time over ours: how many times faster ours is",
        ),
    ]


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _batch(call: Any, count: int) -> float:
    """Seconds per call, over ``count`` calls."""
    started = time.perf_counter()
    for _ in range(count):
        call()
    return (time.perf_counter() - started) / count


def _alternating(first: Any, second: Any, pairs: int) -> tuple[float, float]:
    """Median seconds per call of each, calls alternating one by one (ABBA...), so noise hits both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    calls = (first, second)
    for index in range(pairs):
        order = (0, 1) if index % 2 == 0 else (1, 0)
        for which in order:
            started = time.perf_counter()
            calls[which]()
            times[which].append(time.perf_counter() - started)
    return median(times[0]), median(times[1])


def child(out: str, runs: int, profile: str) -> None:
    """The measuring process: the handler module is loaded from lambda_src/ exactly as deployed."""
    import boto3

    handler = _load(ROOT / "lambda_src" / "catalog_service.py", "catalog_service")
    naive = _load(ROOT / "bench" / "baselines" / "naive_handler.py", "naive_handler")
    client = boto3.client("dynamodb")
    key = {"name": {"S": EVENT["service_name"]}, "version": {"S": EVENT["service_version"]}}
    table = os.environ["TABLE_NAME"]

    def ours() -> Any:
        return handler.lambda_handler(EVENT, None)

    def bare() -> Any:
        return client.get_item(TableName=table, Key=key)

    def write_up() -> Any:
        return naive.lambda_handler(EVENT, None)

    # The handler prints one log line per lookup (CloudWatch, in Lambda): send it nowhere.
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        assert ours() == EXPECTED and write_up() == EXPECTED and "Item" in bare()
        samples: dict[str, list[float]] = {"handler": [], "getitem": [], "naive": []}
        for round_index in range(3 + runs):  # the first 3 rounds are warm-up
            handler_median, getitem_median = _alternating(ours, bare, 50)
            naive_mean = _batch(write_up, 3)
            if round_index >= 3:
                samples["handler"].append(handler_median)
                samples["getitem"].append(getitem_median)
                samples["naive"].append(naive_mean)
        if profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0002)
            with profiler:
                _batch(ours, 200)
            Path(profile).write_text(profiler.output_text(show_all=False))
    Path(out).write_text(json.dumps(samples))


if __name__ == "__main__":
    child(sys.argv[1], int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "")
