"""Pure text views: the argo get tree and summary, the argo list table, helpers."""
from __future__ import annotations

import datetime as dt

import pytest

from tiphys.cli import render
from tiphys.engine import names

NOW = dt.datetime(2026, 1, 1, 0, 1, 0, tzinfo=dt.timezone.utc)
T = "2026-01-01T00:00:{:02d}Z".format


def node(id, name, display, type_, template, start=None, end=None, children=(), boundary=None,
         phase="Succeeded", **extra):
    n = {"id": id, "name": name, "displayName": display, "type": type_, "templateName": template,
         "phase": phase, "children": list(children), **extra}
    if start is not None:
        n["startedAt"] = T(start)
    if end is not None:
        n["finishedAt"] = T(end)
    if boundary:
        n["boundaryID"] = boundary
    return n


def workflow(name, *nodes, **status):
    return {"metadata": {"name": name, "namespace": "default", "creationTimestamp": T(0)},
            "spec": {"arguments": {"parameters": [{"name": "message", "value": "hi"}, {"name": "n", "value": 3}]}},
            "status": {"nodes": {n["id"]: n for n in nodes}, **status}}


W = "steps-z2zdn"
STEPS = workflow(
    W,
    node(W, W, W, "Steps", "hello-hello-hello", 0, 6, ["g0"]),
    node("g0", W + "[0]", "[0]", "StepGroup", "hello-hello-hello", 0, 2, ["h1"], W),
    node("h1", W + "[0].hello1", "hello1", "Pod", "whalesay", 0, 2, ["g1"], W),
    node("g1", W + "[1]", "[1]", "StepGroup", "hello-hello-hello", 2, 5, ["h2a", "h2b"], W),
    node("h2a", W + "[1].hello2a", "hello2a", "Pod", "whalesay", 2, 5, [], W),
    node("h2b", W + "[1].hello2b", "hello2b", "Pod", "whalesay", 2, 5, [], W),
    phase="Succeeded", startedAt=T(0), finishedAt=T(6), progress="3/3",
)


def step_column(text: str) -> list[str]:
    lines = text.splitlines()
    width = lines[0].index("TEMPLATE")
    return [line[:width].rstrip() for line in lines[1:]]


def test_steps_tree_matches_argo_get():
    # the layout (and the fnv32a hashes) of argo's own docs for examples/steps.yaml
    assert render.node_tree(STEPS, NOW) == "\n".join([
        "STEP            TEMPLATE           PODNAME                          DURATION  MESSAGE",
        " ✔ steps-z2zdn  hello-hello-hello",
        " ├───✔ hello1   whalesay           steps-z2zdn-whalesay-27420706    2s",
        " └─┬─✔ hello2a  whalesay           steps-z2zdn-whalesay-2006760091  3s",
        "   └─✔ hello2b  whalesay           steps-z2zdn-whalesay-2023537710  3s",
    ])


def test_dag_tasks_are_flat_in_start_order_with_markers():
    d = "dag"
    wf = workflow(
        d,
        node(d, d, d, "DAG", "diamond", 0, None, ["a"], phase="Running"),
        node("a", d + ".A", "A", "Pod", "echo", 0, 1, ["b", "c"], d),
        node("c", d + ".C", "C", "Pod", "echo", 2, 3, ["e"], d, phase="Failed", message="Error (exit code 1)"),
        node("b", d + ".B", "B", "Pod", "echo", 2, None, ["e"], d, phase="Running"),
        node("e", d + ".E", "E", "Skipped", "echo", None, None, [], d, phase="Omitted"),
        node("x", d + ".X", "X", "Pod", "echo", None, None, [], d, phase="Pending"),
        node("y", d + ".Y", "Y", "Pod", "echo", 3, 4, [], d, phase="Error"),
    )
    lines = render.node_tree(wf, NOW).splitlines()
    labels = step_column(render.node_tree(wf, NOW))
    assert labels == [" ● dag", " ├─✔ A", " ├─● B", " ├─✖ C", " ├─⚠ Y", " ├─○ E", " └─◷ X"]
    assert lines[3].split()[-1] == "58s"  # still running: measured up to now
    assert lines[4].endswith("Error (exit code 1)")


def test_retry_with_one_attempt_is_folded_and_more_are_nested():
    r = "retry"
    wf = workflow(
        r,
        node(r, r, r, "Steps", "main", 0, 9, ["g"]),
        node("g", r + "[0]", "[0]", "StepGroup", "main", 0, 9, ["one", "many"], r),
        node("one", r + "[0].one", "one", "Retry", "flaky", 0, 1, ["one0"], r),
        node("one0", r + "[0].one(0)", "one(0)", "Pod", "flaky", 0, 1, [], r),
        node("many", r + "[0].many", "many", "Retry", "flaky", 0, 9, ["m0", "m1"], r),
        node("m0", r + "[0].many(0)", "many(0)", "Pod", "flaky", 0, 1, [], r, phase="Failed"),
        node("m1", r + "[0].many(1)", "many(1)", "Pod", "flaky", 2, 9, [], r),
    )
    labels = step_column(render.node_tree(wf, NOW))
    assert labels == [" ✔ retry", " └─┬─✔ many", "   │ ├─✖ many(0)", "   │ └─✔ many(1)", "   └─✔ one(0)"]


def test_exit_handler_is_a_second_root_and_templateref_names_the_template():
    w = "exit"
    wf = workflow(
        w,
        node(w + "-1", w + ".onExit", w + ".onExit", "Pod", "", 5, 6, templateRef={"name": "t", "template": "bye"}),
        node(w, w, w, "Pod", "main", 0, 4),
    )
    rows = render.tree_rows(wf, NOW)
    assert [r[0] for r in rows] == [" ✔ exit", " ✔ exit.onExit"]
    assert rows[0][2] == "exit"  # the root pod is named after the workflow
    assert rows[1][1] == "bye" and rows[1][2] == f"exit-bye-{names.fnv32a('exit.onExit')}"


def test_nodes_without_boundary_hang_under_their_parent():
    w = "flat"
    wf = workflow(w, node(w, w, w, "Steps", "main", 0, 1, ["p"]), node("p", w + ".p", "p", "Pod", "t", 0, 1))
    assert [r[0] for r in render.tree_rows(wf, NOW)] == [" ✔ flat", " └─✔ p"]


def test_colour_codes_only_when_asked():
    coloured = render.node_tree(STEPS, NOW, color=True)
    assert "\x1b[32m✔\x1b[0m" in coloured
    # alignment ignores the escape codes
    plain_lines = render.node_tree(STEPS, NOW).splitlines()
    stripped = [render._ANSI.sub("", line) for line in coloured.splitlines()]
    assert stripped == plain_lines
    assert render.icon("Skipped", True) == "○"


def test_summary():
    text = render.workflow_summary({**STEPS, "status": {**STEPS["status"], "message": "all good"}}, NOW)
    head, tree = text.split("\n\n")
    lines = head.splitlines()
    assert lines[0] == "Name:                steps-z2zdn"
    assert lines[1] == "Namespace:           default"
    assert lines[2] == "Status:              Succeeded"
    assert lines[3] == "Message:             all good"
    assert lines[4].startswith("Created:             ") and lines[4].endswith("(1 minute ago)")
    assert lines[5].startswith("Started:") and lines[6].endswith("(54 seconds ago)")
    assert lines[7] == "Duration:            6 seconds"
    assert lines[8] == "Progress:            3/3"
    assert lines[9:] == ["Parameters:", "  message:           hi", "  n:                 3"]
    assert tree.startswith("STEP")


def test_summary_of_a_pending_workflow():
    text = render.workflow_summary({"metadata": {"name": "p"}}, NOW)
    assert text.splitlines() == ["Name:                p", "Namespace:           default",
                                 "Status:              Pending"]


def test_workflow_table():
    running = {"metadata": {"name": "run-1", "creationTimestamp": T(0)},
               "status": {"phase": "Running", "startedAt": T(30)}}
    done = {"metadata": {"name": "done", "creationTimestamp": "2025-12-31T22:00:00Z"},
            "spec": {"priority": 5, "arguments": {"parameters": [{"name": "a", "value": "1"}]}},
            "status": {"phase": "Failed", "startedAt": T(0), "finishedAt": T(1), "message": "boom"}}
    assert render.workflow_table([running, done], NOW).splitlines() == [
        "NAME   STATUS   AGE  DURATION  PRIORITY  MESSAGE",
        "run-1  Running  1m   30s       0",
        "done   Failed   2h   1s        5         boom",
    ]
    assert render.workflow_table([done], NOW, wide=True, headers=False) == \
        "done  Failed  2h  1s  5  boom  a=1"


@pytest.mark.parametrize(("seconds", "short", "long"), [
    (0, "0s", "0 seconds"), (1, "1s", "1 second"), (59.9, "59s", "59 seconds"),
    (61, "1m", "1 minute 1 second"), (3600, "1h", "1 hour"), (3 * 86400 + 7200 + 5, "3d", "3 days 2 hours"),
    (None, "", ""),
])
def test_durations(seconds, short, long):
    assert render.short_duration(seconds) == short
    assert render.long_duration(seconds) == long


def test_helpers():
    assert render.pod_name("wf", {"name": "wf.inline.x", "templateName": "t"}) == f"wf-{names.fnv32a('wf.inline.x')}"
    long = "a" * 60      # the name `tiphys get` shows is the one the engine stores
    node = {"name": f"{long}.s", "templateName": "tmpl"}
    assert render.pod_name(long, node) == names.pod_name(long, f"{long}.s", "tmpl")
    assert render.pod_name(long, {**node, "podName": "stored"}) == "stored"
    assert render.parse_time("garbage") is None and render.parse_time(None) is None
    assert render.parse_time("2026-01-01T00:00:00") == dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    assert render.seconds_between(None, None, NOW) is None
    assert render.timestamp("2026-01-01T00:01:00Z", NOW).endswith("(now)")
    assert render.timestamp("2026-01-01T00:02:00Z", NOW).endswith("(in 1 minute)")
    assert render.table(None, []) == ""
    assert render.template_table([{"metadata": {"name": "a"}}]) == "NAME\na"
    assert render.template_summary({"metadata": {"name": "a", "namespace": "ns"}}, NOW) == \
        "Name:                a\nNamespace:           ns"
