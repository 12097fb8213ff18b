"""The `kubernetes` executor's logic against a fake of the Kubernetes API at the client seam
(kube_fake.py): pods made from podspec.build, followed through one watch per namespace,
judged as Argo judges them, read back, re-attached to, collected as podGC says."""
from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from kube_fake import FakeApi, cluster, main_ended, running
from tiphys.engine import actions as A
from tiphys.engine import outputs
from tiphys.errors import InfrastructureError
from tiphys.executors.base import InputFile, StepSpec
from tiphys.executors.choose import executor_for
from tiphys.executors.kubernetes import KubernetesExecutor
from tiphys.executors.podgc import PodGC
from tiphys.k8s import clusterpod, podspec

NS = "argo"
META = {"name": "wf", "namespace": NS, "uid": "u-1"}


def _spec(tmp: Path, node: str = "wf-1", gc: PodGC = PodGC(), inputs: bool = False, **tmpl_extra) -> StepSpec:
    tmpl = {"name": "t", "container": {"image": "alpine", "command": ["sh", "-c", "echo hi"]}, **tmpl_extra}
    arts = (A.InputArtifact(name="in", path="/tmp/in", raw="data"),) if inputs else ()
    action = A.StartPod(node_id=node, pod_name=f"wf-t-{node}", template=tmpl, inputs=arts,
                        parameter_paths=(("out", "/tmp/out"),))
    pod = podspec.build(META, {}, action, f"wf.{node}")
    placed = ()
    if inputs:
        source = tmp / node / "inputs" / podspec.input_key(0, arts[0])
        source.parent.mkdir(parents=True)
        source.write_text("data")
        placed = (InputFile(source, "/tmp/in"),)
    return StepSpec(key=node, image="alpine", workdir=tmp / "wf" / node, output_paths=("/tmp/out",), pod=pod,
                    workflow="wf", workflow_uid="u-1", pod_gc=gc, inputs=placed)


def _run(test):
    """Run `test(api, executor)` on a fresh event loop, then stop the fake's watch threads."""
    api = FakeApi()
    ex = KubernetesExecutor(cluster(api), quota_retry=0.05, watch_timeout=1)

    async def main():
        try:
            return await asyncio.wait_for(test(api, ex), 20)
        finally:
            api.closed = True
            ex.watches.close()
    return asyncio.run(main())


async def _until(check, what: str = "condition") -> None:
    for _ in range(400):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def _finish_ok(api: FakeApi, name: str, code: int = 0, stdout: bytes = b"hi\n") -> None:
    api.files[name] = {"ctr/main/stdout": stdout, "ctr/main/exitcode": f"{code}\n".encode(), "outputs/0": b"42"}
    api.set_status(NS, name, running("main", "wait"))
    api.set_status(NS, name, main_ended(code))


def test_a_pod_is_created_followed_read_back_and_its_outputs_collected(tmp_path):
    async def test(api, ex):
        spec = _spec(tmp_path)
        handle = await ex.start(spec)
        created = api.pods[(NS, "wf-t-wf-1")]
        names = [c["name"] for c in created["spec"]["containers"]]
        assert names == ["wait", "main"] and created["metadata"]["labels"][clusterpod.LABEL_EXECUTOR] == "kubernetes"
        assert handle.identity == {"pod": "wf-t-wf-1", "namespace": NS, "created": True}
        api.logs[("wf-t-wf-1", "main")] = b"hi\nwarning: x\n"
        _finish_ok(api, "wf-t-wf-1")
        result = await handle.wait()
        assert result.exit_code == 0 and result.error is None and not result.oom_killed
        assert result.stdout.read_text() == "hi\n"               # the exact stdout (the `result`)
        assert result.stderr.read_text() == "warning: x\n"       # the rest of the merged log
        assert result.outputs["/tmp/out"].read_text() == "42"
        assert any(c == "wait" and "tar" in argv for _, c, argv in api.execs)
        assert any(c == "wait" and clusterpod.COLLECTED in argv for _, c, argv in api.execs)
        assert "read" not in api.calls                           # followed by the watch, never polled
        assert (NS, "wf-t-wf-1") in api.pods                     # no podGC: kept until the workflow ends
        await asyncio.to_thread(ex.workflow_done, "wf", PodGC(), "Succeeded", "u-1")
        assert (NS, "wf-t-wf-1") not in api.pods
    _run(test)


@pytest.mark.parametrize("status, expect", [
    (main_ended(137, "OOMKilled"), {"exit_code": 137, "oom_killed": True, "message": None, "error": None}),
    (main_ended(3), {"exit_code": 3, "oom_killed": False, "message": None, "error": None}),
    ({"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory.",
      "containerStatuses": [{"name": "main", "state": {"terminated": {"exitCode": 137, "reason": "Error"}}}]},
     {"exit_code": 137, "message": "The node was low on resource: memory.", "error": None}),
    ({"phase": "Failed", "reason": "DeadlineExceeded",
      "message": "Pod was active on the node longer than the specified deadline",
      "containerStatuses": [{"name": "main", "state": {"running": {}}}, {"name": "wait", "state": {"running": {}}}]},
     {"exit_code": None, "message": "Pod was active on the node longer than the specified deadline"}),
    ({"phase": "Failed", "initContainerStatuses": [
        {"name": "init", "state": {"terminated": {"exitCode": 1, "reason": "Error", "message": "no space"}}}],
      "containerStatuses": [{"name": "main", "state": {"waiting": {"reason": "PodInitializing"}}}]},
     {"exit_code": None, "error": "init: Error (exit code 1): no space"}),
])
def test_pod_statuses_map_to_what_argo_says(tmp_path, status, expect):
    async def test(api, ex):
        handle = await ex.start(_spec(tmp_path))
        api.set_status(NS, "wf-t-wf-1", status)
        result = await handle.wait()
        for key, value in expect.items():
            assert getattr(result, key) == value, key
    _run(test)


def test_the_engine_fails_the_node_with_the_pods_own_message():
    info = {"template": {"name": "t"}, "deadline": None, "scope": {}}
    ev = A.PodExited("n", 137, pod_message="The node was low on resource: memory.")
    assert outputs.for_pod(info, ev, None)[:2] == ("Failed", "The node was low on resource: memory.")
    assert outputs.for_pod(info, A.PodExited("n", 137, oom_killed=True), None)[:2] == \
        ("Failed", "OOMKilled (exit code 137)")


def test_a_pod_deleted_under_the_step_is_an_error(tmp_path):
    async def test(api, ex):
        handle = await ex.start(_spec(tmp_path))
        api.set_status(NS, "wf-t-wf-1", running("main", "wait"))
        await asyncio.to_thread(api.delete_namespaced_pod, "wf-t-wf-1", NS)
        result = await handle.wait()
        assert result.error == "pod deleted" and result.exit_code is None
    _run(test)


def test_a_pending_pod_reports_why(tmp_path):
    async def test(api, ex):
        said: list[str] = []
        handle = await ex.start(_spec(tmp_path))
        handle.report_pending(said.append)
        api.set_status(NS, "wf-t-wf-1", {"phase": "Pending", "containerStatuses": [
            {"name": "main", "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling"}}}]})
        await _until(lambda: said == ["ImagePullBackOff: Back-off pulling"], "the pending reason")
        _finish_ok(api, "wf-t-wf-1")
        await handle.wait()
        assert said == ["ImagePullBackOff: Back-off pulling", ""]      # then Running
    _run(test)


def test_a_quota_refusal_waits_pending_and_creates_the_pod_when_room_frees(tmp_path):
    async def test(api, ex):
        api.quota_refusals = 2
        said: list[str] = []
        handle = await ex.start(_spec(tmp_path))
        assert handle.identity["created"] is False
        handle.report_pending(said.append)
        assert said and said[0].startswith('pods "wf-t-wf-1" is forbidden: exceeded quota: compute')
        await _until(lambda: (NS, "wf-t-wf-1") in api.pods, "the pod's creation")
        assert api.calls.count("create") == 3 and handle.identity["created"] is True
        _finish_ok(api, "wf-t-wf-1")
        assert (await handle.wait()).exit_code == 0
    _run(test)


def test_a_refusal_other_than_quota_fails_the_start(tmp_path):
    async def test(api, ex):
        api.pods[(NS, "other")] = {"metadata": {"name": "other"}}

        def refuse(namespace, body):
            from kube_fake import _refusal
            raise _refusal(403, 'pods "wf-t-wf-1" is forbidden: maximum cpu usage per Pod is 4, but limit is 8')
        api.create_namespaced_pod = refuse
        with pytest.raises(InfrastructureError, match="maximum cpu usage per Pod is 4"):
            await ex.start(_spec(tmp_path))
    _run(test)


def test_one_watch_serves_every_pod_of_a_namespace(tmp_path):
    async def test(api, ex):
        handles = [await ex.start(_spec(tmp_path, node=f"wf-{i}")) for i in range(6)]
        for i in range(6):
            _finish_ok(api, f"wf-t-wf-{i}", code=i % 2)
        results = [await h.wait() for h in handles]
        assert [r.exit_code for r in results] == [0, 1, 0, 1, 0, 1]
        assert api.most_streams == {NS: 1} and ex.watches.started == 1
        assert "read" not in api.calls
    _run(test)


def test_a_restarted_controller_re_attaches_and_reads_the_ended_pod(tmp_path):
    async def test(api, ex):
        spec = _spec(tmp_path)
        first = await ex.start(spec)
        api.set_status(NS, "wf-t-wf-1", running("main", "wait"))
        ident = dict(first.identity)
        first._task.cancel()                                  # the controller dies
        api.files["wf-t-wf-1"] = {"ctr/main/stdout": b"hi\n", "ctr/main/exitcode": b"0\n", "outputs/0": b"7"}
        api.set_status(NS, "wf-t-wf-1", main_ended(0))       # main ends while nobody follows it
        again = KubernetesExecutor(cluster(api), watch_timeout=1)
        try:
            handle = await again.attach(spec, ident)
            result = await handle.wait()
        finally:
            again.watches.close()
        assert result.exit_code == 0 and result.outputs["/tmp/out"].read_text() == "7"
        assert api.pods[(NS, "wf-t-wf-1")]["status"]["phase"] == "Succeeded"   # the wait container let go
    _run(test)


def test_re_attaching_to_a_vanished_pod_or_one_never_created(tmp_path):
    async def test(api, ex):
        gone = await ex.attach(_spec(tmp_path), {"pod": "wf-t-wf-1", "namespace": NS, "created": True})
        assert (await gone.wait()).error == "pod deleted"
        fresh = await ex.attach(_spec(tmp_path), {"executor": "kubernetes"})   # died before creating it
        assert (NS, "wf-t-wf-1") in api.pods
        _finish_ok(api, "wf-t-wf-1")
        assert (await fresh.wait()).exit_code == 0
    _run(test)


@pytest.mark.parametrize("strategy, code, deleted_at_end, deleted_after_workflow", [
    ("OnPodCompletion", 1, True, True),
    ("OnPodSuccess", 0, True, True),
    ("OnPodSuccess", 1, False, False),
    ("OnWorkflowSuccess", 0, False, True),
    ("OnWorkflowCompletion", 1, False, True),
])
def test_pods_are_deleted_as_podgc_says(tmp_path, strategy, code, deleted_at_end, deleted_after_workflow):
    async def test(api, ex):
        gc = PodGC(strategy)
        handle = await ex.start(_spec(tmp_path, gc=gc))
        _finish_ok(api, "wf-t-wf-1", code=code)
        await handle.wait()
        assert ((NS, "wf-t-wf-1") not in api.pods) is deleted_at_end
        await asyncio.to_thread(ex.workflow_done, "wf", gc, "Succeeded", "u-1")
        assert ((NS, "wf-t-wf-1") not in api.pods) is deleted_after_workflow
    _run(test)


def test_input_artifacts_are_unpacked_while_the_gate_waits(tmp_path):
    async def test(api, ex):
        handle = await ex.start(_spec(tmp_path, inputs=True))
        inits = [c["name"] for c in api.pods[(NS, "wf-t-wf-1")]["spec"]["initContainers"]]
        assert inits == ["init", clusterpod.INPUTS_GATE]
        api.set_status(NS, "wf-t-wf-1", {"phase": "Pending", "initContainerStatuses": [
            {"name": "init", "state": {"terminated": {"exitCode": 0}}},
            {"name": clusterpod.INPUTS_GATE, "state": {"running": {}}}]})
        await _until(lambda: "wf-t-wf-1" in api.inputs, "the input artifacts")
        assert api.inputs["wf-t-wf-1"] == {"0-in": b"data", clusterpod.READY: b""}
        _finish_ok(api, "wf-t-wf-1")
        assert (await handle.wait()).exit_code == 0
    _run(test)


def test_stop_deletes_the_pod(tmp_path):
    async def test(api, ex):
        handle = await ex.start(_spec(tmp_path))
        api.set_status(NS, "wf-t-wf-1", running("main", "wait"))
        await handle.stop(grace=3)
        result = await handle.wait()
        assert result.stopped and result.error is None
        assert api.deletes == [("wf-t-wf-1", 3)]
    _run(test)


def test_sidecars_are_reported_and_ended_with_the_pod(tmp_path):
    async def test(api, ex):
        spec = _spec(tmp_path, sidecars=[{"name": "db", "image": "redis"}])
        handle = await ex.start(spec)
        api.logs[("wf-t-wf-1", "db")] = b"ready\n"
        api.files["wf-t-wf-1"] = {"ctr/main/stdout": b"", "ctr/main/exitcode": b"0"}
        api.set_status(NS, "wf-t-wf-1", main_ended(0, others=("wait", "db")))
        result = await handle.wait()
        assert [(n, r.stopped, r.stdout.read_text()) for n, r in result.containers] == [("db", True, "ready\n")]
        assert api.deletes and api.deletes[-1][0] == "wf-t-wf-1"     # the sidecar outlived main
    _run(test)


def test_no_cluster_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(InfrastructureError, match="no cluster to run on.*no usable kubeconfig"):
        executor_for(None, flag="kubernetes", env={"TIPHYS_EXECUTOR": "kubernetes"})
    assert executor_for.__module__ and os.environ["KUBECONFIG"].endswith("missing")


def test_a_container_set_is_one_pod_and_each_container_is_reported(tmp_path):
    from tiphys.runtime.runner import Runner
    from tiphys.store.sqlite import Store
    sets = {"volumeMounts": [{"name": "work", "mountPath": "/work"}], "retryStrategy": {"retries": 2},
            "containers": [{"name": "a", "image": "alpine", "command": ["sh", "-c", "echo a"]},
                           {"name": "b", "image": "alpine", "command": ["sh", "-c", "exit 3"], "dependencies": ["a"]},
                           {"name": "c", "image": "alpine", "command": ["true"], "dependencies": ["b"]},
                           {"name": "main", "image": "alpine", "command": ["sh", "-c", "echo m"],
                            "dependencies": ["a"]}]}
    wf = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "cs", "namespace": NS},
          "spec": {"entrypoint": "t", "templates": [{"name": "t", "containerSet": sets,
                                                     "volumes": [{"name": "work", "emptyDir": {}}]}]}}
    ended = {"a": 0, "b": 3, "c": 64, "main": 0}     # c: the helper's, as b failed

    async def test(api, ex):
        runner = Runner(wf, store=Store(tmp_path / "db"), home=tmp_path, on_update=None, dry_run=False, executor=ex)
        run = asyncio.ensure_future(runner.main())
        await _until(lambda: api.pods, "the pod")
        assert len(api.pods) == 1                                 # one pod for the whole set
        (_, name), pod = next(iter(api.pods.items()))
        by_name = {c["name"]: c for c in pod["spec"]["containers"]}
        assert list(by_name) == ["wait", "a", "b", "c", "main"]
        env = {n: {e["name"]: e.get("value") for e in c.get("env") or []} for n, c in by_name.items()}
        assert [env[n]["TIPHYS_DEPENDENCIES"] for n in "abc"] == ["", "a", "b"]
        assert env["b"]["TIPHYS_RETRIES"] == "2"
        assert all({"name": "work", "mountPath": "/work"} in by_name[n]["volumeMounts"] for n in ended)
        api.files[name] = {f"ctr/{n}/exitcode": f"{code}\n".encode() for n, code in ended.items()}
        api.set_status(NS, name, {"phase": "Running", "containerStatuses": [
            *({"name": n, "state": {"terminated": {"exitCode": c, "reason": "Completed" if c == 0 else "Error"}}}
              for n, c in ended.items()), {"name": "wait", "state": {"running": {}}}]})
        return await run

    done = _run(test)
    nodes = {n["displayName"]: n for n in done["status"]["nodes"].values()}
    assert done["status"]["phase"] == "Failed"
    assert nodes["cs"]["message"] == "b: Error (exit code 3)"
    assert [nodes[n]["phase"] for n in ("a", "b", "c", "main")] == ["Succeeded", "Failed", "Error", "Succeeded"]
    assert nodes["c"]["message"] == 'c: Error (exit code 64): dependency "b" exited with non-zero code: 3'
