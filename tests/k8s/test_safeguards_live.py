"""The brief's safeguards with real runs (`tiphys apply`, then `tiphys run` processes): the
LimitRange's defaults limit a step that says nothing, the ResourceQuota keeps the 101st
concurrent step Pending with Kubernetes' message, and separate processes sharing one home
count the same pods (the usage lives in the store)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
TIPHYS = str(Path(sys.executable).with_name("tiphys"))
SAFEGUARDS = Path(__file__).resolve().parents[2].parent / "shared" / "seed" / "examples" / "15-cluster-safeguards.yaml"
CGROUPS = os.path.exists("/sys/fs/cgroup/memory.max") or os.access("/sys/fs/cgroup/memory", os.W_OK)

FAN = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: fan, namespace: argo}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: s, template: nap, withSequence: {count: "101"}}
  - name: nap
    container: {image: alpine, command: [sleep, "6"]}
"""
HUNGRY = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: hungry, namespace: argo}
spec:
  entrypoint: eat
  templates:
  - name: eat
    container:
      image: python:3.11
      command: [python3, -c, "x = bytearray(700 * 2**20); print(len(x))"]
"""


def _env(home: Path) -> dict[str, str]:
    return dict(os.environ, TIPHYS_HOME=str(home), NO_COLOR="1")


def cli(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([TIPHYS, *args], capture_output=True, text=True, timeout=timeout, env=_env(home))


@pytest.fixture
def guarded(tmp_path: Path) -> Path:
    if not SAFEGUARDS.exists():
        pytest.skip("../shared/seed/examples is not there")
    home = tmp_path / "home"
    r = cli(home, "apply", "-f", str(SAFEGUARDS))
    assert r.returncode == 0, r.stderr
    return home


def test_the_101st_concurrent_step_waits_pending(guarded: Path, tmp_path: Path) -> None:
    wf = tmp_path / "fan.yaml"
    wf.write_text(FAN)
    run = subprocess.Popen([TIPHYS, "run", str(wf), "-o", "json"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=_env(guarded))
    seen = ""
    deadline = time.monotonic() + 60
    while not seen and time.monotonic() < deadline and run.poll() is None:
        r = cli(guarded, "get", "fan", "-n", "argo", "-o", "json")
        if r.returncode == 0:
            nodes = json.loads(r.stdout)["status"].get("nodes") or {}
            seen = next((n.get("message", "") for n in nodes.values()
                         if n.get("phase") == "Pending" and "exceeded quota" in n.get("message", "")), "")
        time.sleep(0.3)
    out, err = run.communicate(timeout=120)
    assert seen == ('pods "' + seen.split('"')[1] + '" is forbidden: exceeded quota: argo-workflows-quota, '
                    'requested: pods=1, used: pods=100, limited: pods=100'), seen
    assert run.returncode == 0, err
    final = json.loads(out)
    pods = [n for n in final["status"]["nodes"].values() if n["type"] == "Pod"]
    assert len(pods) == 101 and {n["phase"] for n in pods} == {"Succeeded"}


@pytest.mark.skipif(not CGROUPS, reason="no writable memory cgroup on this machine")
def test_a_step_without_limits_gets_the_default_memory_limit(guarded: Path, tmp_path: Path) -> None:
    wf = tmp_path / "hungry.yaml"
    wf.write_text(HUNGRY)
    r = cli(guarded, "run", str(wf), "-o", "json")
    node = next(n for n in json.loads(r.stdout)["status"]["nodes"].values() if n["type"] == "Pod")
    assert node["message"] == "OOMKilled (exit code 137)"      # 700 MiB against the 512Mi default
    r = cli(tmp_path / "unguarded", "run", str(wf), "-o", "json")
    assert r.returncode == 0, r.stderr


def test_separate_runs_share_one_quota(tmp_path: Path) -> None:
    home = tmp_path / "home"
    quota = tmp_path / "quota.yaml"
    quota.write_text("apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: one, namespace: q}\n"
                     "spec: {hard: {pods: '1'}}\n")
    assert cli(home, "apply", "-f", str(quota)).returncode == 0
    runs = []
    for name in ("first", "second"):
        wf = tmp_path / f"{name}.yaml"
        wf.write_text(f"apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {{name: {name}, namespace: q}}\n"
                      "spec:\n  entrypoint: nap\n  templates:\n  - name: nap\n"
                      "    container: {image: alpine, command: [sleep, '3']}\n")
        runs.append(subprocess.Popen([TIPHYS, "run", str(wf), "-o", "json"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=_env(home)))
    ends = []
    for run in runs:
        out, err = run.communicate(timeout=60)
        assert run.returncode == 0, err
        node = next(n for n in json.loads(out)["status"]["nodes"].values() if n["type"] == "Pod")
        ends.append(datetime.fromisoformat(node["finishedAt"].replace("Z", "+00:00")).timestamp())
    # one pod at a time across the two processes: the second ran its 3 s after the first ended
    # (whole-second timestamps: at least 2 s apart; together they would end within a second)
    assert abs(ends[0] - ends[1]) >= 2, ends
