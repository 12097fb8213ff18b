"""Never hang: SIGTERM / Ctrl-C end `tiphys run` within seconds, whatever the workflow is doing,
with its step processes gone and the workflow saved as Failed."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from test_run_processes import TIPHYS, run

pytestmark = pytest.mark.integration
TIPHYS_ARGV = [TIPHYS]


def _workflow(name: str, marker: str, waiting: dict) -> dict:
    """A looped step sleeping `marker` seconds beside `waiting` (what keeps the run going)."""
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": name},
            "spec": {"entrypoint": "main", "templates": [
                {"name": "main", "parallelism": 0, "steps": [[
                    {"name": "nap", "template": "nap", "withItems": [1]},
                    {"name": "other", "template": "other"}]]},
                {"name": "nap", "container": {"image": "busybox", "command": ["sleep", marker]}},
                {"name": "other", **waiting}]}}


def _processes(arg: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if cmd[:2] == [b"sleep", arg.encode()] and state != "Z":
            found.append(int(pid))
    return found


def _terminate(tmp_path: Path, wf: dict, marker: str, sig: signal.Signals) -> tuple[dict, float]:
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(wf))
    proc = subprocess.Popen([*TIPHYS_ARGV, "run", str(path), "-o", "json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, TIPHYS_HOME=str(tmp_path)))
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _processes(marker):
            time.sleep(0.1)
        assert _processes(marker), "the step never started"
        time.sleep(0.3)
        sent = time.monotonic()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=15)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1, err
    assert "unexpected error" not in err
    time.sleep(0.3)
    assert not _processes(marker), "a step process outlived the stop"
    return json.loads(out), took


def test_sigterm_stops_a_running_step(tmp_path):
    marker = "7301"
    wf = _workflow("napping", marker, {"container": {"image": "busybox", "command": ["sleep", "7302"]}})
    found, took = _terminate(tmp_path, wf, marker, signal.SIGTERM)
    assert took < 15
    assert found["status"]["phase"] == "Failed" and "Stopped" in found["status"]["message"]
    assert not _processes("7302")
    stored = run(tmp_path, "get", "napping", "-o", "json")
    assert json.loads(stored.stdout)["status"]["phase"] == "Failed"


def test_sigterm_ends_a_workflow_waiting_for_resume(tmp_path):
    marker = "7303"
    found, took = _terminate(tmp_path, _workflow("held", marker, {"suspend": {}}), marker, signal.SIGTERM)
    assert took < 15
    assert found["status"]["phase"] == "Failed"
    assert {n["phase"] for n in found["status"]["nodes"].values()} <= {"Failed", "Succeeded", "Error"}


def test_ctrl_c_ends_a_workflow_waiting_for_resume(tmp_path):
    marker = "7304"
    found, took = _terminate(tmp_path, _workflow("held2", marker, {"suspend": {}}), marker, signal.SIGINT)
    assert took < 15 and found["status"]["phase"] == "Failed"


# a Tiphys whose engine ignores stops: stands for any engine state a stop cannot end
DEAF = ("import sys; import tiphys.engine.core as core; core.Engine.stop = lambda self, *a, **k: None; "
        "from tiphys.cli.main import main; sys.exit(main())")


def test_sigterm_ends_the_run_even_when_the_engine_does_not_finish(tmp_path, monkeypatch):
    marker = "7305"
    monkeypatch.setattr("test_stop_signals.TIPHYS_ARGV", [sys.executable, "-c", DEAF])
    wf = _workflow("deaf", marker, {"container": {"image": "busybox", "command": ["sleep", "7306"]}})
    found, took = _terminate(tmp_path, wf, marker, signal.SIGTERM)
    assert took < 15
    assert found["status"]["phase"] == "Failed" and "interrupted" in found["status"]["message"]
    assert {n["phase"] for n in found["status"]["nodes"].values()} == {"Failed"}
    assert not _processes("7306")
    stored = run(tmp_path, "get", "deaf", "-o", "json")
    assert json.loads(stored.stdout)["status"]["phase"] == "Failed"
