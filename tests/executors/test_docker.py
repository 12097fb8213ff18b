"""DockerExecutor against a real engine: our own `podman system service` on a temp socket
(the `docker_url` fixture of contract.py). The contract shared with the other backends is
in contract.py; these are the container-specific parts and whole workflows through the
runtime."""
from __future__ import annotations

import asyncio
import copy
import json
import os
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from contract import containers, docker_url, execute, Backend, sh, spec  # noqa: F401 (fixture)
from tiphys.executors.base import Mount, StepSpec
from tiphys.executors.docker import DockerExecutor, kernel_oom
from tiphys.executors import podgc
from tiphys.executors.podgc import PodGC

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
EXAMPLES = SHARED / "conformance" / "examples"


@pytest.fixture
def ex(docker_url) -> Backend:
    executor = DockerExecutor(docker_url)
    yield Backend(executor)
    executor.close()


# ------------------------------------------------------------------ pure parts

def _args(s: StepSpec, image_config: dict) -> dict:
    pytest.importorskip("docker")
    return DockerExecutor("unix:///nonexistent").create_args(s, image_config)


def test_entrypoint_and_cmd_follow_kubernetes_rules(tmp_path):
    busybox = {"Cmd": ["sh"]}
    a = _args(spec(tmp_path, command=("echo",)), busybox)
    assert (a["entrypoint"], a["command"]) == (["echo"], [])          # command drops the image's CMD
    a = _args(spec(tmp_path, args=("echo", "x")), busybox)
    assert (a["entrypoint"], a["command"]) == (None, ["echo", "x"])   # args replace CMD only
    a = _args(spec(tmp_path), busybox)
    assert (a["entrypoint"], a["command"]) == (None, None)            # the image's own
    a = _args(spec(tmp_path, command=("python",), script="print(1)"), {"Cmd": ["python3"]})
    assert (a["entrypoint"], a["command"]) == (["python"], ["/argo/staging/script"])
    a = _args(spec(tmp_path, script="echo"), {"Cmd": ["python3"]})
    assert a["command"] == ["python3", "/argo/staging/script"]
    a = _args(spec(tmp_path, script="echo"), {"Entrypoint": ["/argosay"], "Cmd": None})
    assert (a["entrypoint"], a["command"]) == (None, ["/argo/staging/script"])


def test_limits_user_mounts_and_labels(tmp_path):
    s = spec(tmp_path, memory_limit=64 << 20, cpu_limit=0.5, memory_request=32 << 20, cpu_request=0.1,
             run_as_user=1000, run_as_group=100, workflow="default/wf",
             mounts=(Mount("/data", tmp_path / "d"), Mount("/ro", tmp_path / "r", read_only=True), Mount("/mem")))
    a = _args(s, {})
    hc = a["host_config"]
    assert (hc["Memory"], hc["MemorySwap"], hc["MemoryReservation"]) == (64 << 20, 64 << 20, 32 << 20)
    assert (hc["NanoCpus"], hc["CpuShares"]) == (500_000_000, 102)
    assert a["user"] == "1000:100"
    assert sorted(hc["Binds"]) == [f"{tmp_path / 'd'}:/data:rw", f"{tmp_path / 'r'}:/ro:ro"]
    assert [(m["Target"], m["Type"]) for m in hc["Mounts"]] == [("/mem", "tmpfs")]
    assert a["labels"] == {"tiphys.step": s.key, "tiphys.workflow": "default/wf", "tiphys.pid": str(os.getpid()),
                           "tiphys.host": socket.gethostname(),
                           "workflows.argoproj.io/workflow": "default/wf", "tiphys.podgc": podgc.to_label(PodGC()),
                           "tiphys.workdir": str(s.workdir.absolute())}
    labelled = _args(spec(tmp_path, labels=(("team", "ml"), ("tiphys.pid", "forged")),
                          pod_gc=PodGC("OnPodSuccess", 5.0)), {})["labels"]
    assert labelled["team"] == "ml" and labelled["tiphys.pid"] == str(os.getpid())
    assert podgc.from_label(labelled["tiphys.podgc"]) == PodGC("OnPodSuccess", 5.0)
    assert hc["NetworkMode"] == "host" and hc["Init"] is True
    assert {u["Name"] for u in hc["Ulimits"]} == {"nofile", "nproc"}


def test_kernel_oom_ignores_other_containers():
    assert kernel_oom(uuid.uuid4().hex * 2) is False


# ------------------------------------------------------------------ against podman


@pytest.mark.integration
def test_run_as_user_volumes_and_ulimits(tmp_path, ex):
    shared = tmp_path / "host"
    shared.mkdir()
    (shared / "in.txt").write_text("from host\n")
    os.chmod(shared, 0o777)
    s = sh(tmp_path, "id -u; id -g; cat /data/in.txt; echo back > /data/out.txt; echo m > /mem/x && cat /mem/x; "
                     "touch /ro/x 2>/dev/null || echo read-only; ulimit -n",
           run_as_user=1000, run_as_group=1000,
           mounts=(Mount("/data", shared), Mount("/mem"), Mount("/ro", shared, read_only=True)))
    r = execute(ex, s)
    lines = r.stdout.read_text().splitlines()
    assert r.exit_code == 0, r.stderr.read_text()
    assert lines[:5] == ["1000", "1000", "from host", "m", "read-only"]
    assert int(lines[5]) >= 1024
    assert (shared / "out.txt").read_text() == "back\n"


@pytest.mark.integration
def test_missing_image_is_an_error(tmp_path, ex):
    r = execute(ex, spec(tmp_path, "example.com/no/such-image:1"))
    assert r.exit_code is None and "is not available" in r.error


@pytest.mark.integration
def test_logs_stream_while_the_step_runs(tmp_path, ex):
    async def go():
        s = sh(tmp_path, "echo first; echo oops >&2; sleep 2; echo second")
        h = await ex.executor.start(s)
        for _ in range(100):
            if s.workdir.joinpath("stdout").read_text() == "first\n":
                break
            await asyncio.sleep(0.05)
        early = (s.workdir / "stdout").read_text(), (s.workdir / "stderr").read_text()
        return early, await h.wait()

    (out, err), r = asyncio.run(go())
    assert (out, err) == ("first\n", "oops\n")
    assert r.stdout.read_text() == "first\nsecond\n"


@pytest.mark.integration
def _leaky_steps(tmp_path, ex, tag: str, gc: PodGC) -> None:
    """A stopped step, an unknown command, a non-executable, a missing output, an OOM kill."""
    async def go():
        h = await ex.executor.start(sh(tmp_path, "sleep 300", workflow=tag, pod_gc=gc))
        assert len(containers(f"tiphys.workflow={tag}")) == 1
        await h.stop()
        await h.wait()
    asyncio.run(go())
    execute(ex, spec(tmp_path, command=("no-such-command",), workflow=tag, pod_gc=gc))
    execute(ex, spec(tmp_path, command=("/etc/passwd",), workflow=tag, pod_gc=gc))
    execute(ex, sh(tmp_path, "exit 2", output_paths=("/nope",), workflow=tag, pod_gc=gc))
    execute(ex, spec(tmp_path, "python:3.11", command=("python", "-c", "bytearray(200 << 20)"),
                     memory_limit=32 << 20, workflow=tag, pod_gc=gc))


def test_no_container_is_left_behind_at_each_steps_end(tmp_path, ex):
    tag = f"leak-{uuid.uuid4().hex[:8]}"      # only this test's containers (others may run now)
    _leaky_steps(tmp_path, ex, tag, PodGC("OnPodCompletion"))
    ex.executor.flush()       # finished steps' containers are removed in the background
    assert containers(f"tiphys.workflow={tag}") == []


def test_no_container_is_left_behind_at_the_workflows_end(tmp_path, ex):
    tag = f"leak-{uuid.uuid4().hex[:8]}"
    _leaky_steps(tmp_path, ex, tag, PodGC())
    ex.executor.flush()
    assert len(containers(f"tiphys.workflow={tag}")) == 5      # no podGC: kept while the workflow runs
    assert len(ex.executor.workflow_done(tag, PodGC(), "Failed")) == 5
    ex.executor.flush()
    assert containers(f"tiphys.workflow={tag}") == []


def test_the_end_of_a_workflow_leaves_another_run_of_that_name_alone(tmp_path, ex):
    """Two Tiphys homes on one engine may run workflows of the same name at once: the end
    of one removes its own containers (by uid), never the other's running step."""
    tag = f"same-{uuid.uuid4().hex[:8]}"
    mine, theirs = str(uuid.uuid4()), str(uuid.uuid4())

    async def go():
        other = await ex.executor.start(sh(tmp_path, "sleep 300", workflow=tag, workflow_uid=theirs))
        try:
            done = await ex.executor.start(sh(tmp_path, "exit 0", workflow=tag, workflow_uid=mine))
            assert (await done.wait()).exit_code == 0
            assert len(containers(f"tiphys.workflow={tag}")) == 2
            removed = await asyncio.to_thread(ex.executor.workflow_done, tag, PodGC(), "Succeeded", mine)
            await asyncio.to_thread(ex.executor.flush)
            assert len(removed) == 1
            assert containers(f"tiphys.workflow={tag}") == containers(f"tiphys.workflow-uid={theirs}")
            assert len(containers(f"tiphys.workflow-uid={theirs}")) == 1
            await asyncio.sleep(0.5)
            running = subprocess.run(["podman", "ps", "-q", "--filter", f"label=tiphys.workflow-uid={theirs}",
                                      "--filter", "status=running"], capture_output=True, text=True).stdout
            assert running.strip(), "the other run's step was stopped by this run's end"
        finally:
            await other.stop()
        return await other.wait()
    result = asyncio.run(go())
    assert result.exit_code != 0                 # ended by its stop, not run to 0
    ex.executor.workflow_done(tag, PodGC(), "Failed", theirs)
    ex.executor.flush()
    assert containers(f"tiphys.workflow={tag}") == []


# ------------------------------------------------------------------ whole workflows

def _workflow(path: Path) -> dict:
    from tiphys.spec import load
    if not path.exists():
        pytest.skip(f"../shared is absent: {path} not found")
    wf = copy.deepcopy(load.load_file(path)[0].raw)
    meta = wf["metadata"]
    meta.setdefault("name", (meta.get("generateName") or "wf-") + uuid.uuid4().hex[:5])
    return wf


def _run(tmp_path: Path, wf: dict, executor: DockerExecutor) -> dict:
    from tiphys.runtime import runner
    from tiphys.store.sqlite import Store
    return runner.run(wf, store=Store(tmp_path / "tiphys.db"), home=tmp_path, executor=executor)


def _pods(wf: dict) -> dict[str, dict]:
    return {n["displayName"]: n for n in wf["status"]["nodes"].values() if n["type"] == "Pod"}


@pytest.mark.integration
@pytest.mark.parametrize("example, phase, check", [
    ("hello-world.yaml", "Succeeded", None),
    ("output-parameter.yaml", "Succeeded", "hello world"),
    ("artifact-passing.yaml", "Succeeded", None),
    ("scripts-python.yaml", "Succeeded", None),
    ("exit-code-output-variable.yaml", "Succeeded", None),
])
def test_conformance_examples_through_the_runtime(tmp_path, docker_url, example, phase, check):
    executor = DockerExecutor(docker_url)
    wf = _run(tmp_path, _workflow(EXAMPLES / example), executor)
    executor.close()
    assert wf["status"]["phase"] == phase, json.dumps(wf["status"], indent=1)[:3000]
    if check:
        assert check in json.dumps(wf["status"])
    assert containers(f"tiphys.workflow={wf['metadata']['name']}") == []


@pytest.mark.integration
def test_a_step_over_its_memory_limit_is_oomkilled(tmp_path, docker_url):
    wf = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": f"oom-{uuid.uuid4().hex[:5]}"},
          "spec": {"entrypoint": "hog", "templates": [{"name": "hog", "script": {
              "image": "python:3.11", "command": ["python"],
              "source": "x = bytearray(300 * 1024 * 1024)\nprint('allocated')\n",
              "resources": {"limits": {"memory": "64Mi"}}}}]}}
    executor = DockerExecutor(docker_url)
    wf = _run(tmp_path, wf, executor)
    executor.close()
    pod = _pods(wf)[wf["metadata"]["name"]]
    assert wf["status"]["phase"] == "Failed"
    assert (pod["phase"], pod["message"]) == ("Failed", "OOMKilled (exit code 137)")
    assert pod["outputs"]["exitCode"] == "137"


@pytest.mark.integration
def test_leftover_containers_are_removed_at_start_up(tmp_path, docker_url):
    """Containers a killed Tiphys process left (exited, created and never started, or still
    running: killed) go when a DockerExecutor starts; those of a live process, those our own
    process runs and those of another machine stay."""
    import docker
    from tiphys.executors import podman
    api = docker.APIClient(base_url=docker_url, version="1.41")
    hc = api.create_host_config(network_mode="host", ulimits=[docker.types.Ulimit(name=k, soft=v, hard=v)
                                                              for k, v in podman.ulimits().items()])
    tag = f"left-{uuid.uuid4().hex[:8]}"

    def make(owner: int, start: bool, cmd: str = "true", gc: PodGC | None = None, host: str | None = None) -> str:
        labels = {"tiphys.step": f"{tag}-{owner}", "tiphys.workflow": tag, "tiphys.pid": str(owner)}
        if host is not None:
            labels["tiphys.host"] = host
        if gc is not None:
            labels["tiphys.podgc"] = podgc.to_label(gc)
        cid = api.create_container("busybox", ["sh", "-c", cmd], host_config=hc, labels=labels)["Id"]
        if start:
            api.start(cid)
            if cmd != "sleep 300":
                api.wait(cid)
        return cid

    dead = 4194305                          # above pid_max: no such process
    from tiphys.executors.docker import HOST
    gone = [make(dead, True), make(dead, False), make(os.getpid(), True),   # ours, but its workflow is not running
            make(dead, True, gc=PodGC()), make(dead, True, "exit 1", PodGC("OnPodCompletion")),
            make(dead, True, gc=PodGC("OnPodSuccess")), make(dead, False, gc=PodGC("OnWorkflowSuccess")),
            make(dead, True, "sleep 300", host=HOST)]                       # still running, its process gone
    kept = [make(os.getppid(), True), make(os.getpid(), True, "sleep 300"),  # a live owner; our own, running
            make(dead, True, "sleep 300", host="another-machine"),
            make(dead, True, "exit 1", PodGC("OnPodSuccess")), make(dead, True, gc=PodGC("OnWorkflowSuccess"))]
    try:
        executor = DockerExecutor(docker_url)
        r = execute(Backend(executor), sh(tmp_path, "echo fine", workflow=tag,     # the first step sweeps
                                          pod_gc=PodGC("OnPodCompletion")))
        assert r.exit_code == 0
        executor.close()
        left = {line.split()[0] for line in containers(f"tiphys.workflow={tag}")}
        assert left == {c[:12] for c in kept}
        assert not any(c[:12] in left for c in gone)
    finally:
        for cid in gone + kept:
            try:
                api.remove_container(cid, force=True)
            except docker.errors.NotFound:
                pass


def test_processes_starting_at_once_start_one_podman_service(tmp_path):
    """Tiphys processes that find no service start one between them (a lock file), and a
    service that answers is never replaced (its socket taken from its clients)."""
    from concurrent.futures import ThreadPoolExecutor
    import shutil
    import signal as _signal
    from tiphys.executors import podman
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed")
    path = Path(f"/run/tiphys-test-{uuid.uuid4().hex[:6]}/docker.sock")
    def ours() -> list[int]:
        out = subprocess.run(["pgrep", "-f", f"podman system service .*unix://{path}"],
                             capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]
    try:
        with ThreadPoolExecutor(4) as pool:
            urls = list(pool.map(lambda _: podman.ensure_service(path), range(4)))
        assert set(urls) == {f"unix://{path}"}
        first = ours()
        assert len(first) == 1
        podman.ensure_service(path)
        assert ours() == first
    finally:
        for pid in ours():
            os.kill(pid, _signal.SIGTERM)
        shutil.rmtree(path.parent, ignore_errors=True)


def test_an_engine_hiccup_at_start_is_tried_again(tmp_path, ex, monkeypatch):
    """podman's put_archive may lose its untar helper under load ("broken pipe", HTTP 500):
    the step is started again in a new container, as the kubelet retries; a refusal (4xx)
    is not tried again."""
    import docker

    class Response:
        def __init__(self, status):
            self.status_code, self.reason, self.url = status, "", ""

    ctl = ex.executor._clients()[0]
    real, calls = ctl.put_archive, []
    def flaky(cid, path, data, status=500):
        calls.append(cid)
        if len(calls) == 1:
            raise docker.errors.APIError(f"{status} error", response=Response(status),
                                         explanation="passing bulk input to subprocess: write |1: broken pipe")
        return real(cid, path, data)
    monkeypatch.setattr(ctl, "put_archive", flaky)
    r = execute(ex, spec(tmp_path, command=("sh",), script="echo again"))
    assert (r.exit_code, r.error, r.stdout.read_text()) == (0, None, "again\n")
    assert len(calls) == 2 and calls[0] != calls[1]
    assert calls[0] not in " ".join(containers())       # the failed one was removed
    calls.clear()
    monkeypatch.setattr(ctl, "put_archive", lambda cid, path, data: flaky(cid, path, data, 400))
    r = execute(ex, spec(tmp_path, command=("sh",), script="echo once"))
    assert r.exit_code is None and "broken pipe" in r.error and len(calls) == 1
