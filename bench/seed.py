"""Goal 5: ``sdcli seed --file`` with 10,000 services vs a bare boto3 ``batch_writer`` loop, same backend.

Both are whole processes writing the same file into a fresh, empty table of their own (so sdcli's "only write
what differs" has everything to write, like the baseline); throughput is records per second of the process.
After every run the table's items are counted (a Scan with Select=COUNT): exactly the file's records, or the
run fails.
"""

from __future__ import annotations

import itertools
from typing import Any

from bench.harness import (
    PYTHON,
    ROOT,
    LocalStack,
    Options,
    Row,
    interleaved,
    log,
    median,
    paired_ratio,
    rate,
    services,
    timed_process,
    write_services,
)


def _count(client: Any, table: str) -> int:
    total = 0
    for page in client.get_paginator("scan").paginate(TableName=table, Select="COUNT"):
        total += page["Count"]
    return total


def run(options: Options) -> list[Row]:
    """Alternate sdcli and the baseline, each into its own new table."""
    count = options.runs(10_000, 2_000)
    runs = options.runs(5, 2)
    with LocalStack("seed") as stack:
        client = stack.boto3_client()
        path = write_services(stack.state_dir / "services.json", services(count))
        numbers = itertools.count()

        def fresh_table() -> str:
            name = f"Seed{next(numbers)}"
            client.create_table(
                TableName=name,
                KeySchema=[
                    {"AttributeName": "name", "KeyType": "HASH"},
                    {"AttributeName": "version", "KeyType": "RANGE"},
                ],
                AttributeDefinitions=[
                    {"AttributeName": "name", "AttributeType": "S"},
                    {"AttributeName": "version", "AttributeType": "S"},
                ],
                BillingMode="PAY_PER_REQUEST",
            )
            client.get_waiter("table_exists").wait(TableName=name)
            return name

        def measured(command_for: Any) -> float:
            table = fresh_table()
            elapsed = timed_process(command_for(table), stack.env)
            stored = _count(client, table)
            if stored != count:
                raise RuntimeError(f"table {table} holds {stored} items after seeding {count}")
            client.delete_table(TableName=table)
            return count / elapsed

        def seed_args(table: str) -> list[str]:
            return ["--table", table, "--output", "json", "seed", "--file", str(path)]

        def ours(table: str) -> list[str]:
            return stack.command(*seed_args(table))

        def baseline(table: str) -> list[str]:
            return [PYTHON, str(ROOT / "bench" / "baselines" / "batch_writer.py"), stack.endpoint, table, str(path)]

        log(f"seed: {runs} rounds of {count:,} records, sdcli and batch_writer alternating")
        samples = interleaved(
            {"sdcli": lambda: measured(ours), "batch_writer": lambda: measured(baseline)}, runs=runs, warmup=1
        )
        if options.profile_dir:
            table = fresh_table()
            out = options.profile_dir / "seed-pyinstrument.txt"
            timed_process(
                [PYTHON, "-m", "pyinstrument", "-o", str(out), "-m", "sdcli", "--local", *seed_args(table)],
                stack.env,
            )
    ours_rate, base_rate = median(samples["sdcli"]), median(samples["batch_writer"])
    return [
        Row(
            "5",
            f"seed --file {count:,} services: sdcli vs boto3 batch_writer (throughput)",
            rate(ours_rate),
            rate(base_rate),
            paired_ratio(samples["sdcli"], samples["batch_writer"]),
            ">= 0.9",
            note=f"every run's table was counted afterwards: exactly {count:,} items each time",
            data=samples,
        )
    ]
