"""Retried templates: an argument passed as `{{retries}}` is the attempt's number in that attempt
(Argo substitutes `retries` into the template after its inputs); each attempt is flagged `retried`."""
from tiphys.testing.engine import Outcome, Simulation

RETRIES_ARG = """
metadata: {name: r}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: try, template: flaky, arguments: {parameters: [{name: n, value: "{{retries}}"},
                                                             {name: e, value: "{{=asInt(retries) + 10}}"}]}}
  - name: flaky
    inputs: {parameters: [{name: n}, {name: e}]}
    retryStrategy: {limit: 2}
    container: {image: alpine, command: [sh, -c, "echo {{inputs.parameters.n}} {{inputs.parameters.e}}"]}
"""


def test_retries_passed_as_an_argument_is_the_attempt_number():
    sim = Simulation(RETRIES_ARG, outcomes={"flaky": [Outcome(exit_code=1), Outcome(exit_code=1), Outcome()]})
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    assert [p.template["container"]["command"][2] for p in sim.started] == ["echo 0 10", "echo 1 11", "echo 2 12"]
    assert [n["inputs"]["parameters"][0]["value"] for n in sorted(sim.pods(), key=lambda n: n["name"])] == ["0", "1", "2"]


def test_every_attempt_is_flagged_retried():
    sim = Simulation(RETRIES_ARG, outcomes={"flaky": [Outcome(exit_code=1), Outcome()]})
    sim.run()
    nodes = {n["displayName"]: n for n in sim.status["nodes"].values()}
    assert nodes["try"]["type"] == "Retry" and "nodeFlag" not in nodes["try"]
    assert [nodes[f"try({i})"]["nodeFlag"] for i in range(2)] == [{"retried": True}] * 2
