"""containerSet templates in the engine: one pod, Container child nodes, Argo's phases."""
from tiphys.testing.engine import Outcome, Simulation

WF = """
metadata: {name: cs}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: set
        template: set
  - name: set
    outputs:
      parameters:
      - name: out
        valueFrom: {path: /tmp/out}
    containerSet:
      volumeMounts:
      - {name: work, mountPath: /work}
      containers:
      - {name: a, image: alpine, command: [sh, -c, "echo a"]}
      - {name: b, image: alpine, command: [sh, -c, "echo b"], dependencies: [a]}
      - {name: main, image: alpine, command: [sh, -c, "echo main"], dependencies: [a, b]}
    volumes:
    - {name: work, emptyDir: {}}
"""


def ok(code=0, reason=None, message=""):
    return {"exitCode": code, "reason": reason or ("Completed" if code == 0 else "Error"), "message": message}


def by_name(sim, name):
    found = [n for n in sim.status["nodes"].values() if n["name"] == name]
    assert len(found) == 1, name
    return found[0]


def test_one_pod_with_container_children_linked_by_dependencies():
    sim = Simulation(WF, {"set": Outcome(stdout="main says\n", parameters={"out": "42"},
                                         containers={"a": ok(), "b": ok(), "main": ok()})})
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    assert len(sim.started) == 1 and "containerSet" in sim.started[0].template
    pod = by_name(sim, "cs[0].set")
    a, b, main = (by_name(sim, f"cs[0].set.{c}") for c in ("a", "b", "main"))
    assert pod["type"] == "Pod" and pod["phase"] == "Succeeded"
    assert [(n["type"], n["displayName"], n["phase"]) for n in (a, b, main)] == [
        ("Container", "a", "Succeeded"), ("Container", "b", "Succeeded"), ("Container", "main", "Succeeded")]
    assert pod["children"] == [a["id"]]
    assert a["children"] == [b["id"], main["id"]] and b["children"] == [main["id"]]
    assert {n["boundaryID"] for n in (a, b, main)} == {pod["id"]}
    assert {n["podName"] for n in (a, b, main)} == {pod["podName"]}
    assert dict(sim.started[0].containers) == {"a": a["id"], "b": b["id"], "main": main["id"]}
    assert "result" not in pod["outputs"]          # Argo keeps it only when the caller names it
    assert pod["outputs"]["exitCode"] == "0"
    assert pod["outputs"]["parameters"] == [{"name": "out", "value": "42"}]
    assert sim.status["progress"] == "4/4"      # Argo's progress counts the pod and each Container node


def test_failed_container_fails_the_pod_and_dependents_error():
    sim = Simulation(WF, {"set": Outcome(exit_code=0, containers={
        "a": ok(3), "b": ok(64, message='dependency "a" exited with non-zero code: 3'),
        "main": ok(64, message='dependency "a" exited with non-zero code: 3')})})
    sim.run()
    assert sim.status["phase"] == "Failed"
    pod = by_name(sim, "cs[0].set")
    assert (pod["phase"], pod["message"]) == ("Failed", "a: Error (exit code 3)")
    a, b = by_name(sim, "cs[0].set.a"), by_name(sim, "cs[0].set.b")
    assert (a["phase"], a["message"]) == ("Failed", "a: Error (exit code 3): ")
    assert b["phase"] == "Error"
    assert b["message"] == 'b: Error (exit code 64): dependency "a" exited with non-zero code: 3'


def test_no_main_container_means_no_result_or_exit_code():
    wf = """
metadata: {name: nm}
spec:
  entrypoint: s
  templates:
  - name: s
    containerSet:
      containers:
      - {name: x, image: alpine, command: [sh, -c, "exit 0"]}
"""
    sim = Simulation(wf, {"s": Outcome(containers={"x": ok()})})
    sim.run()
    pod = by_name(sim, "nm")
    assert pod["phase"] == "Succeeded"
    assert "result" not in (pod.get("outputs") or {}) and "exitCode" not in (pod.get("outputs") or {})
    assert by_name(sim, "nm.x")["phase"] == "Succeeded"


def test_container_without_report_when_stopped():
    sim = Simulation(WF, {"set": Outcome(duration=100, containers={"a": ok()})})
    from tiphys.engine import actions as A
    sim.send(5, A.StopRequested("Stopped by user", terminate=True))
    sim.run()
    pod = by_name(sim, "cs[0].set")
    assert pod["phase"] == "Failed"
    main = by_name(sim, "cs[0].set.main")
    assert (main["phase"], main["message"]) == ("Failed", "Pod Failed whilst container running")


def test_bad_graph_is_an_error_node():
    wf = """
metadata: {name: bad}
spec:
  entrypoint: s
  templates:
  - name: s
    containerSet:
      containers:
      - {name: x, image: alpine, dependencies: [y]}
      - {name: y, image: alpine, dependencies: [x]}
"""
    sim = Simulation(wf)
    sim.run()
    assert sim.status["phase"] == "Error"
    assert "cycle" in by_name(sim, "bad")["message"]
    assert not sim.started


def test_template_retry_strategy_retries_the_whole_pod():
    wf = """
metadata: {name: rt}
spec:
  entrypoint: s
  templates:
  - name: s
    retryStrategy: {limit: 1}
    containerSet:
      containers:
      - {name: main, image: alpine, command: [sh, -c, "exit 1"]}
"""
    sim = Simulation(wf, {"s": [Outcome(exit_code=1, containers={"main": ok(1)}),
                                Outcome(containers={"main": ok()})]})
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    assert by_name(sim, "rt(0).main")["phase"] == "Failed"
    assert by_name(sim, "rt(1).main")["phase"] == "Succeeded"
