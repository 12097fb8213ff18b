"""runtime/resources.py: conditions, merge patches, and a child Workflow run for real."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tiphys.runtime import resources

OBJ = {"metadata": {"name": "w"}, "status": {"phase": "Failed", "succeeded": 2, "nodes": [1, 2, 3]}}


def holds(selector: str, every: bool = True) -> bool:
    reqs = resources.requirements(selector)
    test = all if every else any
    return test(resources.matches(r, OBJ) for r in reqs)


def test_label_selector_conditions_over_paths():
    assert holds("status.phase == Failed")
    assert holds("status.phase = Failed")
    assert not holds("status.phase != Failed")
    assert holds("status.phase in (Failed, Error)")
    assert not holds("status.phase notin (Failed, Error)")
    assert holds("status.succeeded > 1, status.succeeded < 3")
    assert not holds("status.succeeded > 1, status.phase == Succeeded")      # success: every requirement
    assert holds("status.succeeded > 5, status.phase == Failed", every=False)  # failure: any one
    assert holds("status.nodes.# == 3")
    assert holds("status.phase") and holds("!status.missing") and not holds("status.missing")


def test_merge_patch():
    assert resources.merge_patch({"a": {"b": 1, "c": 2}, "d": 1}, {"a": {"b": 5, "c": None}, "e": [1]}) == \
        {"a": {"b": 5}, "d": 1, "e": [1]}


@pytest.mark.integration
def test_created_workflow_runs_and_is_watched(tmp_path):
    wf = Path(__file__).parent / "testdata" / "resource-child.yaml"
    r = subprocess.run([str(Path(sys.executable).with_name("tiphys")), "run", str(wf), "-o", "json"],
                       capture_output=True, text=True, timeout=60, env=dict(os.environ, TIPHYS_HOME=str(tmp_path)))
    out = json.loads(r.stdout)
    found = {n["displayName"]: n for n in out["status"]["nodes"].values()}
    assert found["make"]["phase"] == "Succeeded"
    params = {p["name"]: p["value"] for p in found["make"]["outputs"]["parameters"]}
    assert params["phase"] == "Succeeded" and params["name"].startswith("child-")
    assert "result" not in found["make"]["outputs"]     # no caller names make's result: Argo keeps none
    assert found["failing"]["phase"] == "Failed"
    assert "failed condition" in found["failing"]["message"]
    assert found["cm"]["phase"] == "Succeeded"
    assert [(p["name"], p["value"]) for p in found["cm-read"]["outputs"]["parameters"]] == [("greeting", "hello")]
    assert found["job"]["phase"] == "Failed"
    assert "cannot create a Job without Kubernetes" in found["job"]["message"]
    from tiphys.store import open_store
    with open_store(tmp_path / "tiphys.db") as store:
        child = store.get_workflow(params["name"])
        assert child["status"]["phase"] == "Succeeded"
        assert child["metadata"]["ownerReferences"][0]["name"] == out["metadata"]["name"]
        assert store.get_template("WorkflowTemplate", "made-here")["spec"]["entrypoint"] == "patched"
        assert store.get_configmap("default", "x")["data"] == {"greeting": "hello"}
