"""The `tiphys` fixture: the real CLI with a fresh TIPHYS_HOME (client_runs.py); `service`: Hera's
WorkflowsService on a live `tiphys server` shared by a test module (tests/server/live.py)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from client_runs import Tiphys

NS = "argo"


@pytest.fixture
def tiphys(tmp_path) -> Tiphys:
    return Tiphys(tmp_path / "home", tmp_path)


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    pytest.importorskip("hera", reason="hera is not installed (it is in the test extras)")
    from hera.workflows import WorkflowsService
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
    from live import start_server, stop
    proc, url = start_server(tmp_path_factory.mktemp("server-home"))
    yield WorkflowsService(host=url, namespace=NS)
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        stop(proc)
