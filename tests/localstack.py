"""A real local stack for a test module: the real ``sdcli`` executable, a private state folder, port 0.

Used by the modules that test over HTTP (see ``local_stack`` and ``deployed_stack`` in conftest.py). Every
command runs as a user would run it, in a clean environment with no AWS configuration of the machine's own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3

from sdcli.config import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY

SDCLI = str(Path(sys.executable).with_name("sdcli"))


def clean_environment(state: Path) -> dict[str, str]:
    """This process's environment without AWS_* / SDCLI_*, pointing sdcli at a private state folder."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "SDCLI_"))}
    env.update(
        SDCLI_STATE_DIR=str(state),
        AWS_CONFIG_FILE=str(state / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(state / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


class Stack:
    """One running local stack and the commands to drive it."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.env = clean_environment(state)
        self.endpoint = ""
        self.invoke_url = ""

    def sdcli(
        self, *args: str, check: bool = True, timeout: float = 300, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the real executable; with ``check`` a non-zero exit fails with its output."""
        result = subprocess.run(
            [SDCLI, *args],
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"sdcli {' '.join(args)[:300]} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
            )
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.sdcli("--output", "json", *args).stdout)

    def start(self) -> Stack:
        started = self.json("local", "start", "--detach", "--port", "0")
        self.endpoint = started["endpoint"]
        return self

    def stop(self) -> None:
        self.sdcli("local", "stop", check=False)

    def deploy(self) -> dict:
        deployed = self.json("--local", "deploy")
        self.invoke_url = deployed["invoke_url"]
        return deployed

    def seed_file(self, path: Path, records: Any, *options: str) -> subprocess.CompletedProcess[str]:
        """Write ``records`` as the services file (a str is written as it is) and run ``sdcli seed --file``."""
        path.write_text(records if isinstance(records, str) else json.dumps(records), encoding="utf-8")
        return self.sdcli("--local", "--output", "json", *options, "seed", "--file", str(path), check=False)

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=LOCAL_ACCESS_KEY,
            aws_secret_access_key=LOCAL_SECRET_KEY,
        )

    def count_items(self, table: str = "Services") -> int:
        """The table's items, counted by a full scan (DescribeTable's ItemCount is only refreshed periodically)."""
        total = 0
        for page in self.client("dynamodb").get_paginator("scan").paginate(TableName=table, Select="COUNT"):
            total += page["Count"]
        return total

    def items(self, table: str = "Services") -> dict[tuple[str, str], dict[str, Any]]:
        """Every item as ``(name, version) -> {endpoint_url, ttl, status}``, read back by a full scan."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for page in self.client("dynamodb").get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                found[(item["name"]["S"], item["version"]["S"])] = {
                    "endpoint_url": item["endpoint_url"]["S"],
                    "ttl": int(item["ttl"]["N"]),
                    "status": item["status"]["S"],
                }
        return found
