"""`tiphys run` end to end with real sandboxed processes: isolation, limits, deadlines, Ctrl-C."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
TIPHYS = str(Path(sys.executable).with_name("tiphys"))
DATA = Path(__file__).parent / "testdata"


def run(home: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([TIPHYS, *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, TIPHYS_HOME=str(home), NO_COLOR="1"))


def nodes(wf: dict) -> dict[str, dict]:
    return {n["displayName"]: n for n in wf["status"]["nodes"].values()}


def test_parallel_steps_have_private_tmp(tmp_path):
    r = run(tmp_path, "run", str(DATA / "private-tmp.yaml"), "-o", "json")
    assert r.returncode == 0, r.stderr
    found = nodes(json.loads(r.stdout))
    assert found["a"]["outputs"]["parameters"][0]["value"] == "apple"
    assert found["b"]["outputs"]["parameters"][0]["value"] == "banana"


@pytest.mark.skipif(not os.access("/sys/fs/cgroup/memory", os.W_OK) and not os.path.exists("/sys/fs/cgroup/memory.max"),
                    reason="no writable memory cgroup on this machine")
def test_memory_limit_reports_oomkilled(tmp_path):
    r = run(tmp_path, "run", str(DATA / "oom.yaml"), "-o", "json")
    assert r.returncode == 1
    wf = json.loads(r.stdout)
    pod = nodes(wf)["oom"]
    assert pod["phase"] == "Failed"
    assert pod["message"] == "OOMKilled (exit code 137)"
    assert pod["outputs"]["exitCode"] == "137"


def test_workflow_deadline_stops_step(tmp_path):
    started = time.monotonic()
    r = run(tmp_path, "run", str(DATA / "deadline.yaml"), "-o", "json")
    assert time.monotonic() - started < 20
    wf = json.loads(r.stdout)
    assert r.returncode == 1
    assert wf["status"]["phase"] == "Failed"
    assert "deadline" in wf["status"]["message"]


def test_ctrl_c_stops_steps_and_records_failed(tmp_path):
    proc = subprocess.Popen([TIPHYS, "run", str(DATA / "sleepy.yaml"), "-o", "json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, TIPHYS_HOME=str(tmp_path)))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not _sleepers():
        time.sleep(0.1)
    assert _sleepers(), "the step never started"
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 1
    wf = json.loads(out)
    assert wf["status"]["phase"] == "Failed"
    assert "interrupted" in wf["status"]["message"]
    time.sleep(0.5)
    assert not _sleepers(), "a step process outlived Ctrl-C"
    stored = run(tmp_path, "get", "sleepy", "-o", "json")
    assert json.loads(stored.stdout)["status"]["phase"] == "Failed"


def _sleepers() -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        except OSError:
            continue
        if cmd[:2] in ([b"sleep", b"300"], [b"sleep", b"301"]) and state != "Z":
            found.append(int(pid))
    return found


def test_invalid_workflow_is_refused_before_running(tmp_path):
    r = run(tmp_path, "run", str(DATA / "invalid.yaml"), "-o", "json")
    assert r.returncode == 1
    assert "missing-template" in r.stderr
    assert "Traceback" not in r.stderr
    assert run(tmp_path, "list", "-o", "name").stdout.strip() == ""
