"""Goal 4: ``sdcli deploy`` with nothing changed vs the first deploy on a fresh local stack, and its calls.

Each run gets a fresh stack: one first deploy, then several no-op deploys, all whole ``sdcli --local deploy``
processes. Mutating calls are counted twice: by sdcli itself (``mutating_calls`` in its JSON) and, on a
separate warm-up stack, independently on the wire by a counting proxy in front of the stack (bench/proxy.py).
"""

from __future__ import annotations

import json
import resource
import subprocess
import time
from typing import Any

from bench.harness import PYTHON, ROOT, LocalStack, Options, Row, log, median, ms
from bench.proxy import CountingProxy

CPU: dict[str, list[float]] = {"first": [], "noop": []}

# Where a no-op deploy's time goes, phase by phase, in a fresh interpreter (as ``sdcli --local deploy`` runs).
PHASES = """\
import json, pathlib, sys, time
marks = [("start", time.perf_counter())]
from sdcli.startup import defer_collection
defer_collection()
import sdcli.cli
marks.append(("CLI import", time.perf_counter()))
from sdcli import deploy
marks.append(("botocore + core import", time.perf_counter()))
from sdcli.aws import Aws
from sdcli.config import Settings
settings = Settings(local=True)
aws = Aws(settings)
marks.append(("session", time.perf_counter()))
for service in ("dynamodb", "iam", "lambda", "apigateway"):
    aws.client(service)
marks.append(("4 clients", time.perf_counter()))
inputs = deploy.DeployInputs(pathlib.Path("lambda_src"), pathlib.Path("swagger/catalog_service.json"))
plan = deploy.plan_deploy(aws, settings, inputs)
assert all(step.run is None for step in plan), plan
marks.append((f"{len(aws.calls)} reads", time.perf_counter()))
print(json.dumps({name: now - marks[i][1] for i, (name, now) in enumerate(marks[1:])}))
"""


def _phases(stack: LocalStack, runs: int) -> dict[str, float]:
    """Median seconds of each phase of a no-op deploy's plan, over ``runs`` fresh interpreters."""
    samples: list[dict[str, float]] = []
    for _ in range(runs):
        result = subprocess.run(
            [PYTHON, "-c", PHASES], env=stack.env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
        )
        samples.append(json.loads(result.stdout))
    return {name: median([sample[name] for sample in samples]) for name in samples[0]}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _deploy(stack: LocalStack, *extra: str, kind: str = "") -> tuple[float, dict[str, Any]]:
    """One whole ``sdcli deploy`` process: wall seconds (and its CPU seconds into CPU[kind]) and its JSON."""
    command = stack.command(*extra, "--output", "json", "deploy")
    cpu = _children_cpu()
    started = time.perf_counter()
    result = subprocess.run(command, env=stack.env, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - started
    if kind:
        CPU[kind].append(_children_cpu() - cpu)
    if result.returncode != 0:
        raise RuntimeError(f"sdcli deploy failed: {result.stderr.strip()[-800:]}")
    return elapsed, json.loads(result.stdout)


def _actions(report: dict[str, Any]) -> set[str]:
    return {resource["action"] for resource in report["resources"]}


def run(options: Options) -> list[Row]:
    """A counted warm-up stack through the proxy, then timed stacks."""
    stacks, noops = options.runs(4, 2), options.runs(3, 2)
    log("deploy: warm-up stack, deploys counted on the wire by a proxy")
    with LocalStack("deploy-count") as stack, CountingProxy(stack.endpoint) as proxy:
        _, first_report = _deploy(stack, "--endpoint-url", proxy.url)
        wire_first = [call.operation for call in proxy.take() if call.mutating]
        _, noop_report = _deploy(stack, "--endpoint-url", proxy.url)
        noop_calls = proxy.take()
        wire_noop = [call.operation for call in noop_calls if call.mutating]
        wire_noop_reads = len(noop_calls)
    firsts: list[float] = []
    repeats: list[float] = []
    reported: list[int] = []
    for index in range(stacks):
        log(f"deploy: fresh stack {index + 1}/{stacks}: first deploy, then {noops} with nothing changed")
        with LocalStack("deploy") as stack:
            elapsed, report = _deploy(stack, kind="first")
            if _actions(report) != {"created"}:
                raise RuntimeError(f"first deploy did not create everything: {report['resources']}")
            firsts.append(elapsed)
            for _ in range(noops):
                elapsed, report = _deploy(stack, kind="noop")
                if _actions(report) != {"unchanged"}:
                    raise RuntimeError(f"a repeated deploy changed something: {report['resources']}")
                repeats.append(elapsed)
                reported.append(report["mutating_calls"])
            if index == stacks - 1:
                phases = _phases(stack, options.runs(10, 3))
        if options.profile_dir and index == stacks - 1:
            _profile(options)
    first, repeat = median(firsts), median(repeats)
    per_stack = len(repeats) // max(1, len(firsts))
    ratio = median(noop / firsts[index // per_stack] for index, noop in enumerate(repeats))
    zero = not wire_noop and not any(reported) and noop_report["mutating_calls"] == 0
    return [
        Row(
            "4",
            "deploy, nothing changed vs first deploy on a fresh stack",
            ms(repeat),
            ms(first),
            ratio,
            "<= 0.2",
            extra_ok=zero,
            note=(
                f"sdcli's own CPU time: no-op {ms(median(CPU['noop']))}, first {ms(median(CPU['first']))}; the "
                "first deploy's wall time is mostly the fresh stack's server side (moto loads each service on its "
                "first request). Where a no-op deploy's time goes (medians, fresh interpreters, interpreter "
                "start-up and output excluded): " + ", ".join(f"{name} {ms(value)}" for name, value in phases.items())
            ),
            data={"first": firsts, "noop": repeats, "cpu": CPU, "phases": phases},
        ),
        Row(
            "4",
            "mutating calls of a no-op deploy: sdcli's count / on the wire",
            f"{max(reported, default=0)} / {len(wire_noop)}",
            f"first: {first_report['mutating_calls']} / {len(wire_first)}",
            None,
            "check",
            extra_ok=zero,
            note=(
                f"no-op deploy on the wire: {wire_noop_reads} requests, mutating: {wire_noop or 'none'}; "
                f"first deploy's mutating calls on the wire: {', '.join(wire_first)}"
            ),
        ),
    ]


def _profile(options: Options) -> None:
    """pyinstrument of one first deploy and one no-op deploy, on a stack of their own."""
    assert options.profile_dir is not None
    with LocalStack("deploy-profile") as stack:
        for name in ("first", "noop"):
            out = options.profile_dir / f"deploy-{name}-pyinstrument.txt"
            subprocess.run(
                [PYTHON, "-m", "pyinstrument", "-o", str(out), "-m", "sdcli", "--local", "--output", "json", "deploy"],
                env=stack.env,
                capture_output=True,
                check=False,
            )
