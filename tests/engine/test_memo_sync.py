"""memoize and synchronization in the pure engine (gates.py, memo.py, sync.py), on Simulation's
fake cache and fake lock manager."""
from pathlib import Path

import pytest
import yaml

from tiphys.engine import actions as A
from tiphys.engine.core import Engine
from tiphys.testing.engine import Outcome, Simulation

E2E = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "e2e"

STEPS_MEMO = """
metadata: {name: memo}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: a, template: echo, arguments: {parameters: [{name: m, value: "hello"}]}}
    - - {name: b, template: echo, arguments: {parameters: [{name: m, value: "hello"}]}}
    - - {name: c, template: echo, arguments: {parameters: [{name: m, value: "other"}]}}
    - - {name: use, template: show, arguments: {parameters: [{name: v, value: "{{steps.b.outputs.result}}"}]}}
    - - {name: also, template: show, arguments: {parameters: [{name: v, value: "{{steps.a.outputs.result}}"}]}}
  - name: echo
    inputs: {parameters: [{name: m}]}
    memoize: {key: "k-{{inputs.parameters.m}}", maxAge: "10s", cache: {configMap: {name: my-cache}}}
    container: {image: alpine, command: [echo, "{{inputs.parameters.m}}"]}
  - name: show
    inputs: {parameters: [{name: v}]}
    container: {image: alpine, command: [echo, "{{inputs.parameters.v}}"]}
"""


def by_display(sim, display):
    [found] = [n for n in sim.status["nodes"].values() if n["displayName"] == display]
    return found


def test_second_call_with_the_same_key_hits_the_cache():
    sim = Simulation(STEPS_MEMO, {"echo": Outcome(stdout="hello\n")})
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    a, b, c = by_display(sim, "a"), by_display(sim, "b"), by_display(sim, "c")
    assert a["memoizationStatus"] == {"hit": False, "key": "k-hello", "cacheName": "my-cache"}
    assert b["memoizationStatus"] == {"hit": True, "key": "k-hello", "cacheName": "my-cache"}
    assert c["memoizationStatus"]["hit"] is False
    assert b["phase"] == "Succeeded" and b["type"] == "Pod" and "podName" not in b
    assert b["outputs"]["result"] == "hello"
    assert [s.template["name"] for s in sim.started].count("echo") == 2   # a and c, not b
    use = [s for s in sim.started if s.template["name"] == "show"][0]
    assert use.template["container"]["command"] == ["echo", "hello"]
    entry = sim.cache[("default", "my-cache")]["k-hello"]
    assert entry["nodeID"] == a["id"] and entry["outputs"]["result"] == "hello"
    # children stay in call order though the held node was replaced
    root = sim.status["nodes"]["memo"]
    assert [sim.status["nodes"][k]["displayName"] for k in root["children"]][0] == "[0]"


def test_a_second_run_hits_and_max_age_expires():
    first = Simulation(STEPS_MEMO, {"echo": Outcome(stdout="hello\n")})
    first.run()
    again = Simulation(STEPS_MEMO, {"echo": Outcome(stdout="hello\n")}, start=first.now + 1)
    again.cache = first.cache
    again.run()
    assert by_display(again, "a")["memoizationStatus"]["hit"] is True
    late = Simulation(STEPS_MEMO, {"echo": Outcome(stdout="hello\n")}, start=first.now + 60)
    late.cache = first.cache
    late.run()
    assert by_display(late, "a")["memoizationStatus"]["hit"] is False


def test_failed_nodes_are_not_cached():
    sim = Simulation(STEPS_MEMO.replace("- - {name: use", "- - {name: use, continueOn: {failed: true}"),
                     {"echo": Outcome(exit_code=1)})
    sim.run()
    assert sim.cache == {}
    assert by_display(sim, "a")["phase"] == "Failed"


def test_invalid_cache_key_errors_the_node():
    sim = Simulation(STEPS_MEMO.replace('key: "k-{{inputs.parameters.m}}"', 'key: "a.b"'))
    sim.run()
    a = by_display(sim, "a")
    assert a["phase"] == "Error" and a["message"] == "invalid cache key: a.b"
    assert a["type"] == "Pod"
    assert sim.status["phase"] in ("Error", "Failed")


def test_cache_read_error_errors_the_node():
    sim = Simulation(STEPS_MEMO)
    eng = sim.engine
    actions = eng.start(sim.now)
    [look] = [a for a in actions if isinstance(a, A.LookupCache)]
    eng.handle([A.CacheResult(look.node_id, error="memoization configmap doesn't have x label")], sim.now)
    assert eng.nodes[look.node_id]["phase"] == "Error"


@pytest.mark.parametrize("case", ["TestDAGLevelMemoize", "TestStepLevelMemoize", "TestDAGLevelMemoizeNoOutput"])
def test_upstream_memoize_workflows(case):
    path = E2E / f"{case}.yaml"
    if not path.exists():
        pytest.skip("../shared is absent")
    sim = Simulation(path.read_text(), {"whalesay": Outcome(stdout="hello1\n")}, name="m")
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    hits = [n for n in sim.status["nodes"].values() if (n.get("memoizationStatus") or {}).get("hit")]
    assert [n["displayName"] for n in hits] == ["hello2a"]
    assert len(sim.started) == 1


MUTEX = """
metadata: {name: mx, namespace: argo}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: a, template: locked}
      - {name: b, template: locked}
      - {name: c, template: free}
  - name: locked
    synchronization: {mutexes: [{name: "{{workflow.name}}-m"}]}
    container: {image: alpine, command: [sleep, "1"]}
  - name: free
    container: {image: alpine, command: [sleep, "1"]}
"""


def test_template_mutex_serialises_nodes():
    sim = Simulation(MUTEX, {"locked": Outcome(duration=5)})
    states = []
    sim.send(1, A.NodesResumed("none"))   # a no-op event to look at the status mid-way
    orig = sim.engine.handle

    def spy(events, now):
        out = orig(events, now)
        states.append(__import__("copy").deepcopy(sim.status))
        return out
    sim.engine.handle = spy
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    a, b = by_display(sim, "a"), by_display(sim, "b")
    first, second = sorted([a, b], key=lambda n: n["startedAt"])
    assert second["startedAt"] >= first["finishedAt"]
    waiting = [s for s in states if any(n.get("synchronizationStatus") for n in s["nodes"].values())]
    assert waiting, "a node should have waited"
    held = [n for n in waiting[0]["nodes"].values() if n.get("synchronizationStatus")][0]
    assert held["phase"] == "Pending"
    assert held["message"] == "Waiting for argo/Mutex/mx-m lock. Lock status: 0/1"
    assert held["synchronizationStatus"] == {"waiting": "argo/Mutex/mx-m"}
    sync = waiting[0]["synchronization"]["mutex"]
    assert sync["holding"][0]["mutex"] == "argo/Mutex/mx-m"
    assert sync["waiting"][0]["holder"] == held["id"]
    assert "synchronization" not in sim.status      # all released at the end
    assert [e[1] for e in sim.lock_log] == ["acquired", "released", "acquired", "released"]


def test_semaphore_limit_two_and_workflow_level_lock():
    text = MUTEX.replace('synchronization: {mutexes: [{name: "{{workflow.name}}-m"}]}',
                         'synchronization: {semaphores: [{configMapKeyRef: {name: cm, key: k}}]}')
    text = text.replace("- {name: c, template: free}", "- {name: c, template: locked}")
    sim = Simulation(text, {"locked": Outcome(duration=5)})
    sim.lock_limits["argo/ConfigMap/cm/k"] = 2
    sim.run()
    starts = sorted(n["startedAt"] for n in sim.status["nodes"].values() if n["type"] == "Pod")
    assert starts[0] == starts[1] < starts[2]


def test_workflow_level_lock_waits_pending_then_runs():
    text = MUTEX.replace("spec:\n", "spec:\n  synchronization: {mutex: {name: wide}}\n", 1)
    sim = Simulation(text)
    eng = sim.engine
    actions = eng.start(sim.now)
    assert [type(a).__name__ for a in actions] == ["AcquireLock"]
    assert actions[0].holder == "argo/mx" and actions[0].locks == ("argo/Mutex/wide",)
    eng.handle([A.LockWaiting("argo/mx", "argo/Mutex/wide", "Waiting for argo/Mutex/wide lock. Lock status: 0/1")],
               sim.now)
    assert sim.status["phase"] == "Pending"
    assert sim.status["message"] == "Waiting for argo/Mutex/wide lock. Lock status: 0/1"
    assert sim.status["synchronization"]["mutex"]["waiting"] == [{"mutex": "argo/Mutex/wide", "holder": "mx"}]
    out = eng.handle([A.LockAcquired("argo/mx")], sim.now + 1)
    assert sim.status["phase"] == "Running" and "message" not in sim.status
    assert sim.status["synchronization"]["mutex"]["holding"] == [{"mutex": "argo/Mutex/wide", "holder": "mx"}]
    assert any(isinstance(a, A.StartPod) for a in out) or any(isinstance(a, A.AcquireLock) for a in out)


def test_stop_while_waiting_fails_the_workflow():
    text = MUTEX.replace("spec:\n", "spec:\n  synchronization: {mutex: {name: wide}}\n", 1)
    eng = Engine(yaml.safe_load(text), now=0.0)
    eng.start(0.0)
    out = eng.handle([A.StopRequested("Stopped with strategy 'Stop'", terminate=False)], 1.0)
    assert eng.finished and eng.status["phase"] == "Failed"
    assert any(isinstance(a, A.ReleaseLock) for a in out)


def test_stop_fails_held_nodes_and_releases():
    sim = Simulation(MUTEX, {"locked": Outcome(duration=50)})
    sim.send(2, A.StopRequested("Stopped with strategy 'Stop'", terminate=False))
    sim.run()
    assert sim.status["phase"] == "Failed"
    assert all(not holders for holders in sim.lock_holders.values())
    assert "synchronization" not in sim.status


def test_a_locked_and_memoized_entrypoint():
    text = """
metadata: {name: root}
spec:
  entrypoint: main
  templates:
  - name: main
    synchronization: {mutex: {name: x}}
    memoize: {key: k, cache: {configMap: {name: c}}}
    container: {image: alpine, command: [echo, hi]}
"""
    sim = Simulation(text, {"main": Outcome(stdout="hi\n")})
    sim.run()
    assert sim.status["phase"] == "Succeeded" and len(sim.started) == 1
    again = Simulation(text, start=sim.now + 1)
    again.cache = sim.cache
    again.run()
    assert again.status["phase"] == "Succeeded" and not again.started
    assert again.status["nodes"]["root"]["memoizationStatus"]["hit"] is True
    assert [e[1] for e in again.lock_log] == ["acquired", "released"]
