"""Resource templates in the engine: a Pod node whose StartPod carries the rendered manifest;
its outputs come from the parameters the runtime read with valueFrom.jsonPath."""
from tiphys.testing.engine import Outcome, Simulation

WF = """
spec:
  entrypoint: main
  arguments: {parameters: [{name: who, value: world}]}
  templates:
  - name: main
    steps:
    - - name: make
        template: make
    - - name: show
        template: show
        arguments: {parameters: [{name: phase, value: "{{steps.make.outputs.parameters.phase}}"}]}
  - name: make
    retryStrategy: {limit: 1}
    resource:
      action: create
      successCondition: status.phase == Succeeded
      manifest: |
        kind: Workflow
        metadata: {generateName: "child-{{workflow.parameters.who}}-"}
    outputs:
      parameters:
      - {name: phase, valueFrom: {jsonPath: "{.status.phase}"}}
  - name: show
    inputs: {parameters: [{name: phase}]}
    container: {image: alpine, command: [echo, "{{inputs.parameters.phase}}"]}
"""


def test_resource_node_is_a_pod_with_rendered_manifest_and_outputs():
    sim = Simulation(WF, {"make": Outcome(parameters={"phase": "Succeeded"}, stdout="workflow.argoproj.io/child-x\n")})
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    make = [s for s in sim.started if s.template["name"] == "make"][0]
    assert "generateName: \"child-world-\"" in make.template["resource"]["manifest"]
    pod = sim.nodes("make(0)")[0]
    assert pod["type"] == "Pod"
    assert pod["outputs"]["parameters"] == [{"name": "phase", "value": "Succeeded"}]
    show = [s for s in sim.started if s.template["name"] == "show"][0]
    assert show.template["container"]["command"] == ["echo", "Succeeded"]


def test_failed_resource_is_retried_and_reports_why():
    sim = Simulation(WF, {"make": Outcome(exit_code=1)})
    sim.run()
    assert sim.phase("make(1)") == "Failed"
    assert sim.status["phase"] == "Failed"


def test_missing_jsonpath_output_is_an_error():
    sim = Simulation(WF, {"make": Outcome(parameters={})})
    sim.run()
    assert sim.phase("make(0)") == "Error"
    assert "found nothing in the resource" in sim.nodes("make(0)")[0]["message"]
