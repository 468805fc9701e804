"""Start and stop the local stack, in the foreground or detached, and record where it listens.

The record is the state file that ``sdcli --local`` reads (see :mod:`sdcli.config`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from sdcli.config import local_state_file, read_local_state, state_dir
from sdcli.errors import SdcliError

START_TIMEOUT = 60.0


def _usable_state_dir() -> Path:
    folder = state_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SdcliError(
            f"Cannot use {folder} for the local stack's state: {error.strerror or error}",
            hint="Point SDCLI_STATE_DIR at a writable folder.",
        ) from None
    return folder


def _write_state(state: dict[str, Any]) -> None:
    path = local_state_file()
    temporary = path.with_suffix(".tmp")
    try:
        temporary.write_text(json.dumps(state))
        temporary.replace(path)
    except OSError as error:
        raise SdcliError(
            f"Cannot write {path}: {error.strerror or error}", hint="Point SDCLI_STATE_DIR at a writable folder."
        ) from None


def _check_port_free(port: int) -> None:
    """Fail with our own message; werkzeug would print its own text and exit."""
    if port == 0:
        return
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind(("127.0.0.1", port))
    except OSError as error:
        raise SdcliError(
            f"Cannot listen on 127.0.0.1:{port}: {error.strerror or error}",
            hint="Pick another port with --port (0 picks a free one).",
        ) from None
    finally:
        probe.close()


def _clear_state(pid: int) -> None:
    path = local_state_file()
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text()).get("pid") == pid:
            path.unlink()


def healthy(endpoint: str, timeout: float = 1.0) -> bool:
    from sdcli.local.server import HEALTH_PATH

    try:
        return requests.get(endpoint + HEALTH_PATH, timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


def run_foreground(port: int, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve until SIGINT/SIGTERM; the state file names this process while it runs."""
    from sdcli.local.server import LocalStack
    from sdcli.redact import add_environment_secrets, install
    from sdcli.startup import startup_done

    startup_done()  # a long-running server: collect again, never walking the modules just imported

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    add_environment_secrets()  # the stack inherits the user's environment: its credentials never reach the log
    for handler in logging.getLogger().handlers:
        install(handler)
    _usable_state_dir()
    running = read_local_state()
    # A recorded stack that does not answer is stale (killed, and maybe a zombie no one reaps): start anyway.
    if running and running.get("pid") != os.getpid() and healthy(running["endpoint"]):
        raise SdcliError(
            f"A local stack is already running at {running['endpoint']} (pid {running['pid']}).",
            hint="Stop it with `sdcli local stop`, or use it as it is.",
        )
    _check_port_free(port)
    try:
        stack = LocalStack(port=port)
    except OSError as error:
        raise SdcliError(
            f"Cannot listen on 127.0.0.1:{port}: {error.strerror or error}",
            hint="Pick another port with --port (0 picks a free one).",
        ) from None
    stopping = threading.Event()

    def stop(signum: int, frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    stack.start()
    _write_state(
        {
            "pid": os.getpid(),
            "port": stack.port,
            "endpoint": stack.endpoint,
            "log": os.environ.get("SDCLI_LOCAL_LOG"),
            "started": time.time(),
        }
    )
    if on_ready:
        on_ready(stack.endpoint)
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        _clear_state(os.getpid())
        stack.stop()


def start_detached(port: int) -> dict[str, Any]:
    """Start a background local stack (or report the one running) and return once it answers."""
    running = read_local_state()
    if running and healthy(running["endpoint"]):
        return {**running, "already_running": True}
    _check_port_free(port)
    log_path = _usable_state_dir() / "local-stack.log"
    environment = {**os.environ, "SDCLI_LOCAL_LOG": str(log_path)}
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "sdcli", "local", "start", "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=environment,
            start_new_session=True,
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-3:]
            raise SdcliError(
                f"The local stack exited during start-up (exit {process.returncode}): "
                f"{' / '.join(tail) or 'no output'}",
                hint=f"Its log is {log_path}.",
            )
        state = read_local_state()
        if state and state.get("pid") == process.pid and healthy(state["endpoint"]):
            return state
        time.sleep(0.1)
    process.kill()
    raise SdcliError(f"The local stack did not answer within {START_TIMEOUT:g} s.", hint=f"Its log is {log_path}.")


def stop(timeout: float = 10.0) -> bool:
    """Stop the running local stack; False when none was running."""
    state = read_local_state()
    if state is None:
        with contextlib.suppress(OSError):
            local_state_file().unlink()
        return False
    pid = state["pid"]
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if read_local_state() is None or not _alive(pid):
            break
        time.sleep(0.1)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _clear_state(pid)
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child of ours still answers kill(0); reap it if it is ours.
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    return True
