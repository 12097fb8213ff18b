"""The docker executor re-attaches to a step's container after the Tiphys process that started
it died (kill -9): by the container id the journal recorded, or by its labels (workflow uid +
node id) when the process died before journaling it. A container still running is waited
for, one that exited meanwhile is collected (exit code, logs, outputs), and the start-up sweep
of leftovers leaves both alone while their step folder (kept until the step's end is
journaled) is there."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from contract import containers, docker_url, sh  # noqa: F401 (fixture)
from tiphys.executors.base import StepSpec
from tiphys.executors.docker import DockerExecutor

pytestmark = pytest.mark.integration

STARTER = """
import asyncio, json, sys, time
from pathlib import Path
from tiphys.executors.base import StepSpec
from tiphys.executors.docker import DockerExecutor
url, key, workdir, uid = sys.argv[1:5]
spec = StepSpec(key=key, image="busybox", workdir=Path(workdir), command=("sh", "-c"),
                args=("echo started; sleep 2; echo value > /tmp/out; echo finished",),
                output_paths=("/tmp/out",), workflow="attach-wf", workflow_uid=uid)
async def go():
    handle = await DockerExecutor(url).start(spec)
    print(json.dumps(handle.identity), flush=True)
    await asyncio.sleep(300)
asyncio.run(go())
"""


def _started_then_killed(docker_url: str, tmp_path: Path) -> tuple[StepSpec, dict]:
    """A Tiphys-like process starts the step's container, reports its identity, and is killed."""
    key, uid = f"att-{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    workdir = tmp_path / key
    proc = subprocess.Popen([sys.executable, "-c", STARTER, docker_url, key, str(workdir), uid],
                            stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    try:
        ident = json.loads(proc.stdout.readline())
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    spec = StepSpec(key=key, image="busybox", workdir=workdir, command=("sh", "-c"), args=("unused",),
                    output_paths=("/tmp/out",), workflow="attach-wf", workflow_uid=uid)
    return spec, ident


def _attach(docker_url: str, spec: StepSpec, ident: dict):
    async def go():
        executor = DockerExecutor(docker_url)
        try:
            handle = await executor.attach(spec, ident)
            return await handle.wait()
        finally:
            executor.close()
    return asyncio.run(go())


@pytest.mark.parametrize("how", ["running", "exited-meanwhile", "by-labels"])
def test_reattach_after_kill(tmp_path, docker_url, how):
    spec, ident = _started_then_killed(docker_url, tmp_path)
    assert ident.get("container")
    if how == "exited-meanwhile":
        time.sleep(3)      # the step ended with no Tiphys process around
    if how == "by-labels":
        ident = {}         # the process died before the journal got the container's id
    began = time.monotonic()
    r = _attach(docker_url, spec, ident)
    assert (r.exit_code, r.error) == (0, None)
    assert r.stdout.read_text() == "started\nfinished\n"
    assert r.outputs["/tmp/out"] is not None and r.outputs["/tmp/out"].read_text() == "value\n"
    if how == "running":
        assert time.monotonic() - began > 0.5, "it should have waited for the running container"


def test_a_gone_container_is_a_lost_step(tmp_path, docker_url):
    spec, ident = _started_then_killed(docker_url, tmp_path)
    subprocess.run(["podman", "rm", "-f", ident["container"]], capture_output=True, check=True)
    r = _attach(docker_url, spec, ident)
    assert r.exit_code is None and "gone" in (r.error or "")


def test_sweep_keeps_containers_a_journal_will_collect(tmp_path, docker_url):
    """A new executor's sweep removes leftovers of dead processes, but not the containers whose
    step folder is still there (running or exited); one whose folder is gone is removed."""
    spec, ident = _started_then_killed(docker_url, tmp_path)
    orphan, orphan_ident = _started_then_killed(docker_url, tmp_path)
    import shutil
    shutil.rmtree(orphan.workdir)                     # its step's end was journaled: nobody needs it
    from tiphys.executors import reaper
    executor = DockerExecutor(docker_url)
    try:
        ctl, _ = executor._clients()                  # connecting sweeps
        assert not any(line.startswith(orphan_ident["container"][:12]) for line in containers())
        assert any(line.startswith(ident["container"][:12]) for line in containers())
        assert reaper.sweep(ctl) == []
    finally:
        executor.close()
    r = _attach(docker_url, spec, ident)
    assert r.exit_code == 0
