"""Sensor logic as Argo Events has it: gjson/sjson paths, filters, trigger parameters,
conditions, trigger execution and failure recording; WorkflowEventBinding; GitHub HMAC; lint."""
from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from tiphys.events import bindings, filters, params, paths, sources, triggers
from tiphys.events.sensors import SensorRunner, condition_holds
from tiphys.spec.lintevents import lint_event_kind

EVENT = {"context": {"id": "x", "source": "webhook", "specversion": "1.0", "type": "webhook",
                     "datacontenttype": "application/json", "subject": "example", "time": "2024-01-01T12:30:00Z"},
         "data": {"header": {"Content-Type": ["application/json"]},
                  "body": {"message": "hello world", "n": 7, "ok": True, "list": [{"id": "a"}, {"id": "b"}],
                           "obj": {"bar": "baz"}}}}


def test_paths():
    d = EVENT["data"]
    assert paths.get(d, "body.message") == "hello world"
    assert paths.get(d, "header.Content-Type.0") == "application/json"
    assert paths.get(d, "body.list.#.id") == ["a", "b"] and paths.get(d, "body.list.#") == 2
    assert paths.get(d, "body.missing") is paths.MISSING
    assert paths.get({"a.b": 1}, "a\\.b") == 1
    obj = {"spec": {"arguments": {"parameters": [{"name": "p", "value": ""}]}}}
    paths.put(obj, "spec.arguments.parameters.0.value", "v")
    paths.put(obj, "spec.arguments.parameters.-1", {"name": "q"})
    assert obj["spec"]["arguments"]["parameters"] == [{"name": "p", "value": "v"}, {"name": "q"}]


@pytest.mark.parametrize("spec, passes", [
    ({"data": [{"path": "body.message", "type": "string", "value": ["^hello"]}]}, True),
    ({"data": [{"path": "body.message", "type": "string", "value": ["bye"]}]}, False),
    ({"data": [{"path": "body.message", "type": "string", "value": ["hello"], "comparator": "!="}]}, False),
    ({"data": [{"path": "body.n", "type": "number", "value": ["5"], "comparator": ">"}]}, True),
    ({"data": [{"path": "body.ok", "type": "bool", "value": ["false"]}]}, False),
    ({"data": [{"path": "body.nope", "type": "string", "value": ["x"]}]}, False),       # missing path rejects
    ({"exprs": [{"expr": "n > 5 && m == \"hello world\"", "fields": [{"name": "n", "path": "body.n"},
                                                                      {"name": "m", "path": "body.message"}]}]}, True),
    ({"exprs": [{"expr": "m =~ \"^hel\"", "fields": [{"name": "m", "path": "body.message"}]}]}, True),
    ({"context": {"type": "webhook", "subject": "example"}}, True),
    ({"context": {"source": "github"}}, False),
    ({"time": {"start": "12:00:00", "stop": "13:00:00"}}, True),
    ({"time": {"start": "22:00:00", "stop": "02:00:00"}}, False),
])
def test_filters(spec, passes):
    assert filters.passes(spec, EVENT) is passes


def test_filters_or_passes_when_any_group_does():
    spec = {"context": {"source": "github"}, "data": [{"path": "body.n", "type": "number", "value": ["7"]}]}
    assert not filters.passes(spec, EVENT)
    assert filters.passes(spec, EVENT, operator="or")


def test_parameters():
    events = {"dep": EVENT}
    assert params.resolve({"dependencyName": "dep", "dataKey": "body.message"}, events) == ("hello world", False)
    assert params.resolve({"dependencyName": "dep", "dataKey": "body.obj"}, events) == ({"bar": "baz"}, False)
    assert params.resolve({"dependencyName": "dep", "dataKey": "body.obj", "useRawData": True},
                          events) == ({"bar": "baz"}, True)
    assert params.resolve({"dependencyName": "dep", "contextKey": "type"}, events) == ("webhook", False)
    assert params.resolve({"dependencyName": "dep", "dataKey": "body.nope", "value": "dflt"}, events)[0] == "dflt"
    assert params.resolve({"dependencyName": "other", "value": "dflt"}, events)[0] == "dflt"
    assert params.resolve({"dependencyName": "dep", "dataTemplate": "{{ .Input.body.message | upper }}"},
                          events)[0] == "HELLO WORLD"
    with pytest.raises(params.ParameterError):
        params.resolve({"dependencyName": "dep", "dataKey": "body.nope"}, events)
    whole = json.loads(params.resolve({"dependencyName": "dep"}, events)[0])
    assert whole["context"]["type"] == "webhook" and isinstance(whole["data"], str)   # Go []byte: base64
    obj = {"a": "hello", "b": {}}
    params.apply(obj, [{"src": {"dependencyName": "dep", "value": "hey!!"}, "dest": "a", "operation": "prepend"},
                       {"src": {"dependencyName": "dep", "dataKey": "body.n"}, "dest": "b.n"},
                       {"src": {"dependencyName": "dep", "dataKey": "body.obj", "useRawData": True}, "dest": "b.o"}],
                 events)
    assert obj == {"a": "hey!!hello", "b": {"n": "7", "o": {"bar": "baz"}}}


def test_conditions():
    deps = ["test-dep-1", "test-dep-2", "test-dep-3"]
    expr = "(test-dep-1 && test-dep-2) || test-dep-3"
    assert not condition_holds(expr, deps, {"test-dep-1"})
    assert condition_holds(expr, deps, {"test-dep-1", "test-dep-2"})
    assert condition_holds(expr, deps, {"test-dep-3"})
    assert not condition_holds(None, deps, {"test-dep-1", "test-dep-2"})     # default: all


class FakeActions:
    def __init__(self, fail: int = 0):
        self.created, self.fail = [], fail

    def create_workflow(self, wf):
        if self.fail:
            self.fail -= 1
            raise triggers.TriggerError("store is down")
        self.created.append(wf)
        return wf


def _sensor(**trigger):
    return {"metadata": {"name": "s", "namespace": "default"}, "spec": {
        "dependencies": [{"name": "a", "eventSourceName": "hooks", "eventName": "example"},
                         {"name": "b", "eventSourceName": "hooks", "eventName": "other"}],
        "triggers": [{"template": {"name": "t", "conditions": "a", "argoWorkflow": {"source": {"resource": {
            "kind": "Workflow", "metadata": {"generateName": "x-"}, "spec": {}}}, "parameters": [
            {"src": {"dependencyName": "a", "dataKey": "body.message"}, "dest": "spec.msg"}]}}, **trigger}]}}


def test_runner_fires_with_parameters_and_labels():
    acts, recorded = FakeActions(), []
    runner = SensorRunner(acts, lambda key, t, err: recorded.append(err))
    runner.set_sensors({("default", "s"): _sensor()})
    assert runner.dispatch("default", "hooks", "example", EVENT) == 1
    assert runner.dispatch("default", "hooks", "unrelated", EVENT) == 0
    assert runner.dispatch("other-ns", "hooks", "example", EVENT) == 0
    wf = acts.created[0]
    assert wf["spec"]["msg"] == "hello world"
    assert wf["metadata"]["labels"]["events.argoproj.io/sensor"] == "s"
    assert wf["metadata"]["labels"]["events.argoproj.io/trigger"] == "t"
    assert recorded == [None]


def test_failing_trigger_is_recorded_and_retried_only_with_at_least_once():
    acts, recorded = FakeActions(fail=1), []
    runner = SensorRunner(acts, lambda key, t, err: recorded.append(err))
    runner.set_sensors({("default", "s"): _sensor()})
    runner.dispatch("default", "hooks", "example", EVENT)
    assert acts.created == [] and "store is down" in recorded[-1]
    acts.fail = 1
    runner.set_sensors({("default", "s"): _sensor(atLeastOnce=True, retryStrategy={"steps": 2, "duration": "10ms"})})
    runner.dispatch("default", "hooks", "example", EVENT)
    assert len(acts.created) == 1 and recorded[-1] is None


def test_unknown_trigger_type_fails_cleanly():
    sensor = _sensor()
    sensor["spec"]["triggers"][0]["template"] = {"name": "t", "http": {"url": "http://x"}}
    recorded = []
    runner = SensorRunner(FakeActions(), lambda key, t, err: recorded.append(err))
    runner.set_sensors({("default", "s"): sensor})
    runner.dispatch("default", "hooks", "example", EVENT)
    runner.dispatch("default", "hooks", "other", EVENT)
    assert "unsupported trigger type 'http'" in recorded[-1]


def test_github_signature():
    body = b'{"ref":"main"}'
    good = {"X-Hub-Signature-256": ["sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()]}
    assert sources.signature_ok("k", body, good) is None
    assert sources.signature_ok("k", body + b" ", good) == "payload signature check failed"
    assert sources.signature_ok("k", body, {}) == "missing signature"
    sha1 = {"X-Hub-Signature": ["sha1=" + hmac.new(b"k", body, hashlib.sha1).hexdigest()]}
    assert sources.signature_ok("k", body, sha1) is None


def test_workflow_event_binding():
    binding = {"metadata": {"name": "b", "namespace": "argo"}, "spec": {
        "event": {"selector": 'payload.message != "" && metadata["x-argo-e2e"] == ["true"]'},
        "submit": {"workflowTemplateRef": {"name": "tmpl"}, "metadata": {"labels": {"k": '"v"'}},
                   "arguments": {"parameters": [{"name": "m", "valueFrom": {"event": "payload.message"}},
                                                {"name": "o", "valueFrom": {"event": "payload.foo"}}]}}}}
    env = bindings.environment({"message": "My%Test%", "foo": {"bar": "baz"}}, [("X-Argo-E2E", "true")], "argo", "")
    wf = bindings.workflow_for(binding, {"spec": {}}, env)
    assert wf["spec"]["arguments"]["parameters"] == [{"name": "m", "value": "My%Test%"},
                                                     {"name": "o", "value": '{"bar":"baz"}'}]
    assert wf["metadata"]["labels"] == {"workflows.argoproj.io/workflow-template": "tmpl",
                                        "workflows.argoproj.io/workflow-event-binding": "b", "k": "v"}
    assert bindings.workflow_for(binding, {"spec": {}}, {**env, "metadata": {}}) is None
    binding["spec"]["event"]["selector"] = "payload.message"
    with pytest.raises(bindings.BindingError, match="unable to cast"):
        bindings.workflow_for(binding, {"spec": {}}, env)


def test_lint_of_event_kinds_is_located():
    found = []
    lint_event_kind("Sensor", {"spec": {"dependencies": [{"name": "a", "eventSourceName": "s", "eventName": "e",
                                                          "filterz": {}}],
                                        "triggers": [{"template": {"name": "t", "slack": {}}},
                                                     {"template": {"name": "u", "conditions": "a && b",
                                                                   "k8s": {"operation": "explode"}}}]}},
                    lambda path, msg: found.append((path, msg)))
    paths_found = {p for p, _ in found}
    assert "spec.dependencies[0].filterz" in paths_found
    assert "spec.triggers[0].template.slack" in paths_found
    assert "spec.triggers[1].template.conditions" in paths_found
    assert "spec.triggers[1].template.k8s.operation" in paths_found
    found.clear()
    lint_event_kind("EventSource", {"spec": {"sqs": {"x": {}}, "webhook": {"e": {"port": "99999", "endpoint": "x"}}}},
                    lambda path, msg: found.append((path, msg)))
    assert {p for p, _ in found} == {"spec.sqs", "spec.webhook.e.port", "spec.webhook.e.endpoint"}
