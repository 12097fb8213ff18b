"""The journal: replaying it rebuilds the engine's exact state; a runner resumed from a
journal cut short (a crash) finishes the workflow without running finished steps again."""
import copy
import json

import pytest

from tiphys.engine import actions as A
from tiphys.executors.local import LocalExecutor
from tiphys.runtime import journal
from tiphys.runtime.runner import LOST, Runner
from tiphys.store.sqlite import Store
from tiphys.engine.core import Engine

pytestmark = pytest.mark.integration

WF = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
      "metadata": {"name": "jr", "namespace": "default"},
      "spec": {"entrypoint": "main", "templates": [
          {"name": "main", "steps": [
              [{"name": "one", "template": "say", "arguments": {"parameters": [{"name": "m", "value": "1"}]}}],
              [{"name": "two", "template": "say", "arguments": {"parameters": [{"name": "m", "value": "2"}]}},
               {"name": "flaky", "template": "flaky"}],
              [{"name": "three", "template": "say",
                "arguments": {"parameters": [{"name": "m", "value": "{{steps.two.outputs.result}}"}]}}]]},
          {"name": "say", "inputs": {"parameters": [{"name": "m"}]},
           "container": {"image": "busybox", "command": ["echo", "step {{inputs.parameters.m}}"]}},
          {"name": "flaky", "retryStrategy": {"limit": 2, "retryPolicy": "Always"},
           "container": {"image": "busybox", "command": ["sh", "-c", "echo flaky"]}}]}}


class Recording:
    """The real local executor, remembering which steps it started."""
    name = "recording"

    def __init__(self):
        self.inner, self.started = LocalExecutor(), []

    async def start(self, spec):
        self.started.append(spec.key)
        return await self.inner.start(spec)


def run_runner(store, home, wf, *, resume=False):
    import asyncio
    ex = Recording()
    runner = Runner(wf, store=store, home=home, on_update=None, dry_run=False, executor=ex, journal=True, resume=resume)
    return asyncio.run(runner.main()), ex


def make(wf):
    def build(t0, start):
        eng = Engine(copy.deepcopy(wf), now=t0, preset=start.get("preset"))
        eng.suspended = bool(start.get("suspend"))
        return eng
    return build


def test_replay_rebuilds_the_final_status_exactly(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    final, _ = run_runner(store, tmp_path, copy.deepcopy(WF))
    assert final["status"]["phase"] == "Succeeded"
    entries = store.journal("default", "jr")
    state = journal.replay(entries, make(WF))
    assert state.engine.finished and not state.to_start and not state.lost
    assert json.dumps(state.engine.status, sort_keys=True) == json.dumps(final["status"], sort_keys=True)


def test_resume_after_a_crash_runs_only_unfinished_steps(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    final, first = run_runner(store, tmp_path, copy.deepcopy(WF))
    entries = store.journal("default", "jr")
    # cut the journal just after step "two" and "flaky" were started (their exits never written)
    parsed = [json.loads(e) for e in entries]
    nodes = final["status"]["nodes"]
    by_name = {n["displayName"]: nid for nid, n in nodes.items()}
    flaky0 = by_name["flaky(0)"]
    cut = max(i for i, e in enumerate(parsed) if e.get("s") in (by_name["two"], flaky0)) + 1
    store.clear_journal("default", "jr")
    store.append_journal("default", "jr", entries[:cut])
    resumed, second = run_runner(store, tmp_path, copy.deepcopy(WF), resume=True)
    status = resumed["status"]
    # "one" had finished: it is not run again; "two" and flaky(0) were running: their processes
    # are gone, so they end in Error; flaky is retried (retryPolicy Always), "two" is not, so the
    # workflow fails at that step group and "three" never runs
    rnodes = {n["displayName"]: n for n in status["nodes"].values()}
    assert rnodes["one"] == nodes[by_name["one"]]
    assert (rnodes["two"]["phase"], rnodes["two"]["message"]) == ("Error", LOST)
    assert (rnodes["flaky(0)"]["phase"], rnodes["flaky(0)"]["message"]) == ("Error", LOST)
    assert rnodes["flaky(1)"]["phase"] == "Succeeded"
    assert second.started == [rnodes["flaky(1)"]["id"]]
    assert "three" not in rnodes and status["phase"] in ("Failed", "Error")


def test_resume_starts_steps_that_were_asked_for_but_never_started(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    final, _ = run_runner(store, tmp_path, copy.deepcopy(WF))
    entries = store.journal("default", "jr")
    store.clear_journal("default", "jr")
    store.append_journal("default", "jr", entries[:1])        # only the start: "one" never began
    resumed, second = run_runner(store, tmp_path, copy.deepcopy(WF), resume=True)
    assert resumed["status"]["phase"] == "Succeeded"
    assert len(second.started) == 4      # one, two, flaky(0), three: nothing was lost
    assert not [n for n in resumed["status"]["nodes"].values() if n["phase"] == "Error"]


def test_events_round_trip():
    events = [A.PodExited("n", 3, "out", {"p": "v"}, {"a": {"local": {"key": "k"}}}, oom_killed=True),
              A.TimerFired("k"), A.StopRequested("m", terminate=False), A.SuspendRequested(True),
              A.NodesResumed("displayName=x"), A.NodesSet("id=n", "Succeeded", "ok", (("p", "v"),)),
              A.PodLost("n", "gone"),
              A.PodExited("h", None, reply={"statusCode": 200, "body": "b", "headers": {"X": ["1", "2"]}})]
    assert journal.decode(json.loads(json.dumps(journal.encode(events)))) == events
