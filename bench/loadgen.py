"""A bounded load generator for the local stack: N concurrent clients, a fixed time, every answer checked.

Two modes over the same seeded records:

- ``dataplane``: ``GET {api_url}/catalog/{name}/{version}`` through the local API Gateway data plane (requests).
- ``getitem``: DynamoDB ``GetItem`` straight at the local stack's control plane (boto3), the backend's own rate.

Clients are threads spread over a few processes (so one client process's GIL does not cap the rate it can
offer); all start at one agreed instant. Every answer is compared with the seeded record (or, for the share of
keys deliberately not seeded, with the 404 / missing item), so a 200 with the wrong data counts as a wrong
answer, not a success. Runs stop by themselves: at the deadline, at a request cap, and a parent-side kill as a
last resort. Only 127.0.0.1 is ever a target.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench.harness import PYTHON, ROOT, percentile, require_loopback

MISS_EVERY = 20  # one request in 20 asks for a key that was never seeded: the answer must be "not found"


@dataclass
class LoadResult:
    mode: str
    clients: int
    duration: float  # seconds from the common start to the last answer
    requests: int
    errors: int
    wrong: int
    latencies_ms: list[float] = field(repr=False)
    examples: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.requests / self.duration if self.duration > 0 else 0.0

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 0.50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 0.99)

    def summary(self) -> str:
        return (
            f"{self.mode}: {self.requests:,} requests in {self.duration:.1f} s = {self.throughput:,.0f}/s, "
            f"p50 {self.p50:.1f} ms, p99 {self.p99:.1f} ms, {self.errors} errors, {self.wrong} wrong answers"
        )


def run_load(
    mode: str,
    target: str,
    records_file: Path,
    env: dict[str, str],
    clients: int = 16,
    processes: int = 4,
    duration: float = 10.0,
    max_requests: int = 2_000_000,
) -> LoadResult:
    """Run ``clients`` clients for ``duration`` seconds (or ``max_requests`` in all) and gather the results."""
    require_loopback(target)
    processes = max(1, min(processes, clients))
    start = time.time() + 1.5 + 0.2 * processes  # time for every worker to import and connect first
    outputs = [records_file.with_name(f"load-{mode}-{index}.json") for index in range(processes)]
    workers = []
    for index, out in enumerate(outputs):
        threads = clients // processes + (1 if index < clients % processes else 0)
        command = [
            PYTHON,
            "-m",
            "bench.loadgen",
            mode,
            target,
            str(records_file),
            str(out),
            str(threads),
            str(index),
            repr(start),
            repr(duration),
            str(max(1, max_requests // clients)),
        ]
        workers.append(subprocess.Popen(command, env=env, cwd=ROOT))
    hard_deadline = start + duration + 60
    for worker in workers:
        try:
            worker.wait(timeout=max(1.0, hard_deadline - time.time()))
        except subprocess.TimeoutExpired:
            worker.kill()  # one of ours, past every bound: stop it
            worker.wait()
    parts = []
    for worker, out in zip(workers, outputs, strict=True):
        if worker.returncode != 0 or not out.exists():
            raise RuntimeError(f"load worker exited {worker.returncode}")
        parts.append(json.loads(out.read_text()))
        out.unlink()
    latencies = sorted(value for part in parts for value in part["latencies_ms"])
    return LoadResult(
        mode=mode,
        clients=clients,
        duration=max(part["last"] for part in parts) - start,
        requests=sum(part["requests"] for part in parts),
        errors=sum(part["errors"] for part in parts),
        wrong=sum(part["wrong"] for part in parts),
        latencies_ms=latencies,
        examples=[example for part in parts for example in part["examples"]][:10],
    )


# --- worker process ----------------------------------------------------------------------------------------


class _Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.errors = 0
        self.wrong = 0
        self.latencies: list[float] = []
        self.examples: list[str] = []
        self.last = 0.0

    def add(self, latencies: list[float], errors: int, wrong: int, examples: list[str], last: float) -> None:
        with self.lock:
            self.requests += len(latencies)
            self.latencies += latencies
            self.errors += errors
            self.wrong += wrong
            self.examples += examples[: max(0, 10 - len(self.examples))]
            self.last = max(self.last, last)


def _dataplane_client(target: str) -> Any:
    import requests

    session = requests.Session()
    base = target.rstrip("/")

    def ask(record: dict[str, Any] | None, name: str, version: str) -> str | None:
        url = f"{base}/catalog/{quote(name, safe='')}/{quote(version, safe='')}"
        response = session.get(url, timeout=30, headers={"Accept": "application/json"})
        try:
            body = json.loads(response.content)
        except ValueError:
            return f"error: HTTP {response.status_code} with a body that is not JSON"
        if record is None:
            if response.status_code == 404 and body == {"error_message": "Service Not Found"}:
                return None
        elif response.status_code == 200:
            expected = {"endpoint_url": record["endpoint_url"], "ttl": record["ttl"], "status": record["status"]}
            return None if body == expected else f"wrong: {name} {version} -> {body}"
        if response.status_code >= 500 or response.status_code not in (200, 404):
            return f"error: HTTP {response.status_code} {body}"
        return f"wrong: {name} {version} -> HTTP {response.status_code} {body}"

    return ask


def _getitem_client(target: str) -> Any:
    import boto3
    import botocore.config

    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    config = botocore.config.Config(retries={"mode": "standard", "max_attempts": 1}, max_pool_connections=2)
    client = session.client("dynamodb", endpoint_url=target, config=config)

    def ask(record: dict[str, Any] | None, name: str, version: str) -> str | None:
        response = client.get_item(TableName="Services", Key={"name": {"S": name}, "version": {"S": version}})
        item = response.get("Item")
        if record is None:
            return None if item is None else f"wrong: {name} {version} -> {item}"
        expected = {
            "name": {"S": record["name"]},
            "version": {"S": record["version"]},
            "endpoint_url": {"S": record["endpoint_url"]},
            "ttl": {"N": str(record["ttl"])},
            "status": {"S": record["status"]},
        }
        return None if item == expected else f"wrong: {name} {version} -> {item}"

    return ask


def _client_loop(
    mode: str,
    target: str,
    records: list[dict[str, Any]],
    seed: int,
    start: float,
    deadline: float,
    cap: int,
    tally: _Tally,
) -> None:
    ask = _dataplane_client(target) if mode == "dataplane" else _getitem_client(target)
    latencies: list[float] = []
    errors = wrong = 0
    examples: list[str] = []
    last = 0.0
    delay = start - time.time()
    if delay > 0:
        time.sleep(delay)
    index = seed * 7919
    while len(latencies) < cap and time.time() < deadline:
        index += 1
        if index % MISS_EVERY == 0:
            record, name, version = None, f"never-seeded-{index}", "0"
        else:
            record = records[(index * 31) % len(records)]
            name, version = record["name"], record["version"]
        began = time.perf_counter()
        try:
            problem = ask(record, name, version)
        except Exception as error:  # a client-side failure is an error of the run, never a crash of it
            problem = f"error: {type(error).__name__}: {error}"
        latencies.append((time.perf_counter() - began) * 1000)
        last = time.time()
        if problem:
            if problem.startswith("wrong"):
                wrong += 1
            else:
                errors += 1
            if len(examples) < 5:
                examples.append(problem[:300])
    tally.add(latencies, errors, wrong, examples, last)


def worker(argv: list[str]) -> None:
    """One load process: ``threads`` clients until the deadline; writes its tally as JSON."""
    mode, target, records_file, out, threads, index, start, duration, cap = argv
    require_loopback(target)
    records = json.loads(Path(records_file).read_text())
    begin = float(start)
    deadline = begin + float(duration)
    tally = _Tally()
    clients = [
        threading.Thread(
            target=_client_loop,
            args=(mode, target, records, int(index) * 1000 + n, begin, deadline, int(cap), tally),
            daemon=True,
        )
        for n in range(int(threads))
    ]
    for client in clients:
        client.start()
    for client in clients:
        client.join(timeout=float(duration) + 45)
    with tally.lock:
        result = {
            "requests": tally.requests,
            "errors": tally.errors,
            "wrong": tally.wrong,
            "latencies_ms": tally.latencies,
            "examples": tally.examples,
            "last": tally.last or time.time(),
        }
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    worker(sys.argv[1:])
