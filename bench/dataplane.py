"""Goal 6 and issue 3's load run: the local data plane under 16 concurrent clients.

Goal 6 alternates timed runs of the data plane (HTTP through API Gateway's data plane, the Lambda runtime and
the handler's GetItem) and of the backend's own GetItem, 16 clients each, and compares median throughputs.
The load run holds 16 clients for 30 s over 1,000 seeded services and reports throughput and p50/p99; both
check every answer against the seeded record and count errors and wrong answers.
"""

from __future__ import annotations

from pathlib import Path

from bench.harness import (
    LocalStack,
    Options,
    Row,
    interleaved,
    log,
    median,
    paired_ratio,
    rate,
    services,
    write_services,
)
from bench.loadgen import LoadResult, run_load

CLIENTS = 16
SEEDED = 1_000


def prepare(stack: LocalStack) -> tuple[str, Path]:
    """Deploy, seed 1,000 services through ``sdcli seed --file`` and count them; returns (api_url, records)."""
    api_url = stack.deploy()["invoke_url"]
    records = write_services(stack.state_dir / "services.json", services(SEEDED))
    written = stack.json("seed", "--file", str(records))
    stored = 0
    client = stack.boto3_client()
    for page in client.get_paginator("scan").paginate(TableName="Services", Select="COUNT"):
        stored += page["Count"]
    if written["total"] != SEEDED or stored != SEEDED:
        raise RuntimeError(f"seeded {written}, the table holds {stored} items; expected {SEEDED}")
    return api_url, records


def run(options: Options) -> list[Row]:
    """Goal 6: median throughput of alternating data-plane and GetItem runs."""
    runs, seconds = options.runs(3, 2), options.runs(10, 4)
    results: dict[str, list[LoadResult]] = {"dataplane": [], "getitem": []}
    with LocalStack("dataplane") as stack:
        api_url, records = prepare(stack)
        targets = {"dataplane": api_url, "getitem": stack.endpoint}

        def measure(mode: str) -> float:
            result = run_load(mode, targets[mode], records, stack.env, clients=CLIENTS, duration=seconds)
            log(result.summary())
            results[mode].append(result)
            return result.throughput

        log(f"data plane vs GetItem: {runs} alternating runs of {seconds} s, {CLIENTS} clients each")
        samples = interleaved({mode: (lambda mode=mode: measure(mode)) for mode in targets}, runs=runs, warmup=1)
    every = results["dataplane"] + results["getitem"]
    errors, wrong = sum(r.errors for r in every), sum(r.wrong for r in every)
    ours, baseline = median(samples["dataplane"]), median(samples["getitem"])
    last_dp, last_gi = results["dataplane"][-1], results["getitem"][-1]
    examples = [example for r in every for example in r.examples][:3]
    return [
        Row(
            "6",
            f"data plane vs backend GetItem, {CLIENTS} clients (throughput)",
            rate(ours),
            rate(baseline),
            paired_ratio(samples["dataplane"], samples["getitem"]),
            ">= 0.5",
            extra_ok=errors == 0 and wrong == 0,
            note=(
                f"{sum(r.requests for r in every):,} requests in all (warm-up included): {errors} errors, "
                f"{wrong} wrong answers{'; e.g. ' + ' | '.join(examples) if examples else ''}; last runs: "
                f"data plane p50 {last_dp.p50:.1f} ms p99 {last_dp.p99:.1f} ms, "
                f"GetItem p50 {last_gi.p50:.1f} ms p99 {last_gi.p99:.1f} ms"
            ),
            data={"samples": samples},
        )
    ]


def run_load_test(options: Options) -> list[Row]:
    """Issue 3's load run: 16 clients, 30 s (5 s with --quick), 1,000 services, every answer checked."""
    seconds = options.runs(30, 5)
    with LocalStack("load") as stack:
        api_url, records = prepare(stack)
        log(f"load run: {CLIENTS} clients for {seconds} s over {SEEDED:,} services at {api_url}")
        result = run_load("dataplane", api_url, records, stack.env, clients=CLIENTS, duration=seconds)
        log(result.summary())
    ok = result.errors == 0 and result.wrong == 0 and result.requests > 0
    return [
        Row(
            "load",
            f"{CLIENTS} clients x {seconds} s over {SEEDED:,} services, data plane",
            f"{rate(result.throughput)} p50 {result.p50:.1f} ms p99 {result.p99:.1f} ms",
            "-",
            None,
            "check",
            extra_ok=ok,
            note=(
                f"load run: {result.requests:,} requests in {result.duration:.1f} s, {result.errors} errors, "
                f"{result.wrong} wrong answers (1 in 20 asks for an unseeded key and must get 404)"
                + (f"; e.g. {' | '.join(result.examples[:3])}" if result.examples else "")
            ),
            data={
                "requests": result.requests,
                "throughput": result.throughput,
                "p50_ms": result.p50,
                "p99_ms": result.p99,
                "errors": result.errors,
                "wrong": result.wrong,
            },
        )
    ]
