"""Steps outlive the Tiphys process that started them (executors/detached.py): a later
process re-attaches by the recorded identity, waits for a step still running, collects one
that ended meanwhile, and finds lost only one that vanished without an exit status."""
from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from tiphys.executors import detached
from tiphys.executors.base import StepSpec
from tiphys.executors.handles import LOST
from tiphys.executors.local import LocalExecutor, in_memory_root

from test_local_executor import MODES, needs_bwrap

pytestmark = pytest.mark.integration


def spec(tmp_path: Path, script: str) -> StepSpec:
    return StepSpec(key="step", image="alpine:3", command=("sh", "-c", script), workdir=tmp_path / "w",
                    output_paths=("/tmp/out",))


def start_and_forget(sandbox: bool, s: StepSpec) -> dict:
    """Start the step in one event loop and drop it, as a Tiphys process killed meanwhile would."""
    async def go():
        handle = await LocalExecutor(sandbox=sandbox).start(s)
        return handle.identity
    return asyncio.run(go())


def attach(sandbox: bool, s: StepSpec, ident: dict):
    async def go():
        handle = await LocalExecutor(sandbox=sandbox).attach(s, json.loads(json.dumps(ident)))
        return await handle.wait()
    return asyncio.run(go())


@pytest.mark.parametrize("sandbox", MODES)
def test_reattach_waits_for_a_running_step(tmp_path, sandbox):
    s = spec(tmp_path, "sleep 1; echo done > /tmp/out; echo out; exit 3")
    ident = start_and_forget(sandbox, s)
    assert detached.alive(ident)
    began = time.monotonic()
    r = attach(sandbox, s, ident)
    assert time.monotonic() - began > 0.3          # it waited for the step, which ran on
    assert (r.exit_code, r.error) == (3, None)
    assert r.stdout.read_text() == "out\n"
    assert r.outputs["/tmp/out"] is not None and r.outputs["/tmp/out"].read_text() == "done\n"


@pytest.mark.parametrize("sandbox", MODES)
def test_reattach_collects_a_step_that_ended_meanwhile(tmp_path, sandbox):
    s = spec(tmp_path, "echo done > /tmp/out; echo bye >&2; exit 4")
    ident = start_and_forget(sandbox, s)
    time.sleep(0.5)
    assert not detached.alive(ident)
    r = attach(sandbox, s, ident)
    assert (r.exit_code, r.error) == (4, None)
    assert "bye" in r.stderr.read_text()
    assert r.outputs["/tmp/out"].read_text() == "done\n"


@pytest.mark.parametrize("sandbox", MODES)
def test_a_step_that_vanished_without_status_is_lost(tmp_path, sandbox):
    s = spec(tmp_path, "sleep 0.2")
    ident = start_and_forget(sandbox, s)
    time.sleep(0.6)
    (s.workdir / detached.STATUS).unlink()         # as after a reboot: no process, no status
    r = attach(sandbox, s, {**ident, "boot": "another-boot"})
    assert (r.exit_code, r.error) == (None, LOST)


def test_identity_tells_a_reused_pid_apart():
    ident = detached.identity(1)
    assert detached.alive(ident)
    assert not detached.alive({**ident, "start": (ident["start"] or 0) + 1})


@pytest.mark.parametrize("sandbox", MODES)
def test_identity_left_before_the_spawn_finds_the_process(tmp_path, sandbox):
    """Tiphys died between spawning the step and journaling its pid: step.json (written just
    before the spawn) and the process working in the step's folder lead to it."""
    s = spec(tmp_path, "sleep 1; exit 5")
    ident = start_and_forget(sandbox, s)
    left = json.loads((s.workdir / detached.IDENTITY).read_text())
    assert left["pid"] is None
    found = detached.load_identity(s.workdir)
    assert found["pid"] == ident["pid"]
    assert attach(sandbox, s, found).exit_code == 5


@needs_bwrap
def test_a_reattached_in_memory_root_step_is_stopped_and_collected(tmp_path):
    """A step with a tmpfs as `/` (its identity records no root folder) re-attached by a later
    Tiphys process: terminating it ends it at once; one that ended meanwhile is collected."""
    running = StepSpec(key="step", image="alpine:3", command=("sleep", "60"), workdir=tmp_path / "a")
    assert in_memory_root(running)
    ident = start_and_forget(True, running)
    assert json.loads(json.dumps(ident))["run"]["root"] is None and detached.alive(ident)
    time.sleep(0.3)       # running, as when a restarted controller is asked to terminate it

    async def stop():
        handle = await LocalExecutor(sandbox=True).attach(running, json.loads(json.dumps(ident)))
        began = time.monotonic()
        await handle.stop(grace=5.0)
        return await handle.wait(), time.monotonic() - began
    r, took = asyncio.run(stop())
    assert took < 3 and r.stopped and r.exit_code == 143 and not detached.alive(ident)

    ended = StepSpec(key="step", image="alpine:3", command=("sh", "-c", "echo hi; exit 6"), workdir=tmp_path / "b")
    ident = start_and_forget(True, ended)
    time.sleep(0.5)
    r = attach(True, ended, ident)
    assert (r.exit_code, r.error, r.stdout.read_text()) == (6, None, "hi\n")

