"""Store over a real SQLite file in a temporary folder."""
from __future__ import annotations

import sqlite3
import threading

import pytest

from tiphys.errors import InfrastructureError, SpecError
from tiphys.store.sqlite import SCHEMA_VERSION, Store


def wf(name: str, created: str = "2026-01-01T00:00:00Z", phase: str = "Succeeded",
       namespace: str | None = None, **status) -> dict:
    meta = {"name": name, "creationTimestamp": created, "uid": f"uid-{name}", "labels": {"a": "b"}}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": meta,
            "spec": {"entrypoint": "main", "unknownField": {"kept": [1, 2]}},
            "status": {"phase": phase, "nodes": {name: {"id": name, "phase": phase}}, **status}}


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "sub" / "tiphys.db")
    yield s
    s.close()


def test_open_creates_schema_and_wal(tmp_path):
    path = tmp_path / "a" / "b" / "t.db"
    with Store(path) as s:
        assert s.schema_version == SCHEMA_VERSION
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"workflows", "logs", "templates"} <= tables
    conn.close()
    # reopening an existing store is fine and keeps data
    with Store(path) as s:
        s.save_workflow(wf("x"))
    with Store(path) as s:
        assert s.get_workflow("x")["metadata"]["name"] == "x"


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "t.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.commit()
    conn.close()
    with pytest.raises(InfrastructureError, match="newer"):
        Store(path)


def test_unopenable_path_is_an_infrastructure_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InfrastructureError, match="cannot open"):
        Store(blocker / "t.db")


def test_workflow_roundtrip_keeps_unknown_fields(store):
    store.save_workflow(wf("w1"))
    got = store.get_workflow("w1")
    assert got == wf("w1")
    assert store.get_workflow("nope") is None
    assert store.workflow_phase("w1") == "Succeeded"
    assert store.workflow_phase("nope") is None


def test_save_is_an_upsert(store):
    store.save_workflow(wf("w1", phase="Running"))
    store.save_workflow(wf("w1", phase="Failed", message="boom"))
    assert len(store.list_workflows()) == 1
    got = store.get_workflow("w1")
    assert got["status"]["phase"] == "Failed" and got["status"]["message"] == "boom"


def test_namespaces_are_separate(store):
    store.save_workflow(wf("w", namespace="argo", phase="Failed"))
    store.save_workflow(wf("w"))
    assert store.get_workflow("w")["status"]["phase"] == "Succeeded"
    assert store.get_workflow("w", "argo")["status"]["phase"] == "Failed"
    assert len(store.list_workflows()) == 2
    assert [w["metadata"]["namespace"] for w in store.list_workflows(namespace="argo")] == ["argo"]
    assert store.get_workflow("w", namespace=None) is not None


def test_save_needs_a_name(store):
    with pytest.raises(SpecError, match="metadata.name"):
        store.save_workflow({"metadata": {"generateName": "x-"}})


def test_list_latest_and_filters(store):
    store.save_workflows_batch([
        wf("a-1", "2026-01-01T00:00:01Z"),
        wf("b-1", "2026-01-01T00:00:03Z", phase="Failed"),
        wf("a-2", "2026-01-01T00:00:02Z", phase="Running"),
    ])
    assert [w["metadata"]["name"] for w in store.list_workflows()] == ["b-1", "a-2", "a-1"]
    assert [w["metadata"]["name"] for w in store.list_workflows(prefix="a-")] == ["a-2", "a-1"]
    assert [w["metadata"]["name"] for w in store.list_workflows(phase="Failed")] == ["b-1"]
    assert [w["metadata"]["name"] for w in store.list_workflows(limit=1)] == ["b-1"]
    assert store.latest()["metadata"]["name"] == "b-1"
    assert store.latest(namespace="elsewhere") is None
    light = store.list_workflows(with_nodes=False)[0]
    assert "nodes" not in light["status"] and light["status"]["phase"] == "Failed"


def test_latest_ties_go_to_the_last_inserted(store):
    store.save_workflow(wf("first"))
    store.save_workflow(wf("second"))
    assert store.latest()["metadata"]["name"] == "second"


def test_prefix_is_literal(store):
    store.save_workflows_batch([wf("a_b"), wf("axb"), wf("a%")])
    assert [w["metadata"]["name"] for w in store.list_workflows(prefix="a_")] == ["a_b"]
    assert [w["metadata"]["name"] for w in store.list_workflows(prefix="a%")] == ["a%"]


def test_batch_is_one_transaction(store):
    with pytest.raises(SpecError):
        store.save_workflows_batch([wf("ok"), {"metadata": {}}])
    assert store.list_workflows() == []


def test_logs_roundtrip_and_order(store):
    store.save_workflow(wf("w"))
    store.save_logs("w", "w-1", "w-main-1", "one\ntwo\n", "warn\n")
    store.save_logs("w", "w-2", "w-main-2", "three\n", "")
    assert store.get_logs("w") == [
        ("w-1", "w-main-1", "stdout", "one\ntwo\n"),
        ("w-1", "w-main-1", "stderr", "warn\n"),
        ("w-2", "w-main-2", "stdout", "three\n"),
    ]
    assert store.get_logs("w", "w-2") == [("w-2", "w-main-2", "stdout", "three\n")]
    assert store.get_logs("other") == []
    # saving a node again replaces its logs
    store.save_logs("w", "w-1", "w-main-1", "again\n", "")
    assert [r[3] for r in store.get_logs("w", "w-1")] == ["again\n"]


def test_delete_workflow_removes_logs(store):
    store.save_workflow(wf("w"))
    store.save_workflow(wf("keep"))
    store.save_logs("w", "n", "p", "x", "y")
    store.save_logs("keep", "n", "p", "x", "")
    assert store.delete_workflow("w") is True
    assert store.delete_workflow("w") is False
    assert store.get_workflow("w") is None
    assert store.get_logs("w") == []
    assert store.get_logs("keep") != []


def test_templates(store):
    raw = {"apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTemplate",
           "metadata": {"name": "tpl"}, "spec": {"templates": [{"name": "t"}]}}
    body = store.save_template("WorkflowTemplate", raw)
    assert "creationTimestamp" in body["metadata"] and "creationTimestamp" not in raw["metadata"]
    assert store.get_template("WorkflowTemplate", "tpl")["spec"] == raw["spec"]
    assert store.registry("WorkflowTemplate", "tpl")["metadata"]["name"] == "tpl"
    assert store.registry("ClusterWorkflowTemplate", "tpl") is None
    assert store.registry("Workflow", "tpl") is None
    store.save_template("ClusterWorkflowTemplate", {**raw, "kind": "ClusterWorkflowTemplate",
                                                    "metadata": {"name": "c", "namespace": "x"}})
    # cluster templates ignore namespaces
    assert store.get_template("ClusterWorkflowTemplate", "c", namespace="other") is not None
    assert [t["metadata"]["name"] for t in store.list_templates("WorkflowTemplate")] == ["tpl"]
    assert [t["metadata"]["name"] for t in store.list_templates("ClusterWorkflowTemplate")] == ["c"]
    # re-registering replaces
    store.save_template("WorkflowTemplate", {**raw, "spec": {"entrypoint": "t"}})
    assert store.get_template("WorkflowTemplate", "tpl")["spec"] == {"entrypoint": "t"}
    assert len(store.list_templates("WorkflowTemplate")) == 1
    assert store.delete_template("WorkflowTemplate", "tpl") is True
    assert store.delete_template("WorkflowTemplate", "tpl") is False
    assert store.get_template("WorkflowTemplate", "tpl") is None


def test_template_errors(store):
    with pytest.raises(SpecError, match="metadata.name"):
        store.save_template("WorkflowTemplate", {"metadata": {}})
    with pytest.raises(ValueError, match="kind"):
        store.save_template("Workflow", {"metadata": {"name": "x"}})


def test_concurrent_writers_from_threads(store):
    errors = []

    def write(i: int) -> None:
        try:
            for j in range(20):
                store.save_workflow(wf(f"w{i}-{j}", phase="Running"))
                store.save_logs(f"w{i}-{j}", "n", "p", "out", "")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.list_workflows()) == 80


def test_second_connection_sees_writes(tmp_path):
    path = tmp_path / "t.db"
    with Store(path) as writer, Store(path) as reader:
        writer.save_workflow(wf("w", phase="Running"))
        assert reader.workflow_phase("w") == "Running"
        writer.save_workflow(wf("w", phase="Succeeded"))
        assert reader.get_workflow("w")["status"]["phase"] == "Succeeded"
