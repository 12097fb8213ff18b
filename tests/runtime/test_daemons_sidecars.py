"""Daemon steps and sidecars with real processes (runtime/daemons.py, runtime/sidecars.py)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from printed import printed

from tiphys.store import open_store

pytestmark = pytest.mark.integration
TIPHYS = str(Path(sys.executable).with_name("tiphys"))
DATA = Path(__file__).parent / "testdata"


def run(home: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([TIPHYS, *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, TIPHYS_HOME=str(home), NO_COLOR="1"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def nodes(wf: dict) -> dict[str, dict]:
    return {n["displayName"]: n for n in wf["status"]["nodes"].values()}


def test_daemon_serves_next_steps_and_is_stopped(tmp_path):
    port = free_port()
    r = run(tmp_path, "run", str(DATA / "daemon-http.yaml"), "-p", f"port={port}", "-o", "json")
    assert r.returncode == 0, r.stderr
    wf = json.loads(r.stdout)
    found = nodes(wf)
    # the probe waited for the server (no caller names the client's result: read in its log)
    assert printed(tmp_path, wf["metadata"]["name"], found["client"]["id"]) == "hello-from-daemon"
    assert found["server"]["phase"] == "Succeeded"
    assert found["server"]["podIP"] == "127.0.0.1"
    assert "daemoned" not in found["server"]
    time.sleep(0.5)
    assert not listening(port)


def test_sidecar_reached_on_localhost_and_stopped(tmp_path):
    port = free_port()
    started = time.monotonic()
    r = run(tmp_path, "run", str(DATA / "sidecar-http.yaml"), "-p", f"port={port}", "-o", "json")
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - started < 25       # http.server ends on SIGTERM, no 30 s grace spent
    wf = json.loads(r.stdout)
    main = next(iter(nodes(wf).values()))
    assert printed(tmp_path, wf["metadata"]["name"], main["id"]) == "served-by-sidecar"
    assert "result" not in main["outputs"]        # the entrypoint pod: no caller, no result
    assert not listening(port)
    with open_store(tmp_path / "tiphys.db") as store:
        name = wf["metadata"]["name"]
        side = store.get_logs(name, container="web")
        assert [(n, s) for n, _, s, _ in side if s == "stdout"] == [(main["id"], "stdout")]
        assert "sidecar-up" in "".join(c for _, _, _, c in side)
        assert all("sidecar-up" not in c for _, _, _, c in store.get_logs(name))


def test_failing_sidecar_fails_the_node(tmp_path):
    started = time.monotonic()
    r = run(tmp_path, "run", str(DATA / "sidecar-fails.yaml"), "-o", "json")
    assert time.monotonic() - started < 25
    assert r.returncode == 1
    wf = json.loads(r.stdout)
    main = next(iter(nodes(wf).values()))
    assert main["phase"] == "Failed"
    assert main["message"] == "bad: Error (exit code 3)"
