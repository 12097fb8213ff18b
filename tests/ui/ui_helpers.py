"""Real `tiphys server` processes for the UI tests, and waiting on them through the API."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

NS = "argo"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tiphys_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "tiphys"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "tiphys.cli.main"]


@dataclass
class Server:
    url: str
    home: Path
    proc: subprocess.Popen
    log: Path

    def api(self, method: str, path: str, body: dict | None = None, token: str | None = None):
        import httpx
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = httpx.request(method, self.url + path, json=body, headers=headers, timeout=30)
        return r

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_server(home: Path, *args: str) -> Server:
    home.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log = home / "server.log"
    out = open(log, "wb")
    proc = subprocess.Popen([*tiphys_cmd(), "server", "--port", str(port), "--log-level", "warning", *args],
                            env={**os.environ, "TIPHYS_HOME": str(home)}, stdout=out, stderr=subprocess.STDOUT)
    out.close()
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"tiphys server did not start: {log.read_text()}")
            time.sleep(0.05)
    return Server(f"http://127.0.0.1:{port}", home, proc, log)


def wait_api_phase(server: Server, name: str, phases=("Succeeded", "Failed", "Error"), timeout: float = 60,
                   token: str | None = None) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        r = server.api("GET", f"/api/v1/workflows/{NS}/{name}", token=token)
        assert r.status_code == 200, r.text
        wf = r.json()
        if wf["status"].get("phase") in phases:
            return wf
        assert time.monotonic() < deadline, f"{name} still {wf['status'].get('phase')!r}"
        time.sleep(0.1)
