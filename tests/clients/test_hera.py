"""Workflows written with Hera (the Python SDK for Argo), run by `tiphys run` as Argo runs them.

Hera's @script functions become `script` templates whose source json-loads each
`{{inputs.parameters.x}}`; outputs go through files (`valueFrom.path`, artifact paths) and stdout
(`outputs.result`, kept only where the calling template names it; the other steps' stdout is read
in their log). The expected phases, node names and outputs are Argo's."""
from __future__ import annotations

import pytest
import yaml

pytest.importorskip("hera", reason="hera is not installed (it is in the test extras)")

import hera_programs as programs  # noqa: E402
from client_runs import by_name, param  # noqa: E402

pytestmark = pytest.mark.integration


def test_dag_fan_out_with_param_and_when(tiphys):
    wf = tiphys.run(programs.dag_fan_out().to_dict())
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded"
    assert nodes["consume"]["type"] == "TaskGroup"
    # withParam over a JSON list of objects: Argo names each child by its index and item
    loop = {k: tiphys.log(wf, n) for k, n in nodes.items() if k.startswith("consume(")}
    assert loop == {"consume(0:i:0,sq:0)": "item 0 -> 0", "consume(1:i:1,sq:1)": "item 1 -> 1",
                    "consume(2:i:2,sq:4)": "item 2 -> 4"}
    assert nodes["heads"]["phase"] == "Succeeded"
    assert nodes["tails"]["phase"] == "Skipped" and nodes["tails"]["type"] == "Skipped"
    assert nodes["tails"]["message"] == "when 'heads == tails' evaluated false"


def test_workflow_arguments_override(tiphys):
    wf = tiphys.run(programs.dag_fan_out().to_dict(), "-p", "n=1")
    assert [k for k in by_name(wf) if k.startswith("consume(")] == ["consume(0:i:0,sq:0)"]


def test_ml_pipeline_parameters_artifacts_continue_on_exit_handler(tiphys):
    wf = tiphys.run(programs.ml_pipeline().to_dict())
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded"   # `fail` failed, but continueOn.failed
    assert param(nodes["train"], "model") == "model-lr-0.5"
    assert tiphys.log(wf, nodes["evaluate"]) == "model-lr-0.5 lr,0.5"
    assert nodes["fail"]["phase"] == "Failed" and nodes["fail"]["message"] == "Error (exit code 2)"
    assert tiphys.log(wf, nodes["after"]) == "Failed"
    # the exit handler is a Steps node named <workflow>.onExit and sees the workflow's status
    assert nodes["onExit"]["type"] == "Steps"
    assert tiphys.log(wf, nodes["onExit[0].notify"]) == "Succeeded"
    assert not any("result" in nodes[k]["outputs"] for k in ("evaluate", "after", "onExit[0].notify"))   # no caller names them


def test_steps_retries_parallel_group_loop_result(tiphys):
    wf = tiphys.run(programs.steps_retry_loop().to_dict())
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded"
    # the claim (volumeClaimTemplates) is shared by the attempts, so the third one succeeds
    assert nodes["[0].flaky"]["type"] == "Retry"
    assert [nodes[f"[0].flaky({i})"]["phase"] for i in range(3)] == ["Failed", "Failed", "Succeeded"]
    assert "[0].flaky(3)" not in nodes
    assert tiphys.log(wf, nodes["[1].say-hi"]).splitlines()[1] == "< hi >"
    assert tiphys.log(wf, nodes["[1].say-default"]).splitlines()[1] == "< moo >"
    assert tiphys.log(wf, nodes["[1].scratch-write"]) == "mine"
    assert [nodes[f"[2].square({i}:{x})"]["outputs"]["result"] for i, x in enumerate((1, 2, 3))] == ["1", "4", "9"]
    # a loop's `outputs.result` is the JSON list of its children's results
    assert tiphys.log(wf, nodes["[3].total"]) == "14" and "result" not in nodes["[3].total"]["outputs"]
    assert nodes["[4].skipped"]["phase"] == "Skipped"


def test_depends_operators(tiphys):
    wf = tiphys.run(programs.depends_logic().to_dict())
    nodes = by_name(wf)
    phases = {k: nodes[k]["phase"] for k in ("a", "b", "recover", "either", "c", "d")}
    assert phases == {"a": "Failed", "b": "Succeeded", "recover": "Succeeded", "either": "Omitted",
                      "c": "Succeeded", "d": "Succeeded"}
    # `either` is a leaf omitted after a failure: the DAG fails as Argo's does
    assert wf["status"]["phase"] == "Failed"


def test_template_ref_to_a_workflow_template(tiphys, tmp_path):
    lib = tmp_path / "lib.yaml"
    lib.write_text(yaml.safe_dump(programs.library_template().to_dict()))
    created = tiphys("template", "create", lib)
    assert created.returncode == 0, created.stderr
    wf = tiphys.run(programs.uses_library().to_dict())
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    assert nodes["[0].call"]["type"] == "Steps"
    assert tiphys.log(wf, nodes["[0].call[0].say"]) == "hello hera"
    assert tiphys.log(wf, nodes["[1].say-direct"]) == "direct"
