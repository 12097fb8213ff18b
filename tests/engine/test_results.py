"""`outputs.result` is kept only when the calling steps/DAG template names it, as Argo's
controller decides (engine/results.py): loops and retries by their step name, expressions too;
a pod with no caller (the entrypoint) keeps none."""
from __future__ import annotations

from tiphys.testing.engine import Outcome, Simulation

WF = """
metadata: {name: res}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: named, template: say}
      - {name: silent, template: say}
      - {name: looped, template: say, withItems: [1, 2]}
      - {name: retried, template: flaky}
      - {name: in-expr, template: say}
    - - name: use
        template: dag
        arguments:
          parameters:
          - {name: a, value: "{{steps.named.outputs.result}} {{steps.looped.outputs.result}}"}
          - {name: b, value: "{{steps.retried.outputs.result}} {{=steps['in-expr'].outputs.result}}"}
  - name: dag
    inputs: {parameters: [{name: a}, {name: b}]}
    dag:
      tasks:
      - {name: t, template: say}
      - {name: u, template: say, depends: t, when: "'{{tasks.t.outputs.result}}' == 'hi'"}
  - name: say
    container: {image: alpine, command: [echo, hi]}
  - name: flaky
    retryStrategy: {limit: 1}
    container: {image: alpine, command: [echo, hi]}
"""


def _by_display(sim):
    found = {}
    for node in sim.status["nodes"].values():
        if node["type"] == "Pod":
            found.setdefault(node["displayName"], []).append(node)
    return found


def test_result_only_where_the_caller_names_it():
    sim = Simulation(WF, {"say": Outcome(stdout="hi\n"), "flaky": Outcome(stdout="hi\n")})
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    pods = _by_display(sim)
    has = {name: ["result" in (n.get("outputs") or {}) for n in nodes] for name, nodes in pods.items()}
    assert has == {"named": [True], "silent": [False], "looped(0:1)": [True], "looped(1:2)": [True],
                   "retried(0)": [True], "in-expr": [True], "t": [True], "u": [False]}
    assert all(n["outputs"]["exitCode"] == "0" for nodes in pods.values() for n in nodes)


def test_the_entrypoint_pod_keeps_no_result():
    sim = Simulation("""
metadata: {name: one}
spec:
  entrypoint: say
  templates:
  - name: say
    outputs: {parameters: [{name: p, valueFrom: {expression: "outputs.result"}}]}
    container: {image: alpine, command: [echo, hi]}
""", {"say": Outcome(stdout="hi\n")})
    sim.run()
    node = sim.status["nodes"]["one"]
    assert "result" not in node["outputs"] and node["outputs"]["exitCode"] == "0"
    assert node["outputs"]["parameters"] == [{"name": "p", "value": "hi"}]   # expressions still read stdout


def test_references_in_outputs_hooks_exit_handlers_and_items_with_brackets():
    sim = Simulation("""
metadata: {name: refs}
spec:
  entrypoint: main
  onExit: bye
  templates:
  - name: main
    steps:
    - - {name: out, template: say}
      - {name: hooked, template: say, hooks: {exit: {template: show, arguments: {parameters: [
          {name: v, value: "{{steps.hooked.outputs.result}}"}]}}}}
      - {name: odd, template: say, withItems: ["f(x)", "[1]"]}
      - {name: none, template: say}
    outputs:
      parameters:
      - {name: p, valueFrom: {parameter: "{{steps.out.outputs.result}}"}}
      - {name: q, valueFrom: {expression: "steps.odd.outputs.result"}}
  - name: bye
    steps:
    - - {name: last, template: say}
    - - {name: show-last, template: show, arguments: {parameters: [{name: v, value: "{{steps.last.outputs.result}}"}]}}
  - name: show
    inputs: {parameters: [{name: v}]}
    container: {image: alpine, command: [echo, "{{inputs.parameters.v}}"]}
  - name: say
    container: {image: alpine, command: [echo, hi]}
""", {"say": Outcome(stdout="hi\n"), "show": Outcome(stdout="shown\n")})
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    has = {name: ["result" in (n.get("outputs") or {}) for n in nodes] for name, nodes in _by_display(sim).items()}
    assert has == {"out": [True], "hooked": [True], "odd(0:f(x))": [True], "odd(1:[1])": [True], "none": [False],
                   "hooked.onExit": [False], "last": [True], "show-last": [False]}
    assert sim.status["nodes"]["refs"]["outputs"]["parameters"][0] == {"name": "p", "value": "hi"}
