"""The brief's hands-on exercise and the everyday actions, through the UI in Chromium against
a live `tiphys server` whose workflows run for real."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from ui_helpers import NS, PAYLOAD, artifact_workflow, download_artifact, wait_api_phase

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

EXERCISE = Path(__file__).resolve().parents[3] / "shared" / "seed" / "examples" / "29-exercise-data-pipeline.yaml"
if not EXERCISE.exists():
    EXERCISE = Path("/work/shared/seed/examples/29-exercise-data-pipeline.yaml")


def _wf(name: str, steps: list[dict], templates: list[dict], **spec) -> dict:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": name, "namespace": NS},
            "spec": {"entrypoint": "main", "templates": [{"name": "main", "steps": [[s] for s in steps]}, *templates],
                     **spec}}


def _create(server, wf: dict) -> str:
    r = server.api("POST", f"/api/v1/workflows/{NS}", {"workflow": wf})
    assert r.status_code == 200, r.text
    return r.json()["metadata"]["name"]


def _graph_phase(page, phase: str, timeout: float = 60_000) -> None:
    page.wait_for_selector(f'[data-pane=graph][data-phase="{phase}"]', state="attached", timeout=timeout)


def test_exercise_submitted_from_the_ui_runs_to_succeeded(live_server, make_page, artifacts_dir, timings):
    if not EXERCISE.exists():
        pytest.skip("the brief's exercise (shared/seed/examples/29-exercise-data-pipeline.yaml) is not here")
    p = make_page(live_server)
    page = p.page
    p.goto("#/submit")
    page.fill("textarea[name=yaml]", EXERCISE.read_text())
    t0 = time.monotonic()
    page.click(".yaml-form button[type=submit]")
    page.wait_for_url(re.compile(r".*#/workflows/argo/data-pipeline-[a-z0-9]+$"))
    name = page.url.rsplit("/", 1)[1]
    assert page.text_content("[data-testid=wf-name]") == name

    # the graph follows the run: Running first, then every node Succeeded
    seen = set()
    deadline = time.monotonic() + 90
    while "Succeeded" not in seen:
        phase = page.get_attribute("[data-pane=graph]", "data-phase")
        if phase:
            seen.add(phase)
        assert phase not in ("Failed", "Error"), phase
        assert time.monotonic() < deadline, f"graph still {phase}"
        time.sleep(0.1)
    timings.record(exercise_submit_to_succeeded_s=round(time.monotonic() - t0, 2))
    assert "Running" in seen
    page.wait_for_function("() => document.querySelectorAll('g[data-id].p-Succeeded').length === 9")
    labels = page.locator("g[data-id] text").all_text_contents()
    assert {"generate-data", "aggregate", "process-items(0:item-0)", "process-items(4:item-4)"} <= set(labels)
    assert page.locator(".box.loop").count() == 1
    assert "loop process-items (5)" in page.text_content(".box-label.loop")
    assert "7/7" in page.text_content(".wf-head .progress")
    page.screenshot(path=str(artifacts_dir / "exercise-dag.png"))

    # a node's panel and its logs
    page.locator("g[data-id]", has_text="process-items(2:item-2)").click()
    panel = page.locator("aside.node-panel")
    assert panel.locator("[data-testid=node-title]").text_content() == "process-items(2:item-2)"
    assert "item-2" in panel.text_content()  # the input parameter
    assert re.search(r"Exit code\s*0", panel.text_content())
    panel.locator("button[data-logs]").click()
    logs = panel.locator("[data-testid=logs]")
    logs.wait_for()
    page.wait_for_function("() => document.querySelector('[data-testid=logs]').textContent.includes('Done: item-2')")
    assert "Processing: item-2" in logs.text_content()
    assert "item-3" not in logs.text_content()
    page.screenshot(path=str(artifacts_dir / "exercise-node-logs.png"))

    # the YAML and parameters tabs
    page.click("[data-tab=yaml]")
    yaml_text = page.text_content("[data-testid=yaml]")
    assert "generateName: data-pipeline-" in yaml_text and "withParam:" in yaml_text
    page.click("[data-tab=params]")
    assert "Arguments" in page.text_content("[data-pane=params]")

    assert wait_api_phase(live_server, name)["status"]["phase"] == "Succeeded"
    assert p.foreign_requests() == [], "the UI made requests off this machine"


def test_list_updates_live(live_server, make_page):
    p = make_page(live_server)
    page = p.page
    p.goto("#/workflows?ns=argo")
    page.wait_for_selector("section[data-loaded]", state="attached")
    wf = _wf("live-row", [{"name": "a", "template": "slow"}],
             [{"name": "slow", "container": {"image": "busybox", "command": ["sh", "-c", "sleep 2; echo ok"]}}])
    _create(live_server, wf)
    row = page.locator('tr[data-key="argo/live-row"]')
    row.wait_for(timeout=20_000)  # appears without reloading
    page.wait_for_selector('tr[data-key="argo/live-row"][data-phase="Succeeded"]', timeout=60_000)
    assert row.locator("td").nth(5).text_content() == "1/1"


def test_logs_stream_while_the_step_runs(live_server, make_page):
    name = _create(live_server, _wf("talker", [{"name": "talk", "template": "talk"}], [
        {"name": "talk", "container": {"image": "busybox", "command": [
            "sh", "-c", "echo first line; sleep 4; echo second line; sleep 1"]}}]))
    p = make_page(live_server)
    page = p.page
    p.goto(f"#/workflows/{NS}/{name}")
    node = page.locator("g[data-id]", has_text=re.compile("^talk$"))
    page.wait_for_selector("g[data-id].p-Running", timeout=30_000)
    node.click()
    page.click("aside button[data-logs]")
    page.wait_for_function("() => document.querySelector('[data-testid=logs]')?.textContent.includes('first line')",
                           timeout=20_000)
    assert "second line" not in page.text_content("[data-testid=logs]")  # streamed, not at the end
    page.wait_for_function("() => document.querySelector('[data-testid=logs]').textContent.includes('second line')",
                           timeout=20_000)


FLAKY = [{"name": "prepare", "template": "ok"}, {"name": "flaky", "template": "fail"}]
FLAKY_TEMPLATES = [
    {"name": "ok", "container": {"image": "busybox", "command": ["echo", "prepared"]}},
    {"name": "fail", "retryStrategy": {"limit": 1},
     "container": {"image": "busybox", "command": ["sh", "-c", "sleep 1; echo failing; exit 3"]}},
]


def _last_attempt(server, name: str) -> str:
    """When the failing step last started (a retry replaces its failed attempts, Argo-style)."""
    nodes = server.api("GET", f"/api/v1/workflows/{NS}/{name}").json()["status"]["nodes"]
    return max(n.get("startedAt") or "" for n in nodes.values() if n.get("templateName") == "fail" and n["type"] == "Pod")


def _prepare_started(server, name: str) -> list[str]:
    nodes = server.api("GET", f"/api/v1/workflows/{NS}/{name}").json()["status"]["nodes"]
    return [n.get("startedAt") for n in nodes.values() if n.get("displayName") == "prepare"]


def test_retry_a_failed_workflow(live_server, make_page, artifacts_dir):
    name = _create(live_server, _wf("flaky", FLAKY, FLAKY_TEMPLATES))
    wait_api_phase(live_server, name)
    before = _last_attempt(live_server, name)
    prepared = _prepare_started(live_server, name)
    assert len(prepared) == 1
    p = make_page(live_server)
    page = p.page
    p.goto(f"#/workflows/{NS}/{name}")
    _graph_phase(page, "Failed")
    assert page.locator(".box.retry").count() == 1  # the retry group and its two attempts
    assert page.locator("g[data-id].p-Failed").count() >= 3
    page.screenshot(path=str(artifacts_dir / "failed-with-retries.png"))

    page.click("[data-action=retry]")
    _graph_phase(page, "Running", timeout=20_000)
    _graph_phase(page, "Failed")
    assert _last_attempt(live_server, name) > before  # the failed step ran again
    assert _prepare_started(live_server, name) == prepared  # the successful one was kept

    # retry from a chosen node: the failed retry group
    after_first = _last_attempt(live_server, name)
    page.locator("g[data-id].grp.p-Failed").first.click()
    page.click("aside button[data-retry-node]")
    _graph_phase(page, "Running", timeout=20_000)
    _graph_phase(page, "Failed")
    assert _last_attempt(live_server, name) > after_first


def test_actions_suspend_resume_terminate_resubmit_stop_delete(live_server, make_page):
    name = _create(live_server, _wf("sleeper", [{"name": "nap", "template": "nap"}], [
        {"name": "nap", "container": {"image": "busybox", "command": ["sleep", "60"]}}]))
    p = make_page(live_server)
    page = p.page
    p.goto(f"#/workflows/{NS}/{name}")
    _graph_phase(page, "Running", timeout=20_000)

    page.click("[data-action=suspend]")
    page.wait_for_selector("[data-action=resume]:not([disabled])")
    assert live_server.api("GET", f"/api/v1/workflows/{NS}/{name}").json()["spec"].get("suspend") is True
    page.click("[data-action=resume]")
    page.wait_for_selector("[data-action=suspend]:not([disabled])")
    assert not live_server.api("GET", f"/api/v1/workflows/{NS}/{name}").json()["spec"].get("suspend")

    page.click("[data-action=terminate]")
    _graph_phase(page, "Failed", timeout=30_000)
    assert wait_api_phase(live_server, name)["status"]["phase"] == "Failed"

    page.click("[data-action=resubmit]")
    page.wait_for_url(re.compile(rf".*#/workflows/argo/(?!{name}$)[a-z0-9-]+$"))
    again = page.url.rsplit("/", 1)[1]
    _graph_phase(page, "Running", timeout=20_000)
    page.click("[data-action=stop]")
    _graph_phase(page, "Failed", timeout=30_000)

    page.click("[data-action=delete]")
    page.wait_for_url(re.compile(r".*#/workflows$"))
    assert live_server.api("GET", f"/api/v1/workflows/{NS}/{again}").status_code == 404


def test_an_action_answer_overtaken_by_the_watch_does_not_hide_the_end(live_server, make_page):
    # terminate answers the workflow still Running (its step is being stopped); when the step
    # ends before that answer reaches the page, the watch has already shown Failed, and nothing
    # comes after a finished workflow: the stale answer must not be shown over it
    name = _create(live_server, _wf("overtaken", [{"name": "nap", "template": "nap"}], [
        {"name": "nap", "container": {"image": "busybox", "command": ["sleep", "60"]}}]))
    p = make_page(live_server)
    page = p.page
    p.goto(f"#/workflows/{NS}/{name}")
    _graph_phase(page, "Running", timeout=20_000)
    answers = []

    def late(route):
        answer = route.fetch()
        answers.append(answer.json()["status"]["phase"])
        wait_api_phase(live_server, name, timeout=20)
        page.wait_for_timeout(500)          # the watch's Failed reaches the page first
        route.fulfill(response=answer)

    page.route(f"**/api/v1/workflows/{NS}/{name}/terminate", late)
    page.click("[data-action=terminate]")
    _graph_phase(page, "Failed", timeout=10_000)
    page.wait_for_timeout(800)              # past the view's throttle: the answer was not applied
    assert answers == ["Running"]
    assert page.get_attribute("[data-pane=graph]", "data-phase") == "Failed"


def test_api_errors_are_shown_plainly(live_server, make_page):
    p = make_page(live_server)
    page = p.page
    p.goto("#/submit")
    page.fill("textarea[name=yaml]", "kind: Workflow\nmetadata: [unclosed\n")
    page.click(".yaml-form button[type=submit]")
    assert "does not parse" in page.locator("#banner").text_content()

    bad = ("apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {generateName: bad-}\n"
           "spec:\n  entrypoint: nowhere\n  templates:\n  - name: main\n    container: {image: busybox, command: [true]}\n")
    page.fill("textarea[name=yaml]", bad)
    page.click(".yaml-form button[type=submit]")
    page.wait_for_function("() => document.querySelector('#banner').textContent.includes('nowhere')")
    assert page.locator("#banner").text_content().startswith("Submit failed:")
    assert "#/submit" in page.url

    p.goto(f"#/workflows/{NS}/no-such-workflow")
    page.wait_for_function("() => document.querySelector('#banner').textContent.includes('not found')")


def test_submit_from_a_template_with_parameters(live_server, make_page):
    tmpl = {"apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTemplate",
            "metadata": {"name": "greeter", "namespace": NS},
            "spec": {"entrypoint": "main", "arguments": {"parameters": [{"name": "who", "value": "world"}]},
                     "templates": [{"name": "main", "container": {
                         "image": "busybox", "command": ["echo", "hello {{workflow.parameters.who}}"]}}]}}
    r = live_server.api("POST", f"/api/v1/workflow-templates/{NS}", {"template": tmpl})
    assert r.status_code == 200, r.text
    p = make_page(live_server)
    page = p.page
    p.goto(f"#/templates?ns={NS}")
    page.click("a:text('greeter')")
    page.wait_for_selector("[data-testid=template-yaml]:has-text('workflow.parameters.who')")
    page.fill("[data-param=who]", "tiphys-ui")
    page.click("form.card button[type=submit]")
    page.wait_for_url(re.compile(r".*#/workflows/argo/greeter-[a-z0-9]+$"))
    name = page.url.rsplit("/", 1)[1]
    _graph_phase(page, "Succeeded", timeout=60_000)
    page.click("[data-tab=params]")
    assert "tiphys-ui" in page.text_content("[data-pane=params]")
    page.click("[data-tab=graph]")
    page.locator("g[data-id]", has_text=name).click()
    # the entrypoint pod has no caller naming its result (Argo keeps none): what it printed is in its logs
    page.click("aside.node-panel button[data-logs]")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=logs]')?.textContent.includes('hello tiphys-ui')")


def test_artifact_download(live_server, make_page):
    name = _create(live_server, artifact_workflow("artifact-maker"))
    p = make_page(live_server)
    page = p.page
    p.goto(f"#/workflows/{NS}/{name}")
    filename, data = download_artifact(page, name)
    assert (filename, data) == ("result-file", PAYLOAD)
    assert "/tmp/o.txt" in page.text_content("aside.node-panel ul.artifacts")


WIDE_ITEMS = 400


def test_a_wide_real_run_is_drawn_live(live_server, make_page, timings, artifacts_dir):
    """400 real busybox steps from one withSequence loop, submitted through the API: the graph
    follows the run (growing, Running) to Succeeded, the loop drawn as a block that Fit shows whole."""
    wf = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"generateName": "wide-run-", "namespace": NS},
          "spec": {"entrypoint": "main", "templates": [
              {"name": "main", "steps": [
                  [{"name": "fan", "template": "work", "withSequence": {"count": str(WIDE_ITEMS)},
                    "arguments": {"parameters": [{"name": "i", "value": "{{item}}"}]}}],
                  [{"name": "done", "template": "work", "arguments": {"parameters": [{"name": "i", "value": "done"}]}}]]},
              {"name": "work", "inputs": {"parameters": [{"name": "i"}]},
               "container": {"image": "busybox", "command": ["sh", "-c", "sleep 2; echo {{inputs.parameters.i}}"]}}]}}
    p = make_page(live_server)
    page = p.page
    p.goto(f"#/workflows?ns={NS}")
    page.wait_for_selector("section[data-loaded]", state="attached")
    t0 = time.monotonic()
    name = _create(live_server, wf)
    p.goto(f"#/workflows/{NS}/{name}")
    total = 1 + 1 + WIDE_ITEMS + 1 + 1  # the Steps node, two step groups, the items, `done`
    seen_phases, seen_counts = set(), set()
    deadline = time.monotonic() + 120
    while True:
        phase = page.get_attribute("[data-pane=graph]", "data-phase")
        count = page.get_attribute("[data-pane=graph]", "data-nodes")
        seen_phases.add(phase)
        seen_counts.add(count)
        if phase == "Succeeded" and count == str(total):
            break
        assert phase not in ("Failed", "Error"), phase
        assert time.monotonic() < deadline, f"graph still {phase} with {count} nodes"
        time.sleep(0.05)
    timings.record(wide_run_items=WIDE_ITEMS, wide_run_submit_to_graph_succeeded_s=round(time.monotonic() - t0, 2))
    assert "Running" in seen_phases
    assert len(seen_counts - {None}) >= 2, f"the graph did not grow while running: {seen_counts}"
    page.wait_for_function(f"() => document.querySelectorAll('g[data-id].p-Succeeded').length === {total}")
    assert page.text_content(".box-label.loop") == f"loop [0] ({WIDE_ITEMS})"
    assert wait_api_phase(live_server, name)["status"]["phase"] == "Succeeded"

    page.click("[data-z=fit]")
    page.wait_for_function("() => document.querySelector('svg.graph').style.transform !== ''")
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r())))")
    wrap, graph = page.locator(".graph-wrap").bounding_box(), page.locator("svg.graph").bounding_box()
    assert graph["width"] <= wrap["width"] + 1 and graph["height"] <= wrap["height"] + 1
    loop = page.locator(".box.loop").bounding_box()
    assert loop["width"] > wrap["width"] / 3 and loop["height"] > wrap["height"] / 3, loop  # a block, not a strip
    page.screenshot(path=str(artifacts_dir / "wide-run-400.png"))
    assert p.foreign_requests() == []
