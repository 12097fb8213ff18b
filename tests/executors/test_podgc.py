"""podGC: when a step's container is removed, decided as Argo decides it (executors/podgc.py),
then acted on by the docker executor through real `tiphys run`/`tiphys delete` processes."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from contract import docker_url  # noqa: F401 (fixture)
from tiphys.errors import SpecError
from tiphys.executors import podgc
from tiphys.executors.podgc import PodGC

TIPHYS = str(Path(sys.executable).with_name("tiphys"))


# ------------------------------------------------------------------ the decisions (pure)

@pytest.mark.parametrize("strategy, ok_step, failed_step, end_succeeded, end_failed", [
    ("OnPodCompletion", True, True, True, True),
    ("OnPodSuccess", True, False, False, False),
    ("OnWorkflowCompletion", False, False, True, True),
    ("OnWorkflowSuccess", False, False, True, False),
    ("", False, False, True, True),      # no podGC: removed when the workflow ends (README deviation)
])
def test_each_strategy_removes_at_its_moment(strategy, ok_step, failed_step, end_succeeded, end_failed):
    gc = PodGC(strategy)
    assert gc.at_step_end({}, True) is ok_step
    assert gc.at_step_end({}, False) is failed_step
    assert gc.at_workflow_end({}, "Succeeded") is end_succeeded
    assert gc.at_workflow_end({}, "Failed") is end_failed


def test_a_label_selector_limits_what_is_removed():
    gc = podgc.parse({"strategy": "OnPodCompletion", "labelSelector": {
        "matchLabels": {"team": "ml"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["batch", "adhoc"]},
                             {"key": "keep", "operator": "DoesNotExist"}]}})
    assert gc.at_step_end({"team": "ml", "tier": "batch"}, False)
    assert not gc.at_step_end({"team": "ml", "tier": "web"}, True)
    assert not gc.at_step_end({"team": "ml", "tier": "batch", "keep": "1"}, True)
    assert not gc.at_workflow_end({"tier": "batch"}, "Succeeded")
    assert podgc.parse({"labelSelector": {"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["x"]}]}}
                       ).selects({"b": "x"})


def test_orphans_of_a_dead_process_are_kept_only_where_podgc_keeps_them():
    assert PodGC("OnPodCompletion").orphan({}, 1)
    assert PodGC("").orphan({}, 1)
    assert PodGC("OnPodSuccess").orphan({}, 0) and not PodGC("OnPodSuccess").orphan({}, 2)
    assert not PodGC("OnWorkflowSuccess").orphan({}, 0)


def test_parse_reads_delay_and_names_the_bad_field():
    assert podgc.parse({"strategy": "OnPodSuccess", "deleteDelayDuration": "1m30s"}) == PodGC("OnPodSuccess", 90.0)
    assert podgc.parse(None) == PodGC()
    for bad, field in [({"strategy": "Sometimes"}, "spec.podGC.strategy"),
                       ({"deleteDelayDuration": "soon"}, "spec.podGC.deleteDelayDuration"),
                       ({"labelSelector": {"matchExpressions": [{"key": "a", "operator": "Like"}]}},
                        "spec.podGC.labelSelector.matchExpressions[0].operator"),
                       ("OnPodSuccess", "spec.podGC")]:
        with pytest.raises(SpecError) as exc:
            podgc.parse(bad)
        assert exc.value.path == field


def test_a_label_round_trips():
    gc = podgc.parse({"strategy": "OnWorkflowSuccess", "deleteDelayDuration": "5s", "labelSelector": {
        "matchLabels": {"a": "b"}, "matchExpressions": [{"key": "k", "operator": "In", "values": ["v"]}]}})
    assert podgc.from_label(podgc.to_label(gc)) == gc
    assert podgc.from_label("not json") is None and podgc.from_label(None) is None


def test_lint_reports_a_bad_pod_gc(tmp_path):
    wf = tmp_path / "wf.yaml"
    wf.write_text(yaml.safe_dump({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "gc"},
        "spec": {"entrypoint": "main", "podGC": {"strategy": "OnPodSuccess", "deleteDelayDuration": "later"},
                 "templates": [{"name": "main", "container": {"image": "busybox", "command": ["true"]}}]}}))
    r = subprocess.run([TIPHYS, "lint", str(wf)], capture_output=True, text=True,
                       env={**os.environ, "TIPHYS_HOME": str(tmp_path / "home")})
    assert r.returncode != 0
    assert "spec.podGC.deleteDelayDuration" in r.stdout + r.stderr and "later" in r.stdout + r.stderr


# ------------------------------------------------------------------ real containers

def _workflow(name: str, pod_gc: dict | None) -> dict:
    """Two steps: `good` succeeds, then `bad` exits 3 (the workflow Fails)."""
    spec: dict = {"entrypoint": "main", "templates": [
        {"name": "main", "steps": [[{"name": "good", "template": "good"}], [{"name": "bad", "template": "bad"}]]},
        {"name": "good", "metadata": {"labels": {"tier": "cheap"}},
         "container": {"image": "busybox", "command": ["sh", "-c", "echo fine"]}},
        {"name": "bad", "metadata": {"labels": {"tier": "precious"}},
         "container": {"image": "busybox", "command": ["sh", "-c", "echo broken; exit 3"]}}]}
    if pod_gc is not None:
        spec["podGC"] = pod_gc
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": name}, "spec": spec}


def _steps_left(name: str) -> list[str]:
    """The templates (tier label) of the workflow's containers still in podman."""
    out = subprocess.run(["podman", "ps", "-a", "--filter", f"label=tiphys.workflow={name}",
                          "--format", '{{index .Labels "tier"}}'], capture_output=True, text=True, check=True).stdout
    return sorted(line.strip() for line in out.splitlines() if line.strip())


@pytest.mark.integration
@pytest.mark.parametrize("pod_gc, kept", [
    (None, []),
    ({"strategy": "OnPodCompletion"}, []),
    ({"strategy": "OnPodSuccess"}, ["precious"]),
    ({"strategy": "OnWorkflowCompletion"}, []),
    ({"strategy": "OnWorkflowSuccess"}, ["cheap", "precious"]),
    ({"strategy": "OnPodCompletion", "labelSelector": {"matchLabels": {"tier": "cheap"}}}, ["precious"]),
])
def test_containers_go_when_podgc_says_and_with_the_workflow(request, tmp_path, pod_gc, kept):
    url = request.getfixturevalue("docker_url")
    name = "podgc-" + ("none" if pod_gc is None else pod_gc["strategy"].lower()
                       + ("-selected" if "labelSelector" in pod_gc else ""))
    env = {**os.environ, "TIPHYS_HOME": str(tmp_path / "home"), "TIPHYS_EXECUTOR": "docker",
           "DOCKER_HOST": url, "NO_COLOR": "1"}
    subprocess.run(["podman", "rm", "-f", "--filter", f"label=tiphys.workflow={name}"], capture_output=True)
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(_workflow(name, pod_gc)))
    r = subprocess.run([TIPHYS, "run", str(path)], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode != 0 and "Failed" in r.stdout + r.stderr, r.stdout + r.stderr
    assert _steps_left(name) == kept
    # another Tiphys process connecting sweeps leftovers of dead processes: not these
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(_workflow(name + "-x", {"strategy": "OnPodCompletion"})))
    subprocess.run([TIPHYS, "run", str(other)], capture_output=True, text=True, env=env, timeout=300)
    assert _steps_left(name) == kept and _steps_left(name + "-x") == []
    # deleting the workflow removes what podGC kept, as Kubernetes deletes a workflow's pods
    r = subprocess.run([TIPHYS, "delete", name], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert _steps_left(name) == []
