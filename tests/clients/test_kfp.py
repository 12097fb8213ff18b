"""Kubeflow Pipelines v1 compiled workflows (testdata/kfp-*.yaml, see its README) run as Argo runs
them: `python:3.7` steps with `sh -c` / python programs, outputs written to files and passed on
as parameters and as artifacts, ParallelFor loop templates with `parallelism: 0` (no limit),
dsl.Condition, ExitHandler, set_retry, resource limits, `pipelines.kubeflow.org/*` metadata. KFP
passes values through files, never `outputs.result`: Argo keeps no result for its steps, and what
they print is read in their log."""
from __future__ import annotations

import pytest

from client_runs import TESTDATA, by_name, param

pytestmark = pytest.mark.integration


def printed(tiphys, wf: dict, prefix: str) -> dict[str, str]:
    """What each step under `prefix` printed (its log), by node name; none keeps a result."""
    pods = {k: n for k, n in by_name(wf).items() if k.startswith(prefix) and n["type"] == "Pod"}
    assert not any("result" in (n.get("outputs") or {}) for n in pods.values())
    return {k: tiphys.log(wf, n) for k, n in pods.items()}


def test_parallelfor_static(tiphys):
    wf = tiphys.run(TESTDATA / "kfp-parallelfor-static.yaml")
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded"
    assert nodes["for-loop-2"]["type"] == "TaskGroup" and nodes["for-loop-2(0:a:1,b:2)"]["type"] == "DAG"
    assert printed(tiphys, wf, "for-loop-2") == {"for-loop-2(0:a:1,b:2).add": "3", "for-loop-2(1:a:3,b:4).add": "7"}
    assert sorted(printed(tiphys, wf, "for-loop-4").values()) == ["1", "2", "3"]


def test_parallelfor_dynamic_over_an_output(tiphys):
    wf = tiphys.run(TESTDATA / "kfp-parallelfor-dynamic.yaml", "-p", "n=2")
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded"
    assert printed(tiphys, wf, "for-loop-1") == {
        "for-loop-1(0:a:0,b:0).add": "0", "for-loop-1(0:a:0,b:0).print-msg": "0",
        "for-loop-1(1:a:1,b:10).add": "11", "for-loop-1(1:a:1,b:10).print-msg": "11"}
    assert param(nodes["for-loop-1(1:a:1,b:10).add"], "add-Output") == "11"


def test_condition(tiphys):
    wf = tiphys.run(TESTDATA / "kfp-condition.yaml")
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded"
    assert param(nodes["flip-coin"], "flip-coin-Output") == "heads"
    assert printed(tiphys, wf, "condition-1.print-msg") == {"condition-1.print-msg": "it was heads"}
    assert nodes["condition-2"]["phase"] == "Skipped"
    assert not any(k.startswith("condition-2.") for k in nodes)


def test_exit_handler_runs_after_a_failed_retried_step(tiphys):
    wf = tiphys.run(TESTDATA / "kfp-exit-handler.yaml")
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Failed"
    retried = nodes["exit-handler-1.fail-once-marker"]
    assert retried["type"] == "Retry" and retried["message"] == "No more retries left"
    assert [nodes[f"exit-handler-1.fail-once-marker({i})"]["phase"] for i in range(3)] == ["Failed"] * 3
    assert printed(tiphys, wf, "exit-handler-1.print-msg-2") == {"exit-handler-1.print-msg-2": "hello"}
    assert nodes["onExit"]["type"] == "Pod" and printed(tiphys, wf, "onExit") == {"onExit": "exit handler ran"}


def test_file_outputs_as_parameters_and_artifacts(tiphys):
    wf = tiphys.run(TESTDATA / "kfp-artifacts-and-params.yaml", "-p", "n=5")
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded"
    assert param(nodes["read-data"], "read-data-Output") == "10"        # 0+1+2+3+4 from the artifact
    assert param(nodes["train"], "train-model") == "model-0.1-10"      # the Retry node has its child's outputs
    assert nodes["train(0)"]["phase"] == "Succeeded"
    assert printed(tiphys, wf, "print-msg") == {"print-msg": "model-0.1-10", "print-msg-2": "last"}


def test_nested_conditions_and_loops(tiphys):
    wf = tiphys.run(TESTDATA / "kfp-nested.yaml")
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded"
    assert printed(tiphys, wf, "condition-1.for-loop-3") == {
        "condition-1.for-loop-3(0:1).add-2": "4", "condition-1.for-loop-3(1:2).add-2": "5",
        "condition-1.for-loop-3(1:2).condition-4.print-msg": "inner two"}
    assert nodes["condition-1.for-loop-3(0:1).condition-4"]["phase"] == "Skipped"


def test_yaml_components_metrics_and_pipeline_conf(tiphys):
    wf = tiphys.run(TESTDATA / "kfp-components-and-metrics.yaml")
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    assert printed(tiphys, wf, "sum-dataset") == {"sum-dataset": "total 15"}
    assert sorted(printed(tiphys, wf, "for-loop-1").values()) == ["x 15", "y 15"]
    report = nodes["report"]
    assert printed(tiphys, wf, "report") == {"report": f"run {wf['metadata']['uid']} pod {_pod(wf, report)}"}
    names = {a["name"] for a in report["outputs"]["artifacts"]}
    assert names == {"mlpipeline-metrics", "mlpipeline-ui-metadata"}


def _pod(wf: dict, node: dict) -> str:
    """Argo's v2 pod name: <workflow>-<template>-<node id's hash>."""
    return f"{wf['metadata']['name']}-{node['templateName']}-{node['id'].rsplit('-', 1)[1]}"
