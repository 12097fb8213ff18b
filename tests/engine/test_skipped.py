"""Outputs of Skipped/Omitted steps and tasks (Argo's absence semantics), and the exit handler
under a workflow deadline: upstream's e2e workflows (test/e2e/functional_test.go, hooks_test.go)
run on the simulated engine, asserting node phases, messages and the inputs consumers got."""
from pathlib import Path

import pytest
import yaml

from tiphys.testing.engine import Outcome, Simulation

E2E = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "e2e"
ABSENT = "is an absent optional"


def e2e(name, outcomes=None):
    path = E2E / name
    if not path.exists():
        pytest.skip(f"../shared is absent: {path} not found")
    return Simulation(path.read_text(), outcomes)


def one(sim, display):
    found = sim.nodes(display)
    assert len(found) == 1, f"{display}: {[n['displayName'] for n in sim.status['nodes'].values()]}"
    return found[0]


def input_of(node, name):
    return {p["name"]: p.get("value") for p in (node.get("inputs") or {}).get("parameters") or []}[name]


def started(sim, tname):
    return [s for s in sim.started if s.template.get("name") == tname]


@pytest.mark.parametrize("file,phase", [("functional-dag-omitted-output-ref.yaml", "Omitted"),
                                        ("functional-dag-skipped-output-ref.yaml", "Skipped")])
def test_dag_reference_to_an_absent_output_errors_the_consumer(file, phase):
    # functional_test.go TestDAGOmittedOutputRef / TestDAGSkippedOutputRef
    sim = e2e(file, {"stage-a": Outcome(parameters={"output-message": "hello from stage A"})})
    sim.run()
    assert sim.status["phase"] == "Error"
    assert one(sim, "stage-a")["phase"] == "Succeeded"
    assert one(sim, "stage-b")["phase"] == phase
    consumer = one(sim, "stage-c")
    assert consumer["phase"] == "Error"
    assert ABSENT in consumer["message"]
    assert "tasks.stage-b.outputs.parameters.output-message" in consumer["message"]
    assert f"was {phase}" in consumer["message"]
    assert not started(sim, "stage-c")


@pytest.mark.parametrize("file", ["functional-dag-skipped-producer-default.yaml",
                                  "functional-steps-skipped-producer-default.yaml"])
def test_consumer_of_a_skipped_producer_gets_its_declared_default(file):
    # TestDAGSkippedProducerOutputDefault / TestStepsSkippedProducerOutputDefault
    sim = e2e(file)
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    producer = one(sim, "producer")
    assert producer["phase"] == "Skipped"
    assert producer["outputs"]["parameters"] == [{"name": "msg", "value": "hello-from-producer"}]
    assert input_of(one(sim, "consumer"), "in") == "hello-from-producer"
    assert started(sim, "consume")[0].template["container"]["args"][1] == "consumer got: [hello-from-producer]"
    assert not started(sim, "produce")


@pytest.mark.parametrize("file", ["functional-dag-skipped-consumer-default.yaml",
                                  "functional-steps-skipped-consumer-default.yaml"])
def test_consumer_input_default_stands_in_for_an_absent_output(file):
    # TestDAGSkippedConsumerInputDefault (and its steps twin)
    sim = e2e(file)
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    assert "outputs" not in one(sim, "producer")
    assert input_of(one(sim, "consumer"), "in") == "fallback-from-input"


def test_with_param_over_a_skipped_producers_default_expands():
    # TestDAGSkippedWithParamProducerDefault
    sim = e2e("functional-dag-skipped-withparam-default.yaml")
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    assert [input_of(one(sim, f"consumer({i}:{v})"), "in") for i, v in enumerate("ab")] == ["a", "b"]


def test_with_param_over_an_absent_output_errors():
    sim = e2e("functional-steps-skipped-withparam-ref.yaml")
    sim.run()
    assert sim.status["phase"] == "Failed"
    consumer = one(sim, "consumer")
    assert consumer["phase"] == "Error" and ABSENT in consumer["message"]
    assert not started(sim, "consume")


def test_steps_when_naming_an_absent_output_errors_that_step():
    # TestStepsSkippedOutputRef
    sim = e2e("functional-steps-skipped-output-ref.yaml", {"run-job": Outcome(parameters={"status": "SUCCESS"})})
    sim.run()
    assert sim.status["phase"] == "Failed"
    assert one(sim, "job1")["phase"] == "Succeeded"
    assert one(sim, "job2")["phase"] == "Skipped"
    handler = one(sim, "job2-error-handler")
    assert handler["phase"] == "Error"
    assert "steps.job2.outputs.parameters.status" in handler["message"] and ABSENT in handler["message"]
    assert len(sim.started) == 1


def test_artifact_sub_path_naming_an_absent_output_errors():
    # TestDAGSkippedArtifactSubPathRef
    sim = e2e("functional-dag-skipped-artifact-subpath-ref.yaml",
              {"produce-artifact": Outcome(artifacts={"out": {"local": {"key": "k"}}})})
    sim.run()
    assert sim.status["phase"] == "Error"
    consumer = one(sim, "consumer")
    assert consumer["phase"] == "Error"
    assert "tasks.param-producer.outputs.parameters.dir" in consumer["message"]


SKIPPED_PRODUCER = """
metadata: {name: fallback}
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - {name: producer, template: produce, when: "false"}
          - name: by-expression
            template: consume
            depends: producer
            arguments:
              parameters: [{name: in, value: "{{=tasks.producer.outputs.parameters.msg ?? 'arg-fallback'}}"}]
          - name: by-artifact
            template: take
            depends: producer
            arguments:
              artifacts: [{name: data, from: "{{tasks.producer.outputs.artifacts.file}}"}]
          - name: by-optional-artifact
            template: take-optional
            depends: producer
            arguments:
              artifacts: [{name: data, from: "{{tasks.producer.outputs.artifacts.file}}"}]
      outputs:
        parameters:
          - name: result
            valueFrom: {expression: "tasks.producer.outputs.parameters.msg ?? 'expr-fallback'"}
          - name: via-parameter
            valueFrom: {parameter: "{{tasks.producer.outputs.parameters.msg}}", default: dag-default}
    - name: produce
      outputs:
        parameters: [{name: msg, valueFrom: {path: /tmp/out.txt}}]
        artifacts: [{name: file, path: /tmp/file}]
      container: {image: alpine}
    - name: consume
      inputs: {parameters: [{name: in}]}
      container: {image: alpine, args: ["{{inputs.parameters.in}}"]}
    - name: take
      inputs: {artifacts: [{name: data, path: /tmp/in}]}
      container: {image: alpine}
    - name: take-optional
      inputs: {artifacts: [{name: data, path: /tmp/in, optional: true}]}
      container: {image: alpine}
"""


def test_expressions_see_an_absent_output_as_nil_and_artifacts_are_absent_too():
    sim = Simulation(SKIPPED_PRODUCER)
    sim.run()
    assert input_of(one(sim, "by-expression"), "in") == "arg-fallback"
    assert one(sim, "by-optional-artifact")["phase"] == "Succeeded"
    artifact = one(sim, "by-artifact")
    assert artifact["phase"] == "Error" and "data" in artifact["message"]
    assert sim.status["phase"] == "Error"
    wf = yaml.safe_load(SKIPPED_PRODUCER)
    tasks = wf["spec"]["templates"][0]["dag"]["tasks"]
    tasks[:] = [t for t in tasks if t["name"] != "by-artifact"]
    sim = Simulation(wf)
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    dag = one(sim, "fallback")
    assert {p["name"]: p["value"] for p in dag["outputs"]["parameters"]} == \
        {"result": "expr-fallback", "via-parameter": "dag-default"}


def test_exit_handler_runs_after_the_workflow_deadline():
    # hooks_test.go TestExitHandlerWithWorkflowLevelDeadline: exit-handler pods ignore the deadline
    sim = e2e("TestExitHandlerWithWorkflowLevelDeadline.yaml", {"sleep": Outcome(duration=5)})
    sim.run()
    assert sim.status["phase"] == "Failed"
    main = next(n for n in sim.nodes("sleep") if ".onExit" not in n["name"])
    assert (main["phase"], main["message"]) == ("Failed", "Step exceeded its deadline")
    handler = one(sim, "exit-handler-with-workflow-level-deadline.onExit")
    assert handler["phase"] == "Succeeded"
    assert len(sim.started) == 2
    assert sim.now - sim.start_time == 1 + 5     # the handler's pod ran its full 5 s after the deadline
