"""A second sweep of Hera programs (hera_programs_b.py) run by `tiphys run` with the host
executor, and a subset submitted to a live `tiphys server` with Hera's WorkflowsService. Each
test states what Argo reports for the program: phases, the node tree (types, display names,
boundaries, children), messages, outputs and `status.progress` (Argo's count of Succeeded,
Skipped or Omitted pods, suspends... over all of them, the exit handler's included)."""
from __future__ import annotations

import json
import time

import pytest
import yaml

pytest.importorskip("hera", reason="hera is not installed (it is in the test extras)")

import hera_programs_b as programs  # noqa: E402
from client_runs import by_name, finished, param  # noqa: E402

pytestmark = pytest.mark.integration
NS = "argo"


def ids(wf: dict) -> dict[str, str]:
    """Node id -> name less the workflow's name, as by_name keys them."""
    root = wf["metadata"]["name"]
    return {n["id"]: n["name"][len(root):].lstrip(".") for n in wf["status"]["nodes"].values()}


def kids(wf: dict, node: dict, key: str = "children") -> list[str]:
    names = ids(wf)
    return [names[c] for c in node.get(key) or []]


def boundary(wf: dict, node: dict) -> str | None:
    return ids(wf).get(node.get("boundaryID")) if node.get("boundaryID") else None


def stamps(printed: str) -> tuple[float, float]:
    """The start and end times a step printed last (its log: no caller names its result)."""
    start, end = printed.split()[-2:]
    return float(start), float(end)


# --------------------------------------------------------------------------- `when`, loops
def check_coinflip(wf: dict, log) -> None:
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded" and wf["status"]["progress"] == "3/3"
    assert nodes[""]["type"] == "Steps" and kids(wf, nodes[""]) == ["[0]"]
    assert nodes["[0]"]["type"] == "StepGroup" and nodes["[0]"]["displayName"] == "[0]"
    assert "templateName" not in nodes["[0]"]     # Argo's step groups name no template
    assert kids(wf, nodes["[0].flip"]) == ["[1]"]
    assert nodes["[0].flip"]["outputs"]["result"] == "heads"
    # no caller names heads' result: Argo keeps none, its stdout is in its log
    assert "result" not in nodes["[1].heads"]["outputs"] and log(wf, nodes["[1].heads"]) == "it was heads"
    assert nodes["[1].tails"]["type"] == "Skipped" and nodes["[1].tails"]["phase"] == "Skipped"
    assert nodes["[1].tails"]["message"] == "when 'heads == tails' evaluated false"
    assert nodes["[1].expr-heads"]["phase"] == "Succeeded"
    # `{{=...}}` is evaluated first: govaluate then sees the literal `false`
    assert nodes["[1].expr-tails"]["message"] == "when 'false' evaluated false"
    assert {boundary(wf, n) for k, n in nodes.items() if k} == {""}
    # the last group's children, Skipped ones included, are the Steps node's outbound nodes
    assert kids(wf, nodes[""], "outboundNodes") == ["[1].heads", "[1].tails", "[1].expr-heads", "[1].expr-tails"]
    assert nodes["[1].heads"]["progress"] == "1/1" and nodes[""]["progress"] == "3/3"


def test_coinflip_when_on_results(tiphys):
    check_coinflip(tiphys.run(programs.coinflip().to_dict()), tiphys.log)


def test_items_of_dicts_and_when_on_item_fields(tiphys):
    wf = tiphys.run(programs.items_of_dicts().to_dict())
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded" and wf["status"]["progress"] == "3/3"
    # a map item names the child by its sorted keys
    assert tiphys.log(wf, nodes["[0].greet(0:age:30,name:alice)"]) == "alice is 30"
    assert nodes["[0].greet(1:age:40,name:bob)"]["displayName"] == "greet(1:age:40,name:bob)"
    assert nodes["[1].senior(0:age:30,name:alice)"]["phase"] == "Skipped"
    assert nodes["[1].senior(0:age:30,name:alice)"]["message"] == "when '30 > 35' evaluated false"
    assert tiphys.log(wf, nodes["[1].senior(1:age:40,name:bob)"]) == "bob is 40"
    assert all("result" not in n["outputs"] for n in nodes.values() if n["type"] == "Pod")   # no caller names one
    assert kids(wf, nodes["[0]"]) == ["[0].greet(0:age:30,name:alice)", "[0].greet(1:age:40,name:bob)"]


def test_with_param_over_objects_aggregated(tiphys):
    wf = tiphys.run(programs.with_param_objects().to_dict())
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded" and wf["status"]["progress"] == "4/4"
    assert nodes[""]["type"] == "DAG" and kids(wf, nodes[""]) == ["gen"]
    assert nodes["each"]["type"] == "TaskGroup" and kids(wf, nodes["gen"]) == ["each"]
    assert kids(wf, nodes["each"]) == ["each(0:name:ann lee,team:ml)", "each(1:name:bo,team:data)"]
    assert nodes["each(0:name:ann lee,team:ml)"]["outputs"]["result"] == "ml/ann lee"
    assert kids(wf, nodes["each(1:name:bo,team:data)"]) == ["collect"]
    # tasks.each.outputs.result of a loop: the JSON list of its children's results
    assert nodes["collect"]["inputs"]["parameters"][0]["value"] == '["ml/ann lee","data/bo"]'
    assert kids(wf, nodes[""], "outboundNodes") == ["collect"]
    assert nodes["each"]["progress"] == "3/3"   # the loop's children, and `collect` they lead to


def test_with_sequence_and_expressions(tiphys):
    wf = tiphys.run(programs.expressions().to_dict())
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded" and wf["status"]["progress"] == "5/5"
    assert tiphys.log(wf, nodes["[0].upper"]) == "WORLD"
    assert tiphys.log(wf, nodes["[1].math"]) == "8"
    assert [tiphys.log(wf, nodes[f"[2].seq({i}:id-0{i + 1})"]) for i in range(3)] == ["id-01", "id-02", "id-03"]


# --------------------------------------------------------------------------- outputs, artifacts
def test_output_defaults_and_steps_outputs(tiphys):
    wf = tiphys.run(programs.output_defaults().to_dict())
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded" and wf["status"]["progress"] == "3/3"
    assert param(nodes["[0].write"], "found") == "here"          # one trailing newline trimmed
    assert param(nodes["[0].write"], "missing") == "fallback"    # valueFrom.default, no file
    assert nodes["[1].lvl"]["inputs"]["parameters"] == [{"name": "level", "value": "info"}]
    assert tiphys.log(wf, nodes["[2].use"]) == "here+fallback"
    assert nodes[""]["outputs"]["parameters"] == [{"name": "picked", "value": "fallback"}]


def test_artifact_directory_without_archive(tiphys):
    wf = tiphys.run(programs.artifact_directories().to_dict())
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded" and wf["status"]["progress"] == "2/2"
    arts = {a["name"]: a for a in nodes["[0].make"]["outputs"]["artifacts"]}
    assert arts["tree"]["path"] == "/tmp/tree" and arts["tree"]["archive"] == {"none": {}}
    assert arts["report"]["path"] == "/tmp/report.txt" and "archive" not in arts["report"]
    assert tiphys.log(wf, nodes["[1].read"]) == "a.txt,sub/b.txt B rows=2"
    assert [(a["name"], a["path"]) for a in nodes["[1].read"]["inputs"]["artifacts"]] == [
        ("tree", "/tmp/in"), ("report", "/tmp/r.txt")]


def test_global_outputs(tiphys):
    wf = tiphys.run(programs.global_outputs().to_dict())
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded"
    assert wf["status"]["outputs"]["parameters"] == [{"name": "best-score", "value": "0.93"}]
    assert [a["name"] for a in wf["status"]["outputs"]["artifacts"]] == ["best-model"]
    assert nodes["[0].pick"]["outputs"]["parameters"] == [
        {"name": "score", "globalName": "best-score", "value": "0.93"}]
    assert nodes["[0].pick"]["outputs"]["artifacts"][0]["globalName"] == "best-model"
    assert tiphys.log(wf, nodes["[1].report"]) == "best=0.93"


def test_multiline_result(tiphys):
    wf = tiphys.run(programs.multiline_result().to_dict())
    nodes = by_name(wf)
    assert nodes["[0].table"]["outputs"]["result"] == "name,score\na,1\nb,2\n"
    assert nodes["[1].count"]["inputs"]["parameters"][0]["value"] == "name,score\na,1\nb,2\n"
    assert "result" not in nodes["[1].count"]["outputs"] and tiphys.log(wf, nodes["[1].count"]) == "3 b,2"


# --------------------------------------------------------------------------- failures, exit handlers
def check_exit_handler_failures(wf: dict, log) -> None:
    nodes = by_name(wf)
    boom = nodes["[0].boom"]
    assert wf["status"]["phase"] == "Failed"
    assert wf["status"]["message"] == f"child '{boom['id']}' failed"
    assert nodes["[0]"]["phase"] == "Failed" and nodes["[0]"]["message"] == f"child '{boom['id']}' failed"
    assert boom["message"] == "Error (exit code 3)" and boom["outputs"]["exitCode"] == "3"
    assert "[1]" not in nodes and "[1].never" not in nodes
    assert wf["status"]["progress"] == "2/3"     # boom failed; both exit handler pods succeeded
    exit_node = nodes["onExit"]
    assert exit_node["type"] == "Steps" and exit_node["displayName"] == f"{wf['metadata']['name']}.onExit"
    assert exit_node["nodeFlag"] == {"hooked": True} and "boundaryID" not in exit_node
    assert exit_node["id"] not in nodes[""].get("children", [])
    assert boundary(wf, nodes["onExit[0].status"]) == "onExit"
    assert log(wf, nodes["onExit[0].status"]) == "Failed"
    failures = json.loads(log(wf, nodes["onExit[1].failures"]))
    root = wf["metadata"]["name"]
    assert sorted((f["displayName"], f["phase"], f["templateName"], f["message"]) for f in failures) == sorted([
        (root, "Failed", "main", f"child '{boom['id']}' failed"),
        ("[0]", "Failed", "", f"child '{boom['id']}' failed"),
        ("boom", "Failed", "fail", "Error (exit code 3)")])
    assert {f["podName"] for f in failures if f["displayName"] == "boom"} == {f"{root}-fail-{boom['id'].rsplit('-', 1)[1]}"}


def test_exit_handler_reads_workflow_failures(tiphys):
    check_exit_handler_failures(tiphys.run(programs.exit_handler_failures().to_dict()), tiphys.log)


def test_failing_second_group(tiphys):
    wf = tiphys.run(programs.failing_steps_message().to_dict())
    nodes = by_name(wf)
    bad = nodes["[1].bad"]
    assert wf["status"]["phase"] == "Failed" and wf["status"]["progress"] == "1/2"
    assert nodes["[0]"]["phase"] == "Succeeded" and kids(wf, nodes["[0].ok"]) == ["[1]"]
    assert nodes[""]["message"] == nodes["[1]"]["message"] == f"child '{bad['id']}' failed"
    assert kids(wf, nodes[""], "outboundNodes") == ["[1].bad"]


def check_retry_policies(wf: dict, log) -> None:
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded"          # every step continues on failure
    assert wf["status"]["progress"] == "0/6"             # six attempts, none succeeded
    # OnError does not retry a failure
    assert nodes["[0].onerror"]["type"] == "Retry" and kids(wf, nodes["[0].onerror"]) == ["[0].onerror(0)"]
    assert nodes["[0].onerror"]["phase"] == "Failed" and nodes["[0].onerror"]["message"] == "Error (exit code 1)"
    # Always retries to the limit: 3 attempts, backoff 1s then 2s
    always = [nodes[f"[0].always({i})"] for i in range(3)]
    assert nodes["[0].always"]["message"] == "No more retries left" and "[0].always(3)" not in nodes
    assert all(a["nodeFlag"] == {"retried": True} for a in always)
    # the expression stops retrying once lastRetry.exitCode is no longer 3; `{{retries}}` passed as
    # an argument is the attempt number in each attempt
    assert kids(wf, nodes["[0].expr"]) == ["[0].expr(0)", "[0].expr(1)"]
    assert [log(wf, nodes[f"[0].expr({i})"]) for i in range(2)] == ["attempt 0", "attempt 1"]
    assert [nodes[f"[0].expr({i})"]["outputs"]["exitCode"] for i in range(2)] == ["3", "4"]
    assert nodes["[0].expr"]["message"] == "retryStrategy.expression evaluated to false"
    assert nodes["[0].expr"]["outputs"]["exitCode"] == "4"


def test_retry_policies(tiphys):
    started = time.monotonic()
    check_retry_policies(tiphys.run(programs.retry_policies().to_dict()), tiphys.log)
    assert time.monotonic() - started >= 3          # the backoff waited 1 + 2 seconds


def test_template_deadlines_and_continue_on(tiphys):
    wf = tiphys.run(programs.deadlines().to_dict())
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded" and wf["status"]["progress"] == "1/3"
    assert nodes["[0].deadline"]["phase"] == "Failed"
    assert nodes["[0].deadline"]["message"] == "Pod was active on the node longer than the specified deadline"
    assert nodes["[0].timeout"]["phase"] == "Failed"
    assert tiphys.log(wf, nodes["[1].after"]) == "Failed Failed"


def test_dag_fail_fast_false_keeps_starting_tasks(tiphys):
    wf = tiphys.run(programs.fail_fast_dag().to_dict())
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Failed" and wf["status"]["progress"] == "2/3"
    assert "message" not in wf["status"] and "message" not in nodes[""]   # Argo: a failed DAG has none
    assert nodes["after-bad"]["type"] == "Skipped" and nodes["after-bad"]["phase"] == "Omitted"
    assert nodes["after-bad"]["message"] == "omitted: depends condition not met"
    # `later` starts after `bad` failed: failFast is off
    assert nodes["later"]["phase"] == "Succeeded" and nodes["later"]["startedAt"] >= nodes["bad"]["finishedAt"]


def test_depends_on_states(tiphys):
    wf = tiphys.run(programs.depends_states().to_dict())
    nodes = by_name(wf)
    phases = {k: nodes[k]["phase"] for k in ("a", "s", "on-failed", "on-errored", "on-skipped", "on-any")}
    assert phases == {"a": "Failed", "s": "Skipped", "on-failed": "Succeeded", "on-errored": "Omitted",
                      "on-skipped": "Succeeded", "on-any": "Succeeded"}
    # on-errored, a target, is omitted under the failed `a`: the DAG fails
    assert wf["status"]["phase"] == "Failed" and wf["status"]["progress"] == "3/4"
    assert kids(wf, nodes["a"]) == ["on-failed", "on-errored", "on-any"]
    assert kids(wf, nodes["s"]) == ["on-skipped", "on-any"]


def test_empty_loops_are_skipped(tiphys):
    wf = tiphys.run(programs.empty_loops().to_dict())
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded" and wf["status"]["progress"] == "3/3"
    for key in ("[1].each", "[2].dag.each"):
        assert (nodes[key]["type"], nodes[key]["phase"], nodes[key]["message"]) == (
            "Skipped", "Skipped", "Skipped, empty params")
    assert kids(wf, nodes["[2].dag.each"]) == ["[2].dag.after"]
    assert nodes["[2].dag.after"]["phase"] == "Succeeded"


def test_loop_outputs_any_succeeded_all_failed_and_dag_output_expression(tiphys):
    wf = tiphys.run(programs.loop_outputs().to_dict())
    nodes = by_name(wf)
    parts = nodes["parts"]
    assert parts["type"] == "TaskGroup" and parts["phase"] == "Failed" and "message" not in parts
    assert [param(nodes[f"parts({i}:{i + 1})"], "v") for i in range(3)] == ["10", "20", "30"]
    # a loop's output parameter: the JSON list of its children's values, failed ones included
    assert nodes["use"]["inputs"]["parameters"][0]["value"] == '["10","20","30"]'
    assert nodes["any-ok"]["phase"] == "Succeeded"
    assert nodes["all-bad"]["phase"] == "Omitted"
    # all-bad, a target, is omitted below the failed TaskGroup: the DAG fails with no message
    assert wf["status"]["phase"] == "Failed" and "message" not in wf["status"]
    assert "outputs" not in nodes[""]
    assert wf["status"]["progress"] == "4/5"


def test_exit_handler_failure_fails_the_workflow(tiphys):
    wf = tiphys.run(programs.exit_handler_fails().to_dict())
    nodes = by_name(wf)
    assert nodes[""]["phase"] == "Succeeded"
    assert nodes["onExit"]["type"] == "Pod" and nodes["onExit"]["phase"] == "Failed"
    assert wf["status"]["phase"] == "Failed" and wf["status"]["message"] == "Error (exit code 2)"
    assert wf["status"]["progress"] == "1/2" and nodes[""]["progress"] == "1/1"


def test_retry_strategy_on_a_steps_template(tiphys):
    wf = tiphys.run(programs.retried_steps().to_dict())
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded" and wf["status"]["progress"] == "3/4"
    go = nodes["[0].go"]
    assert go["type"] == "Retry" and kids(wf, go) == ["[0].go(0)", "[0].go(1)"]
    first, second = nodes["[0].go(0)"], nodes["[0].go(1)"]
    assert (first["type"], first["phase"], second["type"], second["phase"]) == ("Steps", "Failed", "Steps", "Succeeded")
    assert first["nodeFlag"] == second["nodeFlag"] == {"retried": True}
    assert first["message"] == f"child '{nodes['[0].go(0)[1].second']['id']}' failed"
    assert boundary(wf, nodes["[0].go(1)[1].second"]) == "[0].go(1)" and boundary(wf, second) == ""
    assert tiphys.log(wf, nodes["[0].go(1)[1].second"]) == "run 1"


def test_optional_artifact_that_is_not_there(tiphys):
    wf = tiphys.run(programs.optional_artifacts().to_dict())
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded"
    assert "artifacts" not in nodes["[0].make"]["outputs"]
    assert tiphys.log(wf, nodes["[1].use"]) == "False"
    assert nodes["[1].use"]["inputs"] == {"artifacts": [{"name": "maybe", "path": "/tmp/maybe", "optional": True}]}


# --------------------------------------------------------------------------- suspend, parallelism, sync
def test_suspend_duration_then_serial_loop(tiphys):
    wf = tiphys.run(programs.suspend_parallelism().to_dict())
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded" and wf["status"]["progress"] == "4/4"   # the Suspend counts
    assert nodes["[0].wait"]["type"] == "Suspend" and nodes["[0].wait"]["phase"] == "Succeeded"
    assert nodes["[1].serial"]["type"] == "Steps" and boundary(wf, nodes["[1].serial[0]"]) == "[1].serial"
    runs = sorted(stamps(tiphys.log(wf, nodes[f"[1].serial[0].n({i}:0.3)"])) for i in range(3))
    assert all(prev[1] <= nxt[0] for prev, nxt in zip(runs, runs[1:]))   # parallelism 1


def test_workflow_parallelism(tiphys):
    wf = tiphys.run(programs.workflow_parallelism().to_dict())
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded" and wf["status"]["progress"] == "4/4"
    runs = sorted(stamps(tiphys.log(wf, n)) for n in nodes.values() if n["type"] == "Pod")
    assert all(prev[1] <= nxt[0] for prev, nxt in zip(runs, runs[1:]))
    assert nodes["[1].fan"]["type"] == "DAG" and nodes["[1].fan.each"]["type"] == "TaskGroup"


def test_mutex_serialises_and_progress_counts_once(tiphys):
    wf = tiphys.run(programs.mutex().to_dict())
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded" and wf["status"]["progress"] == "2/2"
    first, second = sorted([stamps(tiphys.log(wf, nodes["[0].x"])), stamps(tiphys.log(wf, nodes["[0].y"]))])
    assert first[1] <= second[0]
    assert kids(wf, nodes["[0]"]) == ["[0].x", "[0].y"]
    assert all("synchronizationStatus" not in n and "message" not in n for n in (nodes["[0].x"], nodes["[0].y"]))


def check_memoized(wf: dict, log) -> None:
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded" and wf["status"]["progress"] == "3/3"
    first, second, other = nodes["[0].first"], nodes["[1].second"], nodes["[2].other"]
    assert first["memoizationStatus"] == {"hit": False, "key": "sq-4", "cacheName": "hera-memo"}
    assert second["memoizationStatus"] == {"hit": True, "key": "sq-4", "cacheName": "hera-memo"}
    # a cache hit runs no pod: Argo keeps the cached outputs, and no caller names the result here
    assert second["outputs"] == first["outputs"] and "result" not in first["outputs"]
    assert log(wf, first).startswith("16 ")
    assert second["type"] == "Pod" and second["phase"] == "Succeeded"
    assert other["memoizationStatus"]["hit"] is False and log(wf, other).startswith("25 ")
    assert kids(wf, nodes["[0]"]) == ["[0].first"] and kids(wf, second) == ["[2]"]


def test_memoize(tiphys):
    check_memoized(tiphys.run(programs.memoized().to_dict()), tiphys.log)


# --------------------------------------------------------------------------- structure, templates
def test_nested_dag_inside_steps(tiphys):
    wf = tiphys.run(programs.nested_dag_in_steps().to_dict())
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded" and wf["status"]["progress"] == "4/4"
    dag = nodes["[0].run-dag"]
    assert dag["type"] == "DAG" and dag["displayName"] == "run-dag" and boundary(wf, dag) == ""
    assert dag["inputs"]["parameters"] == [{"name": "tag", "value": "x"}]
    assert kids(wf, dag) == ["[0].run-dag.A"] and kids(wf, dag, "outboundNodes") == ["[0].run-dag.B", "[0].run-dag.C"]
    assert {boundary(wf, nodes[f"[0].run-dag.{t}"]) for t in "ABC"} == {"[0].run-dag"}
    assert nodes["[0].run-dag.A"]["displayName"] == "A"
    assert kids(wf, nodes["[0].run-dag.B"]) == ["[1]"] and kids(wf, nodes["[0].run-dag.C"]) == ["[1]"]
    assert tiphys.log(wf, nodes["[0].run-dag.C"]) == "A-x"
    assert dag["progress"] == "4/4"   # A, B, C and, through their children, `done`


def test_template_ref_to_a_cluster_workflow_template(tiphys, tmp_path):
    lib = tmp_path / "cluster-lib.yaml"
    lib.write_text(yaml.safe_dump(programs.cluster_library().to_dict()))
    created = tiphys("cluster-template", "create", lib)
    assert created.returncode == 0, created.stderr
    wf = tiphys.run(programs.uses_cluster_library().to_dict(), "-p", "word=override")
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    call = nodes["call"]
    assert call["type"] == "Steps" and call["templateRef"] == {
        "name": "hera-cluster-lib", "template": "twice", "clusterScope": True}
    assert call["templateScope"] == "cluster/hera-cluster-lib"
    assert [tiphys.log(wf, nodes[k]) for k in ("call[0].one", "call[1].two")] == ["1 override", "2 override"]
    assert {boundary(wf, nodes[k]) for k in ("call[0]", "call[0].one", "call[1].two")} == {"call"}


def test_env_from_configmap_and_secret_volume_and_pod_spec_patch(tiphys, tmp_path):
    objects = tmp_path / "objects.yaml"
    objects.write_text(yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "hera-settings"}, "data": {"region": "eu-west"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hera-secret"}, "stringData": {"token": "t0k3n"}}]))
    applied = tiphys("apply", "-f", objects)
    assert applied.returncode == 0, applied.stderr
    wf = tiphys.run(programs.env_sources().to_dict())
    show = by_name(wf)["[0].show"]
    assert wf["status"]["phase"] == "Succeeded", show.get("message")
    region, token, plain, patched, mounted = tiphys.log(wf, show).split()
    assert (region, plain, patched, mounted) == ("eu-west", "plain", "yes", "eu-west")
    assert token in ("t0k3n", "***")   # Tiphys masks secret values in what a step prints


def check_step_hooks(wf: dict, log) -> None:
    nodes = by_name(wf)
    root = wf["metadata"]["name"]
    assert wf["status"]["phase"] == "Succeeded" and wf["status"]["progress"] == "4/4"
    hook = nodes["[0].work.onExit"]
    assert hook["displayName"] == "work.onExit" and hook["nodeFlag"] == {"hooked": True}
    assert kids(wf, nodes["[0].work"]) == ["[0].work.onExit"]
    assert log(wf, hook) == "step Succeeded"
    done = nodes["hooks.done"]
    assert done["displayName"] == f"{root}.hooks.done" and done["nodeFlag"] == {"hooked": True}
    assert log(wf, done) == "expr" and "hooks.done" in kids(wf, nodes[""])
    assert nodes["onExit"]["nodeFlag"] == {"hooked": True} and log(wf, nodes["onExit"]) == "wf Succeeded"
    # hooks and the workflow's exit handler have no caller naming their result: Argo keeps none
    assert not any("result" in nodes[k]["outputs"] for k in ("[0].work.onExit", "hooks.done", "onExit"))
    assert "onExit" not in kids(wf, nodes[""])


def test_step_and_workflow_hooks(tiphys):
    check_step_hooks(tiphys.run(programs.step_hooks().to_dict()), tiphys.log)


@pytest.mark.parametrize("program, kind", [("daemon_steps", "steps"), ("daemon_dag", "tasks")])
def test_daemon_reached_by_ip(tiphys, program, kind):
    wf = tiphys.run(getattr(programs, program)().to_dict())
    nodes = {k.removeprefix("[0].").removeprefix("[1]."): n for k, n in by_name(wf).items()}
    server, fetch = nodes["server"], nodes["fetch"]
    assert wf["status"]["phase"] == "Succeeded" and wf["status"]["progress"] == "2/2"
    assert fetch["inputs"]["parameters"] == [{"name": "host", "value": server["podIP"]}]
    assert tiphys.log(wf, fetch) == "200"
    # a daemon killed when its scope ends is Succeeded, no longer daemoned
    assert server["phase"] == "Succeeded" and "daemoned" not in server
    assert server["finishedAt"] >= fetch["finishedAt"]


# --------------------------------------------------------------------------- through the server
def submit(service, workflow) -> dict:
    workflow.namespace, workflow.workflows_service = NS, service
    return finished(service, workflow.create().metadata.name, NS)


@pytest.mark.parametrize("program, check", [
    ("coinflip", check_coinflip), ("exit_handler_failures", check_exit_handler_failures),
    ("retry_policies", check_retry_policies), ("step_hooks", check_step_hooks), ("memoized", check_memoized)])
def test_through_the_server(service, tiphys, program, check):
    check(submit(service, getattr(programs, program)()), lambda wf, node: tiphys.log(wf, node, "--server", service.host, "-n", NS))


def test_manual_approval_through_the_api(service, tiphys):
    from hera.workflows.models import WorkflowResumeRequest, WorkflowSetRequest
    w = programs.approval()
    w.namespace, w.workflows_service = NS, service
    name = w.create().metadata.name
    deadline = time.monotonic() + 30
    while True:   # wait for the Suspend node
        got = service.get_workflow(name, namespace=NS).model_dump(by_alias=True, exclude_none=True)
        if any(n["displayName"] == "approve" and n["phase"] == "Running"
               for n in (got.get("status") or {}).get("nodes", {}).values()):
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    service.set_workflow(name, WorkflowSetRequest(node_field_selector="displayName=approve",
                                                  output_parameters='{"choice": "yes"}'), namespace=NS)
    service.resume_workflow(name, WorkflowResumeRequest(node_field_selector="displayName=approve"), namespace=NS)
    wf = finished(service, name, NS)
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded" and wf["status"]["progress"] == "2/2"
    approve = nodes["[0].approve"]
    assert approve["type"] == "Suspend" and approve["phase"] == "Succeeded"
    assert param(approve, "choice") == "yes"
    assert tiphys.log(wf, nodes["[1].act"], "--server", service.host, "-n", NS) == "approved=yes"
