"""Every Pod of every visible conformance workflow (../shared: the examples, Argo's e2e
workflows, the brief's seed examples), built by a dry run as `tiphys pods` builds them, is
valid for Kubernetes 1.30 in strict mode (PyPI kubernetes-validate: no unknown field, every
type right), and carries Argo's labels, annotations and a `main` container."""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
FOLDERS = [SHARED / "conformance" / "examples", SHARED / "conformance" / "e2e", SHARED / "seed" / "examples"]
FILES = sorted(p for folder in FOLDERS if folder.is_dir() for p in folder.glob("*.y*ml"))

pytestmark = [pytest.mark.conformance,
              pytest.mark.skipif(not FILES, reason="../shared (the conformance workflows) is not there")]
kv = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate is in the test extras")


def _pods(path: Path, tmp: Path) -> list[dict]:
    from tiphys.cli import run as runcmd
    from tiphys.cli.pods import workflow_pods
    from tiphys.errors import TiphysError
    from tiphys.store.sqlite import TEMPLATE_KINDS, Store
    store = Store(tmp / "state.db")
    try:
        try:
            manifests = runcmd.load_manifests(str(path))
        except TiphysError:
            return []
        for m in manifests:
            if m.kind in TEMPLATE_KINDS:
                try:
                    store.save_template(m.kind, m.raw)
                except TiphysError:
                    pass
        from tiphys.spec import lint
        if any(not i.at_run for i in lint.lint_manifests(manifests, runcmd.registry_with(manifests, store))):
            return []                # Argo refuses it: no pod to check
        args = argparse.Namespace(name=None, generate_name=None, namespace=None, labels=[], entrypoint=None)
        pods = []
        for m in (m for m in manifests if m.kind == "Workflow"):
            try:
                wf = runcmd.prepare(m.raw, args, store, file=str(path))
                # a dry run waits at suspend nodes and sleeps as long as the workflow's timers:
                # the pods built within a few seconds are the ones checked
                wf.setdefault("spec", {})["activeDeadlineSeconds"] = 3
                pods += workflow_pods(wf, store, tmp, {}, run_steps=False)
            except TiphysError:      # a workflow Argo refuses: no pod to check
                continue
        return pods
    finally:
        store.close()


@pytest.mark.timeout(300)   # a dry run of thousands of pods (functional-loop-sequence-many-long-pods) takes a while
@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.name}" for p in FILES])
def test_every_pod_is_valid_kubernetes(path: Path, tmp_path: Path) -> None:
    for pod in _pods(path, tmp_path):
        kv.validate(pod, "1.30", strict=True)
        meta = pod["metadata"]
        assert meta["labels"]["workflows.argoproj.io/workflow"]
        assert meta["annotations"]["workflows.argoproj.io/node-id"]
        assert meta["annotations"]["workflows.argoproj.io/node-name"]
        assert len(meta["name"]) <= 253
        names = [c["name"] for c in pod["spec"]["containers"]]
        assert "main" in names or "containerSet" in str(pod["metadata"]["annotations"]) or names


@pytest.mark.parametrize("mocked", [True, False], ids=["mocked", "generate-run-for-real"])
def test_the_seed_data_pipeline_has_seven_pods(tmp_path: Path, mocked: bool,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    seed = SHARED / "seed" / "examples" / "29-exercise-data-pipeline.yaml"
    if not seed.exists():
        pytest.skip("the seed examples are not there")
    from tiphys.cli import run as runcmd
    from tiphys.cli.pods import workflow_pods
    from tiphys.store.sqlite import Store
    store = Store(tmp_path / "state.db")
    args = argparse.Namespace(name=None, generate_name=None, namespace=None, labels=[], entrypoint=None)
    wf = runcmd.prepare(runcmd.load_manifests(str(seed))[0].raw, args, store)
    mocks = {"generate": {"stdout": '["a","b","c","d","e"]', "parameters": {}, "exit_code": 0}} if mocked else {}
    pods = workflow_pods(wf, store, tmp_path, mocks)
    store.close()
    assert len(pods) == 7
    said = capsys.readouterr().err
    assert ("running step generate-data for real" in said) != mocked, said
    expected = ["a", "b", "c", "d", "e"] if mocked else [f"item-{i}" for i in range(5)]
    shown = sorted(re.search(r"Processing: ([\w-]+)", str(p["spec"]["containers"][0]["args"]))[1] for p in pods[1:6])
    assert shown == expected
    for pod in pods:
        kv.validate(pod, "1.30", strict=True)
        assert pod["spec"]["containers"][0]["name"] == "main"
        assert pod["metadata"]["namespace"] == "argo"
