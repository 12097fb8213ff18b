"""Workflow routes end to end: real runs of tiny busybox workflows through the runtime."""
from __future__ import annotations

import json
import threading
import time

from server_helpers import NS, hello, sleeper, wait_phase


def test_create_wait_logs_delete(client):
    r = client.post(f"/api/v1/workflows/{NS}", json={"workflow": hello(None, "hi there")})
    assert r.status_code == 200, r.text
    created = r.json()
    meta = created["metadata"]
    assert meta["name"].startswith("hello-") and len(meta["name"]) == len("hello-") + 5
    assert meta["namespace"] == NS and meta["uid"] and meta["creationTimestamp"].endswith("Z")
    assert created["status"]["phase"] == "Pending"
    wf = wait_phase(client, meta["name"])
    assert wf["status"]["phase"] == "Succeeded"
    assert wf["metadata"]["labels"]["workflows.argoproj.io/completed"] == "true"
    r = client.get(f"/api/v1/workflows/{NS}/{meta['name']}/log", params={"logOptions.container": "main"})
    assert r.status_code == 200
    lines = [json.loads(x) for x in r.text.splitlines()]
    assert lines == [{"result": {"content": "hi there", "podName": meta["name"]}}]
    assert client.delete(f"/api/v1/workflows/{NS}/{meta['name']}").json() == {}
    assert client.get(f"/api/v1/workflows/{NS}/{meta['name']}").status_code == 404


def test_not_found_shapes(client):
    r = client.get(f"/api/v1/workflows/{NS}/missing")
    assert r.status_code == 404
    assert r.json() == {"code": 5, "message": 'workflows.argoproj.io "missing" not found'}
    assert client.delete(f"/api/v1/workflows/{NS}/missing").status_code == 404
    assert client.get(f"/api/v1/workflows/{NS}/missing/log").status_code == 404
    assert client.put(f"/api/v1/workflows/{NS}/missing/stop", json={}).status_code == 404
    assert client.get("/api/v1/workflow-templates/argo/nope").json()["message"] == \
        'workflowtemplates.argoproj.io "nope" not found'


def test_lint_errors_are_400_with_the_problem(client):
    bad = hello("bad")
    bad["spec"]["entrypoint"] = "nowhere"
    r = client.post(f"/api/v1/workflows/{NS}", json={"workflow": bad})
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == 3 and "nowhere" in body["message"]
    assert client.get(f"/api/v1/workflows/{NS}/bad").status_code == 404
    r = client.post(f"/api/v1/workflows/{NS}/lint", json={"workflow": bad})
    assert r.status_code == 400 and "nowhere" in r.json()["message"]
    r = client.post(f"/api/v1/workflows/{NS}/lint", json={"workflow": hello("good")})
    assert r.status_code == 200 and r.json()["metadata"]["name"] == "good"
    r = client.post(f"/api/v1/workflows/{NS}", content=b"{not json")
    assert r.status_code == 400 and r.json()["code"] == 3
    r = client.post(f"/api/v1/workflows/{NS}", json={"workflow": {"metadata": {}, "spec": {}}})
    assert r.status_code == 400


def test_duplicate_name_is_409_and_dry_run_saves_nothing(client):
    r = client.post(f"/api/v1/workflows/{NS}", json={"workflow": hello("dry"), "serverDryRun": True})
    assert r.status_code == 200 and r.json()["metadata"]["name"] == "dry"
    assert client.get(f"/api/v1/workflows/{NS}/dry").status_code == 404
    assert client.post(f"/api/v1/workflows/{NS}", json={"workflow": hello("once")}).status_code == 200
    r = client.post(f"/api/v1/workflows/{NS}", json={"workflow": hello("once")})
    assert r.status_code == 409 and r.json()["code"] == 6


def test_list_selectors_and_pagination(client):
    for i in range(5):
        wf = hello(f"wf-{i}", labels={"team": "a" if i % 2 == 0 else "b", "n": str(i)})
        assert client.post(f"/api/v1/workflows/{NS}", json={"workflow": wf}).status_code == 200
    client.post("/api/v1/workflows/other", json={"workflow": hello("elsewhere")})
    for i in range(5):
        wait_phase(client, f"wf-{i}")
    wait_phase(client, "elsewhere", ns="other")

    def names(**params):
        r = client.get(f"/api/v1/workflows/{NS}", params=params)
        assert r.status_code == 200, r.text
        return sorted(w["metadata"]["name"] for w in r.json()["items"] or [])

    # a get shows the running controller's newest state at once; the list reads the store, which
    # has the final save a moment later (as a Kubernetes list may lag a watch)
    deadline = time.monotonic() + 10
    while len(names(**{"listOptions.fieldSelector": "status.phase=Succeeded"})) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)

    assert names() == [f"wf-{i}" for i in range(5)]
    assert names(**{"listOptions.labelSelector": "team=a"}) == ["wf-0", "wf-2", "wf-4"]
    assert names(**{"listOptions.labelSelector": "team=a,n!=2"}) == ["wf-0", "wf-4"]
    assert names(**{"listOptions.labelSelector": "n in (1,3)"}) == ["wf-1", "wf-3"]
    assert names(**{"listOptions.labelSelector": "workflows.argoproj.io/phase=Succeeded"}) == names()
    assert names(**{"listOptions.fieldSelector": "status.phase=Succeeded"}) == names()
    assert names(**{"listOptions.fieldSelector": "status.phase=Running"}) == []
    assert names(**{"listOptions.fieldSelector": "metadata.name=wf-3"}) == ["wf-3"]
    assert names(**{"listOptions.fieldSelector": "metadata.name=wf-", "nameFilter": "Prefix"}) == names()
    assert names(**{"listOptions.fieldSelector": "metadata.name=-4", "nameFilter": "Contains"}) == ["wf-4"]
    r = client.get(f"/api/v1/workflows/{NS}", params={"listOptions.labelSelector": "team=z"})
    assert r.json()["items"] is None
    assert sorted(w["metadata"]["name"] for w in client.get("/api/v1/workflows/").json()["items"]) == \
        ["elsewhere"] + names()

    seen, token, pages = [], None, 0
    while True:
        params = {"listOptions.limit": "2"}
        if token:
            params["listOptions.continue"] = token
        answer = client.get(f"/api/v1/workflows/{NS}", params=params).json()
        pages += 1
        seen += [w["metadata"]["name"] for w in answer["items"]]
        token = answer["metadata"].get("continue")
        if not token:
            break
    assert pages == 3 and sorted(seen) == names() and len(set(seen)) == 5
    r = client.get(f"/api/v1/workflows/{NS}", params={"listOptions.continue": "garbage!"})
    assert r.status_code == 400

    r = client.get(f"/api/v1/workflows/{NS}", params={"fields": "metadata,items.metadata.name,items.status.phase"})
    item = r.json()["items"][0]
    assert set(item) == {"metadata", "status"} and set(item["status"]) == {"phase"}
    r = client.get(f"/api/v1/workflows/{NS}", params={"fields": "-items.status.nodes"})
    assert "nodes" not in r.json()["items"][0]["status"]


def test_stop_and_terminate_a_sleeping_workflow(client):
    client.post(f"/api/v1/workflows/{NS}", json={"workflow": sleeper("napper")})
    wait_phase(client, "napper", phases=("Running",))
    time.sleep(0.3)
    r = client.put(f"/api/v1/workflows/{NS}/napper/stop", json={"message": "enough"})
    assert r.status_code == 200, r.text
    wf = wait_phase(client, "napper", timeout=10)
    assert wf["status"]["phase"] == "Failed" and "enough" in wf["status"]["message"]
    r = client.put(f"/api/v1/workflows/{NS}/napper/terminate", json={})
    assert r.status_code == 400 and r.json()["code"] == 9

    client.post(f"/api/v1/workflows/{NS}", json={"workflow": sleeper("napper2")})
    wait_phase(client, "napper2", phases=("Running",))
    assert client.put(f"/api/v1/workflows/{NS}/napper2/terminate", json={}).status_code == 200
    wf = wait_phase(client, "napper2", timeout=10)
    assert wf["status"]["phase"] == "Failed"
    assert wf["status"]["message"] == "Stopped with strategy 'Terminate'"


def test_delete_a_running_workflow(client):
    client.post(f"/api/v1/workflows/{NS}", json={"workflow": sleeper("doomed")})
    wait_phase(client, "doomed", phases=("Running",))
    assert client.delete(f"/api/v1/workflows/{NS}/doomed").json() == {}
    # gone when the delete answers, as a Workflow object is in Kubernetes
    assert client.get(f"/api/v1/workflows/{NS}/doomed").status_code == 404
    time.sleep(0.5)       # and the stopped runner's last saves do not bring it back
    assert client.get(f"/api/v1/workflows/{NS}/doomed").status_code == 404


def test_parallelism_queues_the_rest_as_pending(make_client):
    client = make_client(parallelism=1)
    client.post(f"/api/v1/workflows/{NS}", json={"workflow": sleeper("first")})
    client.post(f"/api/v1/workflows/{NS}", json={"workflow": hello("second")})
    wait_phase(client, "first", phases=("Running",))
    time.sleep(0.3)
    second = client.get(f"/api/v1/workflows/{NS}/second").json()
    assert second["status"]["phase"] == "Pending"
    assert "postponed" in second["status"]["message"]
    client.put(f"/api/v1/workflows/{NS}/first/terminate", json={})
    assert wait_phase(client, "second")["status"]["phase"] == "Succeeded"


def test_restart_takes_over_running_and_pending(open_test_store, make_client):
    """A Running record without a journal (nothing was recorded before the crash) runs again
    from the start; a Pending one is queued; a `tiphys run` record is left alone."""
    from tiphys.server.controller import SUBMITTED_BY
    with open_test_store() as store:
        ours = {"annotations": {SUBMITTED_BY: "server"}, "namespace": NS}
        store.save_workflow({**hello("was-running"), "metadata": {"name": "was-running", **ours},
                             "status": {"phase": "Running", "nodes": {"x": {"id": "x", "phase": "Running"}}}})
        store.save_workflow({**hello("was-pending"), "metadata": {"name": "was-pending", **ours},
                             "status": {"phase": "Pending"}})
        store.save_workflow({**hello("cli-run"), "metadata": {"name": "cli-run", "namespace": NS},
                             "status": {"phase": "Running"}})
    client = make_client()
    wf = wait_phase(client, "was-running")
    assert wf["status"]["phase"] == "Succeeded" and "x" not in wf["status"]["nodes"]
    assert wait_phase(client, "was-pending")["status"]["phase"] == "Succeeded"
    assert client.get(f"/api/v1/workflows/{NS}/cli-run").json()["status"]["phase"] == "Running"


def test_logs_follow_streams_until_the_end(client):
    wf = hello("chatty")
    wf["spec"]["templates"][0]["container"] = {
        "image": "busybox", "command": ["sh", "-c", "echo one; sleep 0.5; echo two; echo oops >&2"]}
    client.post(f"/api/v1/workflows/{NS}", json={"workflow": wf})
    with client.stream("GET", f"/api/v1/workflows/{NS}/chatty/log",
                       params={"logOptions.container": "main", "logOptions.follow": "true"}) as r:
        lines = [json.loads(x)["result"]["content"] for x in r.iter_lines() if x]
    assert lines == ["one", "two", "oops"]
    r = client.get(f"/api/v1/workflows/{NS}/chatty/log", params={"grep": "tw"})
    assert [json.loads(x)["result"]["content"] for x in r.text.splitlines()] == ["two"]
    r = client.get(f"/api/v1/workflows/{NS}/chatty/log", params={"podName": "someone-else"})
    assert r.text == ""
    r = client.get(f"/api/v1/workflows/{NS}/chatty/log", params={"logOptions.container": "wait"})
    assert r.text == ""


def test_watch_streams_added_and_modified(client):
    client.post(f"/api/v1/workflows/{NS}", json={"workflow": hello("before")})
    wait_phase(client, "before")
    events: list[dict] = []

    def submit_later():
        time.sleep(0.3)
        client.post(f"/api/v1/workflows/{NS}", json={"workflow": hello("watched")})

    threading.Thread(target=submit_later).start()
    with client.stream("GET", f"/api/v1/workflow-events/{NS}") as r:
        for line in r.iter_lines():
            if not line:
                continue
            ev = json.loads(line)["result"]
            events.append(ev)
            if ev["object"]["metadata"]["name"] == "watched" and ev["object"]["status"].get("phase") == "Succeeded":
                break
    assert events[0]["type"] == "ADDED" and events[0]["object"]["metadata"]["name"] == "before"
    kinds = [(e["type"], e["object"]["metadata"]["name"]) for e in events]
    assert ("ADDED", "watched") in kinds and ("MODIFIED", "watched") in kinds


def test_watch_from_a_list_resource_version_misses_nothing(client):
    client.post(f"/api/v1/workflows/{NS}", json={"workflow": hello("old")})
    wait_phase(client, "old")
    listed = client.get(f"/api/v1/workflows/{NS}", params={"listOptions.limit": "10"}).json()
    version = listed["metadata"]["resourceVersion"]
    assert int(version) > 0
    # a workflow that starts and finishes between the list and the watch
    client.post(f"/api/v1/workflows/{NS}", json={"workflow": hello("quick")})
    wait_phase(client, "quick")
    seen: list[tuple[str, str, str]] = []
    with client.stream("GET", f"/api/v1/workflow-events/{NS}", params={"listOptions.resourceVersion": version}) as r:
        for line in r.iter_lines():
            if not line:
                continue
            ev = json.loads(line)["result"]
            seen.append((ev["type"], ev["object"]["metadata"]["name"], ev["object"]["status"].get("phase", "")))
            if seen[-1][1:] == ("quick", "Succeeded"):
                break
    quick = [e for e in seen if e[1] == "quick"]
    assert quick[0][0] == "ADDED" and quick[-1][2] == "Succeeded"
    # "old" was listed already: at most its own late changes come again, never as ADDED
    assert all(kind == "MODIFIED" for kind, name, _ in seen if name == "old")
    # a version the server no longer knows (it restarted: versions start again) replays everything
    with client.stream("GET", f"/api/v1/workflow-events/{NS}", params={"listOptions.resourceVersion": "999999"}) as r:
        first = json.loads(next(x for x in r.iter_lines() if x))["result"]
    assert first["type"] == "ADDED"


def test_watch_by_name(client):
    client.post(f"/api/v1/workflows/{NS}", json={"workflow": hello("a1")})
    client.post(f"/api/v1/workflows/{NS}", json={"workflow": hello("a2")})
    wait_phase(client, "a1")
    wait_phase(client, "a2")
    with client.stream("GET", f"/api/v1/workflow-events/{NS}",
                       params={"listOptions.fieldSelector": "metadata.name=a2"}) as r:
        first = json.loads(next(line for line in r.iter_lines() if line))["result"]
    assert first["type"] == "ADDED" and first["object"]["metadata"]["name"] == "a2"
