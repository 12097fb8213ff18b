"""The executor contract: what every backend does with a StepSpec, checked on real steps.

Each test runs against every backend in BACKENDS (collected by test_contract.py). To add a
backend, add one line to BACKENDS: a name and a function `(request) -> Backend` that
returns the executor and what it can do (or calls pytest.skip with the reason it cannot
run here). The docker backend uses its own `podman system service` on a temporary socket
(the `docker_url` fixture, also used by test_docker.py).
"""
from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

from tiphys.executors.base import InputFile, StepResult, StepSpec

REPO = Path(__file__).resolve().parents[2]
MEMORY = "memory"          # capability: memory limits with OOM detection


@dataclass
class Backend:
    executor: Any
    caps: set[str] = field(default_factory=set)


# ------------------------------------------------------------------ the docker backend's engine

def podman_or_skip() -> None:
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (scripts/setup.d/30-podman.sh installs it)")


def ensure_test_images() -> None:
    """The offline test images, built and loaded by scripts/images/build.sh (quick when done)."""
    names = ("busybox", "python:3.11", "argoproj/argosay:v2")
    if all(subprocess.run(["podman", "image", "exists", n]).returncode == 0 for n in names):
        return
    subprocess.run(["bash", str(REPO / "scripts" / "images" / "build.sh")], check=True)


@pytest.fixture(scope="session")
def docker_url(tmp_path_factory):
    """A Docker-API URL served by a `podman system service` of our own, on a temp socket."""
    podman_or_skip()
    from tiphys.executors import podman
    ensure_test_images()
    d = tmp_path_factory.mktemp("podman")
    proc = podman.start_service(d / "docker.sock", idle=0)
    yield f"unix://{d / 'docker.sock'}"
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def containers(label: str = "tiphys.step") -> list[str]:
    """Every container (any state) carrying `label`, as `podman ps -a` lists them."""
    out = subprocess.run(["podman", "ps", "-a", "--filter", f"label={label}", "--format", "{{.ID}} {{.Labels}}"],
                         capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line.strip()]


# ------------------------------------------------------------------ backends

def _host(request) -> Backend:
    from tiphys.executors.local import LocalExecutor, _Cgroups
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed: the host executor gives steps no private filesystem")
    caps = set() if _Cgroups().kind == "rlimit" else {MEMORY}
    return Backend(LocalExecutor(), caps)


def _docker(request) -> Backend:
    from tiphys.executors.docker import DockerExecutor
    return Backend(DockerExecutor(request.getfixturevalue("docker_url")), {MEMORY})


def _sandbox(request) -> Backend:
    from tiphys.executors.cgroups import _Cgroups
    from tiphys.executors.sandbox import SandboxExecutor
    from tiphys.images import store
    if shutil.which("bwrap") is None or os.geteuid() != 0:
        pytest.skip("the sandbox backend needs root and bubblewrap")
    missing = [n for n in ("busybox", "python:3.11", "argoproj/argosay:v2") if store.find(n) is None]
    if missing:
        pytest.skip(f"test images {missing} are not in the image store (scripts/setup.d/36-registry.sh "
                    "imports the ones 35-test-images.sh builds)")
    return Backend(SandboxExecutor(), set() if _Cgroups().kind == "rlimit" else {MEMORY})


def _pod(request) -> Backend:
    from tiphys.executors.pod import PodExecutor
    podman_or_skip()
    ensure_test_images()
    executor = PodExecutor()
    request.addfinalizer(executor.close)
    return Backend(executor, {MEMORY})


BACKENDS: dict[str, Callable[[Any], Backend]] = {
    "host": _host,
    "sandbox": _sandbox,
    "docker": _docker,
    "pod": _pod,
}


@pytest.fixture(params=list(BACKENDS))
def backend(request) -> Backend:
    return BACKENDS[request.param](request)


# ------------------------------------------------------------------ helpers

def spec(tmp_path: Path, image: str = "busybox", **kw) -> StepSpec:
    key = f"c-{uuid.uuid4().hex[:8]}"
    return StepSpec(key=key, image=image, workdir=tmp_path / key, **kw)


def sh(tmp_path: Path, script: str, image: str = "busybox", **kw) -> StepSpec:
    return spec(tmp_path, image, command=("sh", "-c"), args=(script,), **kw)


def execute(backend: Backend, s: StepSpec) -> StepResult:
    async def go():
        handle = await backend.executor.start(s)
        return await handle.wait()
    return asyncio.run(go())


# ------------------------------------------------------------------ the contract

pytestmark = pytest.mark.integration


def test_stdout_stderr_exit_code(tmp_path, backend):
    r = execute(backend, sh(tmp_path, "echo out; echo err >&2; exit 3"))
    assert (r.exit_code, r.error, r.stopped, r.oom_killed) == (3, None, False, False)
    assert r.stdout.read_text() == "out\n"
    assert r.stderr.read_text() == "err\n"


def test_signal_is_128_plus_n(tmp_path, backend):
    r = execute(backend, sh(tmp_path, "kill -9 $$"))
    assert (r.exit_code, r.oom_killed) == (137, False)


def test_command_not_found_is_127(tmp_path, backend):
    r = execute(backend, spec(tmp_path, command=("no-such-command-xyz",)))
    assert (r.exit_code, r.error) == (127, None)
    assert "exec: no-such-command-xyz: not found" in r.stderr.read_text()


def test_image_default_runs_args(tmp_path, backend):
    r = execute(backend, spec(tmp_path, args=("echo", "from", "args")))
    assert (r.exit_code, r.stdout.read_text()) == (0, "from args\n")
    r = execute(backend, spec(tmp_path, "argoproj/argosay:v2", args=("echo", "hello argo")))
    assert (r.exit_code, r.stdout.read_text()) == (0, "hello argo\n")
    r = execute(backend, spec(tmp_path, "argoproj/argosay:v2", args=("exit", "4")))
    assert r.exit_code == 4


def test_env_and_working_dir(tmp_path, backend):
    r = execute(backend, sh(tmp_path, 'echo "$FOO|$BAR|$(pwd)"', env=(("FOO", "1"), ("BAR", "a b")),
                            working_dir="/work/dir"))
    assert (r.exit_code, r.stdout.read_text()) == (0, "1|a b|/work/dir\n")


def test_scripts_get_their_path_appended(tmp_path, backend):
    r = execute(backend, spec(tmp_path, "python:3.11", command=("python",),
                              script="import sys\nprint('py', sys.argv[0])"))
    assert (r.exit_code, r.stdout.read_text()) == (0, "py /argo/staging/script\n")
    r = execute(backend, spec(tmp_path, command=("sh",), script='echo "sh $0"'))
    assert (r.exit_code, r.stdout.read_text()) == (0, "sh /argo/staging/script\n")


def test_inputs_and_outputs(tmp_path, backend):
    (tmp_path / "in.txt").write_text("file input")
    (tmp_path / "folder" / "sub").mkdir(parents=True)
    (tmp_path / "folder" / "sub" / "a").write_text("A")
    s = sh(tmp_path, "cat /in/f.txt rel.txt /in/folder/sub/a; mkdir -p /tmp/out/d; echo one > /tmp/out/d/1; "
                     "printf two > /tmp/two.txt; printf rel > here.txt",
           working_dir="/w",
           inputs=(InputFile(tmp_path / "in.txt", "/in/f.txt"), InputFile(tmp_path / "in.txt", "rel.txt"),
                   InputFile(tmp_path / "folder", "/in/folder")),
           output_paths=("/tmp/two.txt", "/tmp/out", "here.txt", "/tmp/missing"))
    r = execute(backend, s)
    assert (r.exit_code, r.stdout.read_text()) == (0, "file inputfile inputA")
    assert r.outputs["/tmp/two.txt"].read_text() == "two"
    assert (r.outputs["/tmp/out"] / "d" / "1").read_text() == "one\n"
    assert r.outputs["here.txt"].read_text() == "rel"
    assert r.outputs["/tmp/missing"] is None


def test_missing_input_is_an_error(tmp_path, backend):
    r = execute(backend, sh(tmp_path, "true", inputs=(InputFile(tmp_path / "nope", "/in/x"),)))
    assert r.exit_code is None and "does not exist" in r.error


def test_steps_do_not_see_each_other(tmp_path, backend):
    first = execute(backend, sh(tmp_path, "echo secret > /tmp/shared.txt"))
    second = execute(backend, sh(tmp_path, "cat /tmp/shared.txt 2>/dev/null || echo absent"))
    assert first.exit_code == 0 and second.stdout.read_text() == "absent\n"


def test_stop_kills_quickly(tmp_path, backend):
    async def go():
        h = await backend.executor.start(sh(tmp_path, "echo started; sleep 300 & sleep 300"))
        await asyncio.sleep(0.5)
        t = time.monotonic()
        await h.stop()
        r = await h.wait()
        return r, time.monotonic() - t

    r, took = asyncio.run(go())
    assert r.stopped and r.exit_code == 137 and r.error is None
    assert r.stdout.read_text() == "started\n"
    assert took < 10          # generous: a failure here means the kill did not happen


def test_stop_with_grace_sends_sigterm(tmp_path, backend):
    async def go():
        h = await backend.executor.start(sh(tmp_path, "trap 'echo term; exit 5' TERM; echo ready; "
                                                      "while :; do sleep 0.05; done"))
        await asyncio.sleep(1.0)
        await h.stop(grace=10)
        return await h.wait()

    r = asyncio.run(go())
    assert (r.stopped, r.exit_code) == (True, 5)
    assert r.stdout.read_text() == "ready\nterm\n"


def test_memory_limit_oom_killed(tmp_path, backend):
    if MEMORY not in backend.caps:
        pytest.skip("this backend cannot limit memory here (no writable cgroups)")
    r = execute(backend, spec(tmp_path, "python:3.11", command=("python", "-c"),
                              args=("x = bytearray(300 * 1024 * 1024)\nprint('survived')",),
                              memory_limit=64 * 1024 * 1024))
    assert (r.oom_killed, r.exit_code, r.error) == (True, 137, None)
    assert "survived" not in r.stdout.read_text()


def test_limits_that_fit_do_not_oom(tmp_path, backend):
    r = execute(backend, spec(tmp_path, "python:3.11", command=("python", "-c"),
                              args=("x = bytearray(10 * 1024 * 1024); print('ok')",),
                              memory_limit=256 * 1024 * 1024, cpu_limit=0.5))
    assert (r.oom_killed, r.exit_code, r.stdout.read_text()) == (False, 0, "ok\n")


def test_parallel_steps(tmp_path, backend):
    async def go():
        handles = [await backend.executor.start(sh(tmp_path, f"echo {i} > /tmp/n; sleep 0.2; cat /tmp/n",
                                                   output_paths=("/tmp/n",)))
                   for i in range(4)]
        return await asyncio.gather(*(h.wait() for h in handles))

    results = asyncio.run(go())
    assert [r.stdout.read_text() for r in results] == [f"{i}\n" for i in range(4)]
    assert [r.outputs["/tmp/n"].read_text() for r in results] == [f"{i}\n" for i in range(4)]
    assert os.path.commonpath([str(r.stdout) for r in results]) == str(tmp_path)


def test_volumes_bind_host_folders_files_and_tmpfs(tmp_path, backend):
    from tiphys.executors.base import Mount
    claim, conf = tmp_path / "claim", tmp_path / "conf"
    claim.mkdir()
    conf.mkdir()
    (conf / "app.conf").write_text("setting=1\n")
    mounts = (Mount("/mnt/vol", claim), Mount("/mnt/mem"), Mount("/conf", conf, read_only=True),
              Mount("/etc-app/app.conf", conf / "app.conf", read_only=True))
    first = execute(backend, sh(tmp_path, "echo shared > /mnt/vol/x; mkdir /mnt/vol/d; echo in-d > /mnt/vol/d/f; "
                                          "echo m > /mnt/mem/m && cat /mnt/mem/m; cat /etc-app/app.conf; "
                                          "touch /conf/new 2>/dev/null || echo read-only",
                                mounts=mounts, working_dir="/mnt/vol",
                                output_paths=("/mnt/vol/x", "d", "/mnt/mem/m", "/mnt/vol/none")))
    assert (first.exit_code, first.error) == (0, None), first.stderr.read_text()
    assert first.stdout.read_text() == "m\nsetting=1\nread-only\n"
    assert (claim / "x").read_text() == "shared\n" and not (conf / "new").exists()
    assert first.outputs["/mnt/vol/x"].read_text() == "shared\n"          # outputs are read from the volume
    assert (first.outputs["d"] / "f").read_text() == "in-d\n"
    assert first.outputs["/mnt/vol/none"] is None
    second = execute(backend, sh(tmp_path, "cat /mnt/vol/x; ls -A /mnt/mem", mounts=mounts))
    assert (second.exit_code, second.stdout.read_text()) == (0, "shared\n")   # the tmpfs is fresh


def test_missing_volume_source_is_an_error(tmp_path, backend):
    from tiphys.executors.base import Mount
    r = execute(backend, sh(tmp_path, "true", mounts=(Mount("/data", tmp_path / "absent"),)))
    assert r.exit_code is None and r.error


def test_attempts_rerun_the_command_in_the_same_container(tmp_path, backend):
    """containerSet retryStrategy: the second run finds the file the first one left in its
    working directory; runs stop at the first success, or after `attempts` with the last code."""
    script = "echo run; if test -f marker; then exit 0; fi; touch marker; exit 1"
    r = execute(backend, sh(tmp_path, script, attempts=3, working_dir="/work"))
    assert (r.exit_code, r.error) == (0, None), r.stderr.read_text()
    assert r.stdout.read_text() == "run\nrun\n"
    failing = execute(backend, sh(tmp_path, "echo again; exit 5", attempts=2, attempt_delay=0.1))
    assert (failing.exit_code, failing.stdout.read_text()) == (5, "again\nagain\n")
    missing = execute(backend, spec(tmp_path, command=("no-such-program",), attempts=3))
    assert missing.exit_code == 127 and "no-such-program: not found" in missing.stderr.read_text()
