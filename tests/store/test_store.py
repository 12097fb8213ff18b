"""The store API, run on every backend (the `store` fixture is parametrized: SQLite, PostgreSQL)."""
from __future__ import annotations

import threading

import pytest
from samples import wf

from tiphys.errors import InfrastructureError, SpecError


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


# -- bearer tokens ----------------------------------------------------------------------------

def test_tokens(store):
    assert store.find_token("d1") is None and store.list_tokens() == []
    store.save_token("t1", "d1", ["argo", "dev"], "ci robot")
    store.save_token("t0", "d0", [])
    found = store.find_token("d1")
    assert found["id"] == "t1" and found["namespaces"] == ["argo", "dev"]
    assert found["description"] == "ci robot" and found["createdAt"].endswith("Z")
    assert set(found) == {"id", "namespaces", "description", "createdAt"}
    assert [t["id"] for t in store.list_tokens()] == ["t0", "t1"]
    assert all("digest" not in t for t in store.list_tokens())
    # saving an id again replaces it (a new digest: the old one no longer authenticates)
    store.save_token("t1", "d2", ["argo"])
    assert store.find_token("d1") is None and store.find_token("d2")["namespaces"] == ["argo"]
    assert store.delete_token("t1") is True
    assert store.delete_token("t1") is False
    assert store.find_token("d2") is None and [t["id"] for t in store.list_tokens()] == ["t0"]


# -- secrets ----------------------------------------------------------------------------------

def test_secrets(store):
    assert store.get_secret("argo", "s") is None
    store.save_secret("argo", "s", {"user": "enc:1", "pass": "enc:2"})
    store.save_secret("argo", "a", {})
    store.save_secret("dev", "s", {"k": "v"})
    assert store.get_secret("argo", "s") == {"user": "enc:1", "pass": "enc:2"}
    store.save_secret("argo", "s", {"token": "enc:3"})          # replace, not merge
    assert store.get_secret("argo", "s") == {"token": "enc:3"}
    assert store.list_secrets() == [("argo", "a"), ("argo", "s"), ("dev", "s")]
    assert store.list_secrets("dev") == [("dev", "s")]
    assert store.delete_secret("argo", "s") is True
    assert store.delete_secret("argo", "s") is False
    assert store.get_secret("argo", "s") is None and store.get_secret("dev", "s") == {"k": "v"}


# -- journal ----------------------------------------------------------------------------------

def test_journal_keeps_order_per_workflow(store):
    assert store.journal("argo", "w") == []
    store.append_journal("argo", "w", ['{"n":1}', '{"n":2}'])
    store.append_journal("argo", "other", ['{"x":1}'])
    store.append_journal("dev", "w", ['{"y":1}'])
    store.append_journal("argo", "w", [])
    store.append_journal("argo", "w", ['{"n":3}'])
    assert store.journal("argo", "w") == ['{"n":1}', '{"n":2}', '{"n":3}']
    store.clear_journal("argo", "w")
    assert store.journal("argo", "w") == []
    assert store.journal("argo", "other") == ['{"x":1}'] and store.journal("dev", "w") == ['{"y":1}']


def test_save_workflow_and_journal_is_one_transaction(store):
    store.save_workflow_and_journal(wf("w", namespace="argo", phase="Running"), ['{"e":1}'])
    assert store.workflow_phase("w", "argo") == "Running" and store.journal("argo", "w") == ['{"e":1}']
    with pytest.raises(SpecError):
        store.save_workflow_and_journal({"metadata": {"namespace": "argo"}}, ['{"e":2}'])
    assert store.journal("argo", "w") == ['{"e":1}']


def test_append_journal_is_all_or_nothing(store):
    store.append_journal("argo", "w", ["a"])
    with pytest.raises(InfrastructureError):
        store.append_journal("argo", "w", ["b", None])   # NOT NULL violated by the second entry
    assert store.journal("argo", "w") == ["a"]


def test_delete_workflow_clears_its_journal(store):
    store.save_workflow(wf("w", namespace="argo"))
    store.save_workflow(wf("w", namespace="dev"))
    store.append_journal("argo", "w", ["a"])
    store.append_journal("dev", "w", ["b"])
    assert store.delete_workflow("w", "argo") is True
    assert store.journal("argo", "w") == [] and store.journal("dev", "w") == ["b"]


def test_concurrent_journal_appends_keep_each_writers_order(store):
    def write(k: int) -> None:
        for i in range(25):
            store.append_journal("ns", f"w{k}", [f"{i}a", f"{i}b"])

    threads = [threading.Thread(target=write, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(3):
        assert store.journal("ns", f"w{k}") == [f"{i}{x}" for i in range(25) for x in "ab"]


# -- leases -----------------------------------------------------------------------------------

def test_claim_renew_release(store):
    assert store.lease_owner("argo", "w") is None
    assert store.claim("argo", "w", "a", 60) is True
    assert store.claim("argo", "w", "b", 60) is False          # held by a
    assert store.claim("argo", "w", "a", 60) is True           # a again: renewed
    assert store.lease_owner("argo", "w") == "a"
    assert store.claim("dev", "w", "b", 60) is True            # another workflow
    assert store.claim("argo", "x", "a", 60) is True
    assert store.renew("a", 60) == 2 and store.renew("b", 60) == 1 and store.renew("c", 60) == 0
    store.release("argo", "w", "b")                            # not b's: nothing happens
    assert store.lease_owner("argo", "w") == "a"
    store.release("argo", "w", "a")
    assert store.lease_owner("argo", "w") is None
    assert store.claim("argo", "w", "b", 60) is True and store.lease_owner("argo", "w") == "b"
    assert store.renew("a", 60) == 1


def test_expired_lease_is_free(store):
    assert store.claim("argo", "w", "a", -1) is True           # expired at once
    assert store.lease_owner("argo", "w") is None
    assert store.claim("argo", "w", "b", 60) is True
    assert store.lease_owner("argo", "w") == "b"
    assert store.renew("a", 60) == 0                           # a lost it to b
    assert store.lease_owner("argo", "w") == "b"


def test_renew_brings_a_lapsed_untaken_lease_back(store):
    assert store.claim("argo", "w", "a", -1) is True
    assert store.renew("a", 60) == 1
    assert store.lease_owner("argo", "w") == "a" and store.claim("argo", "w", "b", 60) is False


# -- paged listing ----------------------------------------------------------------------------

def _names(page):
    return [w["metadata"]["name"] for w in page]


def test_list_page_walks_every_workflow_newest_first(store):
    store.save_workflows_batch([wf(f"w{i:02}", f"2026-01-01T00:00:{i % 7:02}Z") for i in range(23)])
    expected = _names(store.list_workflows())
    seen, after, pages = [], None, 0
    while True:
        page, after = store.list_page(limit=5, after=after)
        assert len(page) <= 5 and all("nodes" not in w["status"] for w in page)
        seen += _names(page)
        pages += 1
        if after is None:
            break
    assert seen == expected and pages == 5 and len(set(seen)) == 23
    page, after = store.list_page(limit=23)
    assert _names(page) == expected and after is None


def test_list_page_filters(store):
    def w(name, ns, phase, labels):
        body = wf(name, "2026-01-01T00:00:00Z", phase=phase, namespace=ns)
        body["metadata"]["labels"] = labels
        return body

    store.save_workflows_batch([
        w("build-1", "argo", "Succeeded", {"team": "a", "env": "prod"}),
        w("build-2", "argo", "Failed", {"team": "a"}),
        w("test-build", "argo", "Running", {"team": "b"}),
        w("build-3", "dev", "Succeeded", {"team": "a", "env": "prod"}),
    ])
    assert _names(store.list_page("argo")[0]) == ["test-build", "build-2", "build-1"]
    assert _names(store.list_page(None, phases=["Succeeded", "Failed"])[0]) == ["build-3", "build-2", "build-1"]
    assert store.list_page(None, phases=[])[0] == []
    assert _names(store.list_page(None, labels={"team": "a", "env": "prod"})[0]) == ["build-3", "build-1"]
    assert _names(store.list_page("argo", labels={"team": "b"})[0]) == ["test-build"]
    assert store.list_page(None, labels={"team": "c"})[0] == []
    assert _names(store.list_page(None, name_prefix="build-")[0]) == ["build-3", "build-2", "build-1"]
    assert _names(store.list_page(None, name_contains="st-b")[0]) == ["test-build"]
    assert _names(store.list_page(None, name_contains="BUILD")[0]) == []      # case-sensitive
    assert _names(store.list_page(None, name_prefix="b%")[0]) == []          # literal
    assert _names(store.list_page(None, name_contains="_")[0]) == []
    page, after = store.list_page("argo", phases=["Succeeded", "Failed"], labels={"team": "a"}, limit=1)
    assert _names(page) == ["build-2"]
    assert _names(store.list_page("argo", phases=["Succeeded", "Failed"], labels={"team": "a"},
                                  limit=1, after=after)[0]) == ["build-1"]


def test_list_page_follows_label_changes(store):
    body = wf("w")
    store.save_workflow(body)
    assert _names(store.list_page(labels={"a": "b"})[0]) == ["w"]
    body["metadata"]["labels"] = {"a": "c"}
    store.save_workflow(body)
    assert store.list_page(labels={"a": "b"})[0] == [] and _names(store.list_page(labels={"a": "c"})[0]) == ["w"]
    store.delete_workflow("w")
    store.save_workflow(wf("w2"))
    assert _names(store.list_page(labels={"a": "b"})[0]) == ["w2"]


def test_list_page_rejects_bad_input(store):
    with pytest.raises(SpecError, match="continu"):
        store.list_page(after="not-a-cursor")
    with pytest.raises(SpecError, match="limit"):
        store.list_page(limit=0)


def test_commands_go_to_the_lease_holder_once(store):
    store.send_command("ns", "wf", '{"op": "suspend"}')
    store.send_command("ns", "wf", '{"op": "resume"}')
    store.send_command("ns", "other", '{"op": "stop"}')
    assert store.take_commands("me") == []              # holds no lease yet: nothing is taken
    assert store.claim("ns", "wf", "me", 30)
    assert store.take_commands("someone-else") == []
    assert store.take_commands("me") == [("ns", "wf", '{"op": "suspend"}'), ("ns", "wf", '{"op": "resume"}')]
    assert store.take_commands("me") == []
    store.delete_workflow("other", "ns")                # its commands go with it
    assert store.claim("ns", "other", "me", 30)
    assert store.take_commands("me") == []
