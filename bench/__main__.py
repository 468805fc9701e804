"""``python -m bench [NAME ...] [--quick]``: run the benchmarks and print one table of ratios and goals."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from bench.harness import Options, Row, compile_ours, log, render_table

# name -> (goal, what it measures, module:function); run in this order.
BENCHMARKS: dict[str, tuple[str, str, str]] = {
    "warm": ("1", "warm lookup in the handler vs a bare GetItem", "bench.warm:run"),
    "cold": ("2", "handler cold start vs import boto3 + one client", "bench.cold:run"),
    "lookup": ("3", "sdcli lookup process vs requests.get and aws dynamodb get-item", "bench.lookup:run"),
    "deploy": ("4", "no-op deploy vs first deploy, mutating calls", "bench.deploy:run"),
    "seed": ("5", "seed --file 10,000 services vs boto3 batch_writer", "bench.seed:run"),
    "dataplane": ("6", "data plane vs GetItem, 16 clients", "bench.dataplane:run"),
    "load": ("load", "issue 3's load run: 16 clients x 30 s over 1,000 services", "bench.dataplane:run_load_test"),
    "package": ("pkg", "Lambda package size and contents", "bench.package:run"),
}
ALIASES = {goal: name for name, (goal, _, _) in BENCHMARKS.items()}


def _resolve(target: str) -> Callable[[Options], list[Row]]:
    module_name, _, function = target.partition(":")
    module = __import__(module_name, fromlist=[function])
    return getattr(module, function)


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks (all by default); exit 0 whatever the timings, 1 only if one could not run."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="sdcli's benchmarks: ratios against baselines measured side by side, with goals.",
        epilog="benchmarks: " + "; ".join(f"{name} (goal {g}): {what}" for name, (g, what, _) in BENCHMARKS.items()),
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (names or goal numbers)")
    parser.add_argument("--quick", action="store_true", help="fewer and shorter runs (a first look, noisier)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every row and raw sample here")
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="also profile ours (pyinstrument, -X importtime) into DIR"
    )
    args = parser.parse_args(argv)
    names = [ALIASES.get(name, name) for name in args.names] or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    options = Options(quick=args.quick, profile_dir=args.profile)
    compile_ours()
    rows: list[Row] = []
    failed: list[str] = []
    started = time.monotonic()
    for name in [name for name in BENCHMARKS if name in names]:
        log(f"--- {name} ---")
        began = time.monotonic()
        try:
            rows += _resolve(BENCHMARKS[name][2])(options)
        except Exception as error:  # report the others anyway
            log(f"{name} could not run: {type(error).__name__}: {error}")
            failed.append(name)
            rows.append(Row(BENCHMARKS[name][0], f"{name}: could not run ({type(error).__name__})", "-", "-", None))
        log(f"{name} took {time.monotonic() - began:.0f} s")
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"\nsdcli benchmarks ({'quick' if args.quick else 'full'} run, {time.monotonic() - started:.0f} s)")
    print(f"machine: {os.cpu_count()} CPUs, load average at the end {load} (other processes share it)")
    print("ours and baseline: medians of interleaved runs, warm-up excluded")
    print("ratio: median of the per-round ratios ours / baseline (each round runs both side by side)\n")
    print(render_table(rows))
    if args.json:
        args.json.write_text(json.dumps([{**asdict(row), "met": row.met} for row in rows], indent=2, default=str))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
