"""containerSet pods end to end (`tiphys run`) with each executor: shared volumes,
dependency order, retries inside the same container, per-container nodes and logs."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from printed import printed

pytestmark = pytest.mark.integration
TIPHYS = str(Path(sys.executable).with_name("tiphys"))
DATA = Path(__file__).parent / "testdata"


def _skip_unless_available(executor: str) -> None:
    if executor in ("host", "sandbox") and shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    if executor == "sandbox":
        from tiphys.images import store
        if os.geteuid() != 0 or store.find("argoproj/argosay:v2") is None:
            pytest.skip("the sandbox executor needs root and argoproj/argosay:v2 in the image store")
    if executor == "docker":
        from tiphys.executors.docker import DockerExecutor
        if not DockerExecutor.available():
            pytest.skip("no Docker API endpoint answers (DOCKER_HOST, podman)")


def run(home: Path, executor: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([TIPHYS, *args], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, TIPHYS_HOME=str(home), NO_COLOR="1", TIPHYS_EXECUTOR=executor))


def by_name(wf: dict) -> dict[str, dict]:
    return {n["name"]: n for n in wf["status"]["nodes"].values()}


@pytest.fixture(params=["host", "sandbox", "docker"])
def executor(request) -> str:
    _skip_unless_available(request.param)
    return request.param


def test_containers_share_volumes_run_in_order_and_retry_in_place(tmp_path, executor):
    r = run(tmp_path, executor, "run", str(DATA / "containerset.yaml"), "-o", "json")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    wf = json.loads(r.stdout)
    nodes = by_name(wf)
    pod = nodes["cset"]
    assert (pod["type"], pod["phase"]) == ("Pod", "Succeeded")
    # main's own filesystem, the shared volume (the entrypoint pod keeps no result: its log)
    assert printed(tmp_path, "cset", nodes["cset.main"]["id"]) == "from-a\nown-root"
    assert "result" not in pod["outputs"]
    assert pod["outputs"]["parameters"] == [{"name": "a", "value": "from-a"}]
    assert {n: nodes[f"cset.{n}"]["phase"] for n in ("a", "flaky", "main")} == dict.fromkeys(
        ("a", "flaky", "main"), "Succeeded")
    logs = run(tmp_path, executor, "logs", "cset").stdout
    assert logs.count("flaky-try") == 2 and "a-ran" in logs and "from-a" in logs


def test_failed_dependency_stops_its_dependents(tmp_path, executor):
    r = run(tmp_path, executor, "run", str(DATA / "containerset-fail.yaml"), "-o", "json")
    assert r.returncode == 1, r.stderr[-2000:]
    wf = json.loads(r.stdout)
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Failed"
    assert (nodes["cset-fail"]["phase"], nodes["cset-fail"]["message"]) == ("Failed", "x: Error (exit code 3)")
    assert nodes["cset-fail.x"]["phase"] == "Failed"
    y = nodes["cset-fail.y"]
    assert y["phase"] == "Error" and 'dependency "x" exited with non-zero code: 3' in y["message"]
    logs = run(tmp_path, executor, "logs", "cset-fail").stdout
    assert "x-ran" in logs and "y-must-not-run" not in logs
