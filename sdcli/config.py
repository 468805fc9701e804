"""Settings resolved once per command: flags > SDCLI_* environment > defaults, and where AWS is.

The local stack and the CLI share one small state file (``local-stack.json`` in ``SDCLI_STATE_DIR``, default
``~/.sdcli``) that names the running stack's endpoint; ``--local`` reads it, ``sdcli local start`` writes it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

from sdcli.errors import SdcliError

DEFAULT_REGION = "us-east-1"
DEFAULT_TABLE = "Services"
DEFAULT_FUNCTION = "catalog_service"
DEFAULT_API = "catalog_service"
DEFAULT_STAGE = "dev"
DEFAULT_LOCAL_PORT = 4566

# The local stack accepts any credentials; these are what the AWS docs and LocalStack use as dummies.
LOCAL_ACCESS_KEY = "test"
LOCAL_SECRET_KEY = "test"

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE_DIR = PROJECT_ROOT / "lambda_src"
DEFAULT_SPEC_FILE = PROJECT_ROOT / "swagger" / "catalog_service.json"


@dataclass(frozen=True)
class Settings:
    region: str = DEFAULT_REGION
    profile: str | None = None
    endpoint_url: str | None = None
    local: bool = False
    table: str = DEFAULT_TABLE
    function: str = DEFAULT_FUNCTION
    api: str = DEFAULT_API
    stage: str = DEFAULT_STAGE
    output: str = "table"
    debug: bool = False

    @property
    def uses_custom_endpoint(self) -> bool:
        return self.endpoint_url is not None

    def resolved(self) -> Settings:
        """Settings with ``--local`` turned into the running local stack's endpoint."""
        if not self.local or self.endpoint_url:
            return self
        return replace(self, endpoint_url=local_stack_endpoint())


def state_dir() -> Path:
    return Path(os.environ.get("SDCLI_STATE_DIR") or Path.home() / ".sdcli")


def local_state_file() -> Path:
    return state_dir() / "local-stack.json"


def read_local_state() -> dict | None:
    """The running local stack's record, or None when none was started (or its process is gone)."""
    path = local_state_file()
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    pid = state.get("pid")
    if not isinstance(pid, int) or not _process_alive(pid):
        return None
    return state


def local_stack_endpoint() -> str:
    state = read_local_state()
    if state is None:
        raise SdcliError(
            "The local stack is not running.",
            hint="Start it with `sdcli local start --detach`, or pass --endpoint-url.",
        )
    return state["endpoint"]


def _process_alive(pid: int) -> bool:
    """Alive and not a zombie (a killed stack nobody has reaped yet still answers kill(pid, 0))."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True  # no /proc (macOS): kill(0) is all we can know
