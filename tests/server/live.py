"""A real `tiphys server` (or `tiphys controller`) process for integration tests.

    proc, url = start_server(home, "--auth-mode", "client", env={...})
    ...
    stop(proc)
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

TIPHYS = Path(sys.executable).parent / "tiphys"
COMMAND = [str(TIPHYS)] if TIPHYS.exists() else [sys.executable, "-m", "tiphys.cli.main"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(home: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    """Start `tiphys ARGS` with TIPHYS_HOME=home; its output goes to a log file in home."""
    log = open(home / f"tiphys-{time.monotonic_ns()}.log", "wb")  # noqa: SIM115 - lives with the process
    proc = subprocess.Popen([*COMMAND, *args], env={**os.environ, "TIPHYS_HOME": str(home), **(env or {})},
                            stdout=log, stderr=subprocess.STDOUT)
    proc.log_path = Path(log.name)  # type: ignore[attr-defined]
    return proc


def start_server(home: Path, *args: str, env: dict | None = None, timeout: float = 20) -> tuple[subprocess.Popen, str]:
    """`tiphys server` on a free loopback port, once it answers; fails the test if it does not."""
    port = free_port()
    proc = spawn(home, "server", "--port", str(port), "--log-level", "warning", *args, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(f"{url}/api/v1/version", timeout=0.5)
            return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            pytest.fail("tiphys server did not start: " + proc.log_path.read_text())  # type: ignore[attr-defined]
        time.sleep(0.05)


def stop(*procs: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM each, then wait (SIGKILL after `timeout`)."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
