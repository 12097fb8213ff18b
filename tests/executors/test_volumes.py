"""volumeClaimTemplates end to end through `tiphys run`, on every executor: the steps of one
workflow share the claim's folder, and the folder is deleted at the end as Argo's
volumeClaimGC deletes the PVCs (default OnWorkflowSuccess: kept when the workflow fails)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from contract import containers, docker_url  # noqa: F401 (fixture)

WORKFLOW = Path(__file__).with_name("testdata") / "volume-claim.yaml"
TIPHYS = str(Path(sys.executable).with_name("tiphys"))
pytestmark = pytest.mark.integration


def _env(request, executor: str, home: Path) -> dict[str, str]:
    env = {**os.environ, "TIPHYS_HOME": str(home), "TIPHYS_EXECUTOR": executor, "NO_COLOR": "1"}
    if executor == "docker":
        env["DOCKER_HOST"] = request.getfixturevalue("docker_url")
    elif executor == "sandbox":
        from tiphys.images import store
        if shutil.which("bwrap") is None or os.geteuid() != 0:
            pytest.skip("the sandbox executor needs root and bubblewrap")
        if store.find("busybox") is None:
            pytest.skip("busybox is not in the image store (scripts/setup.d/36-registry.sh imports it)")
    elif shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed: the host executor cannot mount volumes")
    return env


def _run(env: dict[str, str], wf: Path, *args: str) -> tuple[int, dict, str]:
    r = subprocess.run([TIPHYS, "run", str(wf), "-o", "json", *args], capture_output=True, text=True, env=env,
                       timeout=300)
    return r.returncode, json.loads(r.stdout) if r.stdout.strip() else {}, r.stderr


def _nodes(wf: dict) -> dict[str, dict]:
    return {n["displayName"]: n for n in wf["status"]["nodes"].values()}


@pytest.mark.parametrize("executor", ["host", "sandbox", "docker"])
def test_steps_share_a_claim_which_is_deleted_on_success_and_kept_on_failure(request, tmp_path, executor):
    env = _env(request, executor, tmp_path / "home")
    claim = tmp_path / "home" / "logs" / "volume-claim" / "volumes" / "volume-claim-workdir"
    code, wf, err = _run(env, WORKFLOW)
    assert code == 0, err
    nodes = _nodes(wf)
    assert [(p["name"], p["value"]) for p in nodes["read"]["outputs"]["parameters"]] == [("stored", "deep")]
    logs = subprocess.run([TIPHYS, "logs", "volume-claim", "--node", "read"], capture_output=True, text=True,
                          env=env).stdout
    assert "hello-volume" in logs and "deep" in logs
    assert not claim.parent.exists()          # deleted: the workflow Succeeded

    code, wf, err = _run(env, WORKFLOW, "-p", "exit=3")
    assert code == 1 and wf["status"]["phase"] == "Failed", err
    assert (claim / "x").read_text() == "hello-volume\n"     # kept for a retry
    if executor == "docker":
        assert containers("tiphys.workflow=volume-claim") == []


def test_on_workflow_completion_deletes_the_claim_of_a_failed_workflow(request, tmp_path):
    env = _env(request, "host", tmp_path / "home")
    doc = yaml.safe_load(WORKFLOW.read_text())
    doc["spec"]["volumeClaimGC"] = {"strategy": "OnWorkflowCompletion"}
    wf_file = tmp_path / "wf.yaml"
    wf_file.write_text(yaml.safe_dump(doc))
    code, wf, err = _run(env, wf_file, "-p", "exit=3")
    assert code == 1 and _nodes(wf)["read"]["phase"] == "Failed", err
    assert not (tmp_path / "home" / "logs" / "volume-claim" / "volumes").exists()


def test_pod_volumes_as_the_kubelet_makes_them(tmp_path):
    from tiphys.errors import SchemaError
    from tiphys.runtime.steps import _pod_fields
    workdir = tmp_path / "logs" / "wf" / "node-1"

    def mounts(volume: dict) -> tuple:
        tmpl = {"volumes": [{"name": "v", **volume}]}
        return _pod_fields(tmpl, {"volumeMounts": [{"name": "v", "mountPath": "/m"}]}, workdir)[0]["mounts"]

    (m,) = mounts({"emptyDir": {}})
    assert m.source == workdir / "volumes" / "v" and m.source.stat().st_mode & 0o777 == 0o777
    assert mounts({"emptyDir": {"medium": "Memory"}})[0].source is None
    (m,) = mounts({"persistentVolumeClaim": {"claimName": "wf-data"}})
    assert m.source == tmp_path / "logs" / "wf" / "volumes" / "wf-data" and m.source.is_dir()
    made = tmp_path / "host" / "made"
    assert mounts({"hostPath": {"path": str(made)}})[0].source == made and made.is_dir()
    assert mounts({"hostPath": {"path": str(tmp_path / "f"), "type": "FileOrCreate"}})[0].source.is_file()
    with pytest.raises(SchemaError, match="is not a folder"):
        mounts({"hostPath": {"path": str(tmp_path / "absent"), "type": "Directory"}})
    with pytest.raises(SchemaError, match="absolute"):
        mounts({"hostPath": {"path": "relative/dir"}})
    assert not (tmp_path / "absent").exists()


@pytest.mark.parametrize("executor", ["host", "sandbox", "docker"])
def test_input_artifacts_inside_a_volume_mount_stay_visible(request, tmp_path, executor):
    """As Argo mounts input artifacts on top of the pod's volumes (e2e TestInputOnMount)."""
    env = _env(request, executor, tmp_path / "home")
    code, wf, err = _run(env, WORKFLOW.with_name("input-on-mount.yaml"))
    assert code == 0, err
    logs = subprocess.run([TIPHYS, "logs", "input-on-mount"], capture_output=True, text=True, env=env).stdout
    assert "hi" in logs and "there" in logs and "other" in logs
