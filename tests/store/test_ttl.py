"""spec.ttlStrategy (store/ttl.py): which time to live applies, and the sweep that deletes."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tiphys.store import ttl
from tiphys.store.sqlite import Store

T = "2026-01-01T00:00:00Z"
T0 = 1767225600.0


def wf(name, phase, strategy):
    return {"metadata": {"name": name, "namespace": "default", "creationTimestamp": T},
            "spec": {"ttlStrategy": strategy} if strategy is not None else {},
            "status": {"phase": phase, "startedAt": T, "finishedAt": T}}


def test_which_ttl_applies():
    both = {"secondsAfterCompletion": 100, "secondsAfterSuccess": 10, "secondsAfterFailure": 20}
    assert ttl.expiry(wf("a", "Succeeded", both)) == T0 + 10
    assert ttl.expiry(wf("a", "Failed", both)) == T0 + 20
    assert ttl.expiry(wf("a", "Error", both)) == T0 + 100           # Error is not Failed
    assert ttl.expiry(wf("a", "Failed", {"secondsAfterCompletion": 5})) == T0 + 5
    assert ttl.expiry(wf("a", "Succeeded", {"secondsAfterFailure": 5})) is None
    assert ttl.expiry(wf("a", "Running", both)) is None
    assert ttl.expiry(wf("a", "Succeeded", None)) is None


def test_sweep_deletes_only_expired(tmp_path):
    store = Store(tmp_path / "tiphys.db")
    store.save_workflow(wf("old", "Succeeded", {"secondsAfterCompletion": 30}))
    store.save_workflow(wf("young", "Succeeded", {"secondsAfterCompletion": 3000}))
    store.save_workflow(wf("kept", "Succeeded", None))
    store.save_logs("old", "n1", "p", "out", "")
    (tmp_path / "logs" / "old").mkdir(parents=True)
    assert ttl.sweep(store, tmp_path, T0 + 60) == [("default", "old")]
    assert store.get_workflow("old") is None and not (tmp_path / "logs" / "old").exists()
    assert store.get_logs("old") == []
    assert store.get_workflow("young") and store.get_workflow("kept")


@pytest.mark.integration
def test_run_then_next_command_deletes(tmp_path):
    path = tmp_path / "wf.yaml"
    path.write_text("""apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: short-lived}
spec:
  entrypoint: main
  ttlStrategy: {secondsAfterSuccess: 0}
  templates:
  - name: main
    container: {image: alpine, command: [echo, hi]}
""")
    tiphys = str(Path(sys.executable).with_name("tiphys"))
    env = dict(os.environ, TIPHYS_HOME=str(tmp_path / "home"))
    r = subprocess.run([tiphys, "run", str(path)], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([tiphys, "list"], capture_output=True, text=True, env=env, timeout=60)
    assert "short-lived" not in r.stdout
