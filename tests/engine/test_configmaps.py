"""Parameters read from a ConfigMap that is absent from the store: Argo's "not found" rules apply
(valueFrom.default, else the node errors; an argument's value overrides an input's ConfigMap)."""
import textwrap

from tiphys.testing.engine import Simulation

WF = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{generateName: cm-}}
spec:
  entrypoint: main
  arguments:
    parameters:
{args}
  templates:
    - name: main
      inputs:
        parameters:
{inputs}
      container: {{image: alpine, command: [echo, "{{{{inputs.parameters.message}}}}"]}}
"""


def run(args: str, inputs: str) -> Simulation:
    sim = Simulation(WF.format(args=textwrap.indent(args, " " * 6), inputs=textwrap.indent(inputs, " " * 10)))
    sim.run()
    return sim


def bound(sim: Simulation) -> str:
    root = next(iter(sim.status["nodes"].values()))
    return {p["name"]: p["value"] for p in root["inputs"]["parameters"]}["message"]


CM = "valueFrom: {configMapKeyRef: {name: absent-cm, key: k}}"
CM_DEFAULT = "valueFrom: {default: from-default, configMapKeyRef: {name: absent-cm, key: k}}"


def test_global_argument_from_an_absent_configmap_takes_its_default():
    sim = run(f"- name: message\n  {CM_DEFAULT}", "- name: message")
    assert sim.status["phase"] == "Succeeded"
    assert bound(sim) == "from-default"


def test_global_argument_from_an_absent_configmap_without_default_errors():
    sim = run(f"- name: message\n  {CM}", "- name: message\n  value: input-value")
    assert sim.status["phase"] == "Error"
    assert "absent-cm" in sim.status["message"]
    assert not sim.started


def test_argument_value_overrides_an_input_read_from_a_configmap():
    sim = run("- name: message\n  value: arg-value", f"- name: message\n  {CM}")
    assert sim.status["phase"] == "Succeeded"
    assert bound(sim) == "arg-value"


def test_input_from_an_absent_configmap_takes_its_default_or_errors():
    sim = run("- name: other\n  value: x", f"- name: message\n  {CM_DEFAULT}")
    assert bound(sim) == "from-default"
    sim = run("- name: other\n  value: x", f"- name: message\n  {CM}")
    assert sim.status["phase"] == "Error"
    assert "ConfigMap 'absent-cm'" in sim.status["message"]
