"""Goal 3: ``sdcli lookup NAME VERSION --api-url URL`` as a whole process, against two baselines.

- ``python -c "import requests; requests.get(URL)"``: the least a Python script can do to ask the API.
- ``aws dynamodb get-item``: what a CI script would otherwise run against the same data.

Every sample is a whole process timed from the parent (fork, exec, imports, the request, exit), which is what
a script calling it waits for. Also checked, not timed: the lookup path imports no boto3, botocore or moto.
"""

from __future__ import annotations

import json
import subprocess

from bench.harness import (
    PYTHON,
    LocalStack,
    Options,
    Row,
    interleaved,
    log,
    median,
    ms,
    paired_ratio,
    timed_process,
    tool,
)

HEAVY = ("boto3", "botocore", "moto")

IMPORT_CHECK = """\
import atexit, sys
def report():
    heavy = sorted(name for name in {heavy!r} if name in sys.modules)
    sys.stderr.write("HEAVY " + ",".join(heavy) + "\\n")
atexit.register(report)
sys.argv = {argv!r}
from sdcli.cli import main
main()
"""


def heavy_modules(argv: list[str], env: dict[str, str]) -> list[str]:
    """Which of boto3/botocore/moto a real ``sdcli`` run imports (read from sys.modules at exit)."""
    code = IMPORT_CHECK.format(heavy=HEAVY, argv=argv)
    result = subprocess.run([PYTHON, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False)
    lines = [line for line in result.stderr.splitlines() if line.startswith("HEAVY")]
    if not lines:
        raise RuntimeError(f"import check failed: {result.stderr.strip()[-500:]}")
    return [name for name in lines[-1][len("HEAVY ") :].split(",") if name]


def run(options: Options) -> list[Row]:
    """Deploy and seed a stack, then alternate the four commands."""
    runs = options.runs(20, 6)
    with LocalStack("lookup") as stack:
        api_url = stack.deploy()["invoke_url"]
        stack.sdcli("seed")
        env = stack.env
        url = f"{api_url}/catalog/testservice2/1.0"
        ours = stack.command("lookup", "testservice2", "1.0", "--api-url", api_url, local=False)
        ours_json = stack.command(
            "--output", "json", "lookup", "testservice2", "1.0", "--api-url", api_url, local=False
        )
        plain = [PYTHON, "-c", f"import requests; requests.get({url!r})"]
        aws = tool("aws")
        key = json.dumps({"name": {"S": "testservice2"}, "version": {"S": "1.0"}})
        aws_command = [
            *([aws] if aws else []),
            "--endpoint-url",
            stack.endpoint,
            "dynamodb",
            "get-item",
            "--table-name",
            "Services",
            "--key",
            key,
        ]

        def found(stdout: str) -> bool:
            return "notarealurl2" in stdout

        variants = {
            "sdcli": lambda: timed_process(ours, env, found),
            "sdcli_json": lambda: timed_process(ours_json, env, found),
            "requests": lambda: timed_process(plain, env),
        }
        if aws:
            variants["aws"] = lambda: timed_process(aws_command, env, found)
        log(f"sdcli lookup: {runs} rounds of {len(variants)} whole processes, rotating")
        samples = interleaved(variants, runs=runs, warmup=2)
        heavy = heavy_modules(["sdcli", "lookup", "testservice2", "1.0", "--api-url", api_url], env)
        heavy_json = heavy_modules(
            ["sdcli", "--output", "json", "lookup", "testservice2", "1.0", "--api-url", api_url], env
        )
        heavy_help = heavy_modules(["sdcli", "--help"], env)
        if options.profile_dir:
            profile = options.profile_dir / "lookup-pyinstrument.txt"
            subprocess.run(
                [PYTHON, "-m", "pyinstrument", "-o", str(profile), "--", *ours],
                env=env,
                capture_output=True,
                check=False,
            )
            result = subprocess.run([PYTHON, "-X", "importtime", *ours], env=env, capture_output=True, text=True)
            (options.profile_dir / "lookup-importtime.txt").write_text(result.stderr)
    sdcli, requests_time = median(samples["sdcli"]), median(samples["requests"])
    rows = [
        Row(
            "3",
            "`sdcli lookup --api-url` process vs `python -c requests.get`",
            ms(sdcli),
            ms(requests_time),
            paired_ratio(samples["sdcli"], samples["requests"]),
            "<= 1.5",
            data=samples,
        )
    ]
    if aws:
        aws_time = median(samples["aws"])
        rows.append(
            Row(
                "3",
                "`sdcli lookup --api-url` process vs `aws dynamodb get-item`",
                ms(sdcli),
                ms(aws_time),
                paired_ratio(samples["sdcli"], samples["aws"]),
                "<= 0.5",
            )
        )
    else:
        rows.append(
            Row(
                "3",
                "`sdcli lookup --api-url` process vs `aws dynamodb get-item`",
                ms(sdcli),
                "not installed",
                None,
                "<= 0.5",
                note="awscli is not installed: pip install -e '.[bench]'",
            )
        )
    sdcli_json = median(samples["sdcli_json"])
    rows.append(
        Row(
            "3",
            "`sdcli --output json lookup` process vs `python -c requests.get`",
            ms(sdcli_json),
            ms(requests_time),
            paired_ratio(samples["sdcli_json"], samples["requests"]),
            "report",
        )
    )
    imported = sorted(set(heavy) | set(heavy_json) | set(heavy_help))
    rows.append(
        Row(
            "3",
            "boto3/botocore/moto imported by lookup (table, json) and --help",
            ", ".join(imported) or "none",
            "none allowed",
            None,
            "check",
            extra_ok=not imported,
        )
    )
    return rows
