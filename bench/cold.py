"""Goal 2: cold start. Importing the handler and serving its first invocation vs ``import boto3`` + one client.

Each sample is a fresh interpreter, as a new execution environment is. The handler runs from the deployment
package itself (``sdcli package``, extracted like Lambda's /var/task, with no bytecode cache written), and the
clock runs inside the process from just before the import, so interpreter start-up, equal for both, is left out.
"""

from __future__ import annotations

import io
import subprocess
import zipfile

from bench.harness import PYTHON, ROOT, LocalStack, Options, Row, interleaved, log, median, ms, paired_ratio

TEMPLATE = """\
import time
started, cpu_started = time.perf_counter(), time.process_time()
{body}
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
import sys
sys.stderr.write(f"BENCH {{elapsed!r}} {{cpu!r}}\\n")
"""
OURS = TEMPLATE.format(
    body="import catalog_service\n"
    'catalog_service.lambda_handler({"service_name": "testservice2", "service_version": "1.0"}, None)'
)
BASELINE = TEMPLATE.format(body='import boto3\nboto3.client("dynamodb")')


def _sample(code: str, env: dict[str, str], cwd: str, cpu: list[float]) -> float:
    """Wall-clock seconds from before the import to after the work, in a fresh interpreter (CPU time to ``cpu``)."""
    result = subprocess.run(
        [PYTHON, "-B", "-c", code],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        check=False,
    )
    lines = [line for line in result.stderr.splitlines() if line.startswith("BENCH ")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"cold-start sample failed ({result.returncode}): {result.stderr.strip()[-800:]}")
    _, wall, used = lines[-1].split()
    cpu.append(float(used))
    return float(wall)


def run(options: Options) -> list[Row]:
    """Fresh processes, alternating ours and the baseline, against one seeded local stack."""
    from sdcli.package import build_package

    runs = options.runs(40, 8)
    cpu: dict[str, list[float]] = {"handler": [], "boto3": []}
    with LocalStack("cold") as stack:
        stack.sdcli("table", "create", "--billing-mode", "PAY_PER_REQUEST")
        stack.sdcli("seed")
        task_root = stack.state_dir / "task"
        zipfile.ZipFile(io.BytesIO(build_package(ROOT / "lambda_src").data)).extractall(task_root)
        env = {
            **stack.env,
            "AWS_ENDPOINT_URL": stack.endpoint,
            "TABLE_NAME": "Services",
            "PYTHONPATH": str(task_root),
        }
        log(f"cold start: {runs} fresh interpreters each, alternating")
        samples = interleaved(
            {
                "handler": lambda: _sample(OURS, env, str(task_root), cpu["handler"]),
                "boto3": lambda: _sample(BASELINE, env, str(task_root), cpu["boto3"]),
            },
            runs=runs,
            warmup=2,
        )
        if options.profile_dir:
            for name, code in (("handler", OURS), ("boto3", BASELINE)):
                result = subprocess.run(
                    [PYTHON, "-B", "-X", "importtime", "-c", code],
                    env=env,
                    cwd=task_root,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                (options.profile_dir / f"cold-{name}-importtime.txt").write_text(result.stderr)
    ours, baseline = median(samples["handler"]), median(samples["boto3"])
    return [
        Row(
            "2",
            "cold start: import handler + 1st invocation vs import boto3 + client",
            ms(ours),
            ms(baseline),
            paired_ratio(samples["handler"], samples["boto3"]),
            "<= 1.1",
            note=(
                "cold start in CPU time (less disturbed by other load on a shared machine): "
                f"{ms(median(cpu['handler'][2:]))} vs {ms(median(cpu['boto3'][2:]))}, "
                f"ratio {paired_ratio(cpu['handler'][2:], cpu['boto3'][2:]):.3f}x"
            ),
            data={**samples, "cpu": cpu},
        )
    ]
