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


PAYLOAD = b"payload\n"


def artifact_workflow(name: str) -> dict:
    """One busybox step writing an output artifact (`result-file`, the bytes PAYLOAD)."""
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": name, "namespace": NS},
            "spec": {"entrypoint": "main", "templates": [
                {"name": "main", "container": {"image": "busybox", "command": ["sh", "-c", "echo payload > /tmp/o.txt"]},
                 "outputs": {"artifacts": [{"name": "result-file", "path": "/tmp/o.txt"}]}}]}}


def download_artifact(page, name: str) -> tuple[str, bytes]:
    """Open workflow `name`'s (only) step in the node panel and click its artifact's Download
    link: -> (the file name the browser saves it as, its bytes)."""
    page.wait_for_selector('[data-pane=graph][data-phase="Succeeded"]', state="attached", timeout=60_000)
    page.locator("g[data-id]", has_text=name).click()
    link = page.locator("aside.node-panel a[data-artifact=result-file]")
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.failure() is None, download.failure()
    return download.suggested_filename, Path(download.path()).read_bytes()
