"""http and data templates in the engine: what a reply from the shell makes of the node."""
import base64
import json

import pytest
import yaml

from tiphys.engine import actions as A
from tiphys.engine import agent
from tiphys.engine.core import Engine
from tiphys.testing.engine import Outcome, Simulation

HTTP = """
metadata: {name: wf}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: call
        template: call
    - - name: use
        template: use
        arguments: {parameters: [{name: msg, value: "{{steps.call.outputs.result}}"}]}
  - name: call
    http:
      url: http://example.test/x
      method: POST
      body: hello
      headers: [{name: x-token, value: abc}, {name: X-Secret, valueFrom: {secretKeyRef: {name: s, key: k}}}]
      %s
  - name: use
    inputs: {parameters: [{name: msg}]}
    container: {image: alpine, args: ["{{inputs.parameters.msg}}"]}
"""


def reply(code=200, body="pong", headers=None):
    return {"statusCode": code, "body": body, "headers": headers or {"Content-Type": ["text/plain"]}}


def run(extra="", outcome=None):
    sim = Simulation(HTTP % extra, {"call": outcome or Outcome(reply=reply())})
    sim.run()
    return sim


def test_http_node_is_of_type_http_and_its_body_is_the_result_passed_on():
    sim = run()
    call = sim.nodes("call")[0]
    assert (call["type"], call["phase"], call["outputs"]) == ("HTTP", "Succeeded", {"result": "pong"})
    assert "exitCode" not in call["outputs"]
    use = [s for s in sim.started if s.template["name"] == "use"][0]
    assert use.template["container"]["args"] == ["pong"]
    assert sim.status["phase"] == "Succeeded"
    assert sim.status["progress"] == "2/2"      # Argo's progress counts HTTP nodes as it counts pods


def test_non_2xx_fails_with_argos_message_and_keeps_the_body():
    sim = run(outcome=Outcome(reply=reply(404, "missing")))
    call = sim.nodes("call")[0]
    assert (call["phase"], call["message"]) == ("Failed", "received non-2xx response code: 404")
    assert call["outputs"]["result"] == "missing"
    assert sim.status["phase"] == "Failed"


@pytest.mark.parametrize("condition, code, ok", [
    ("response.statusCode == 201", 201, True),
    ("response.statusCode == 201", 200, False),
    ('response.body contains "po"', 500, True),
    ('response.headers["Content-Type"][0] == "text/plain"', 200, True),
    ('request.method == "POST" && request.body == "hello" && request.url endsWith "/x"', 200, True),
    ('request.headers["X-Token"][0] == "abc" && request.headers["X-Secret"][0] == ""', 200, True),
    ('len(request.bodyBytes) == 5', 200, True),
])
def test_success_condition_sees_request_and_response(condition, code, ok):
    sim = run(f"successCondition: '{condition}'", Outcome(reply=reply(code)))
    call = sim.nodes("call")[0]
    if ok:
        assert call["phase"] == "Succeeded", call.get("message")
    else:
        assert (call["phase"], call["message"]) == ("Failed", f"successCondition '{condition}' evaluated false")


def test_a_condition_that_cannot_be_evaluated_fails_the_node():
    sim = run("successCondition: 'response.nope.deeper == 1'")
    call = sim.nodes("call")[0]
    assert call["phase"] == "Failed" and call["message"]


def test_transport_error_fails_with_the_error():
    msg = 'Get "http://example.test/x": dial tcp 127.0.0.1:1: connect: connection refused'
    sim = run(outcome=Outcome(reply={"error": msg}))
    call = sim.nodes("call")[0]
    assert (call["phase"], call["message"]) == ("Failed", msg)
    assert "outputs" not in call


def test_retry_strategy_retries_an_http_node():
    text = (HTTP % "").replace("    http:\n", "    retryStrategy: {limit: 2}\n    http:\n", 1)
    sim = Simulation(text, {"call": [Outcome(reply=reply(503)), Outcome(reply=reply(200, "ok"))]})
    sim.run()
    retry = [n for n in sim.status["nodes"].values() if n["type"] == "Retry"]
    assert len(retry) == 1 and retry[0]["phase"] == "Succeeded"
    attempts = sorted(n["displayName"] for n in sim.status["nodes"].values() if n["type"] == "HTTP")
    assert attempts == ["call(0)", "call(1)"]
    assert sim.phase("call(0)") == "Failed" and sim.phase("call(1)") == "Succeeded"
    assert sim.status["phase"] == "Succeeded"


def test_template_timeout_stops_a_slow_request():
    text = (HTTP % "").replace("    http:\n", "    timeout: 5s\n    http:\n", 1)
    sim = Simulation(text, {"call": Outcome(reply=reply(), duration=60)})
    sim.run()
    call = sim.nodes("call")[0]
    assert (call["phase"], call["message"]) == ("Failed", "Step exceeded its deadline")


def test_http_in_a_dag_feeds_dependents():
    text = """
metadata: {name: wf}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: a, template: call}
      - {name: b, template: use, depends: a, arguments: {parameters: [{name: m, value: "{{tasks.a.outputs.result}}"}]}}
  - name: call
    http: {url: "http://x/"}
  - name: use
    inputs: {parameters: [{name: m}]}
    container: {image: alpine, args: ["{{inputs.parameters.m}}"]}
"""
    sim = Simulation(text, {"call": Outcome(reply=reply(body="42"))})
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    assert [s.template["container"]["args"] for s in sim.started if "container" in s.template] == [["42"]]


def test_request_view_and_body_bytes():
    spec = {"url": "u", "bodyFrom": {"bytes": base64.b64encode(b"\x00ab").decode()}, "body": "ignored",
            "headers": [{"name": "content-type", "value": "a"}, {"name": "Content-Type", "value": "b"}]}
    view = agent.request_view(spec)
    assert view["bodyBytes"] == [0, 97, 98] and view["method"] == ""
    assert view["headers"] == {"Content-Type": ["a", "b"]}
    assert agent.canonical_header("x-FORWARDED-for") == "X-Forwarded-For"


# ------------------------------------------------------------------ data
DATA = """
metadata: {name: wf}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: list
        template: list
    - - name: each
        template: use
        withParam: "{{steps.list.outputs.result}}"
        arguments: {parameters: [{name: m, value: "{{item}}"}]}
  - name: list
    data:
      source:
        artifactPaths: {name: files, local: {key: default/x}}
      transformation:
      - expression: "filter(data, {# endsWith \\".pdf\\"})"
      - expression: "map(data, {# + \\".ready\\"})"
  - name: use
    inputs: {parameters: [{name: m}]}
    container: {image: alpine, args: ["{{inputs.parameters.m}}"]}
"""


def test_data_template_transforms_the_listed_keys_and_the_json_result_fans_out():
    keys = ["a/foo.pdf", "a/script.py", "b.pdf"]
    sim = Simulation(DATA, {"list": Outcome(reply={"keys": keys})})
    sim.run()
    node = sim.nodes("list")[0]
    assert (node["type"], node["phase"]) == ("Pod", "Succeeded")
    assert json.loads(node["outputs"]["result"]) == ["a/foo.pdf.ready", "b.pdf.ready"]
    args = sorted(s.template["container"]["args"][0] for s in sim.started if "container" in s.template)
    assert args == ["a/foo.pdf.ready", "b.pdf.ready"]
    assert sim.status["progress"] == "3/3"       # a data node is a pod


def test_data_template_errors_are_worded_as_argos():
    sim = Simulation(DATA, {"list": Outcome(reply={"error": "unable to source artifact paths: nope"})})
    sim.run()
    node = sim.nodes("list")[0]
    assert node["phase"] == "Failed"
    assert node["message"] == ("unable to process data template: unable to process data source: "
                               "unable to source artifact paths: nope")
    bad = DATA.replace('filter(data, {# endsWith \\".pdf\\"})', "data + ")
    sim = Simulation(bad, {"list": Outcome(reply={"keys": ["x"]})})
    sim.run()
    node = sim.nodes("list")[0]
    assert node["phase"] == "Failed"
    assert node["message"].startswith("unable to process data template: unable to process data transformation: "
                                      "error processing data step 0: ")


def test_a_request_lost_with_the_controller_ends_in_error_and_is_not_made_again():
    """Like a pod whose process was lost: Error (retried only as retryStrategy allows)."""
    eng = Engine(yaml.safe_load(HTTP % ""), now=0.0)
    first = eng.start(0.0)
    call = [a for a in first if isinstance(a, A.StartPod)][0]
    assert call.template["http"]["url"] == "http://example.test/x"
    after = eng.handle([A.PodLost(call.node_id, "step process lost")], 1.0)
    assert not [a for a in after if isinstance(a, A.StartPod)]
    node = eng.nodes[call.node_id]
    assert (node["type"], node["phase"], node["message"]) == ("HTTP", "Error", "step process lost")
    assert eng.status["phase"] == "Failed"


def test_http_exit_handler_runs_after_the_workflow_deadline(testdata):
    """Upstream hooks_test.go TestHttpExitHandlerWithWorkflowLevelDeadline: the workflow Fails on
    its deadline, its exit handler (an http step) still runs and Succeeds."""
    sim = Simulation(testdata("http-exit-deadline.yaml"),
                     {"sleep": Outcome(duration=5), "http": Outcome(reply=reply(body="{}"))})
    sim.run()
    assert sim.status["phase"] == "Failed"
    assert sim.phase("sleep") == "Failed"
    exit_node = sim.nodes(f"{sim.wf['metadata']['name']}.onExit")[0]
    assert exit_node["phase"] == "Succeeded"
    assert sim.phase("http") == "Succeeded" and sim.nodes("http")[0]["type"] == "HTTP"
