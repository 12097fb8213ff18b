"""Issue 13's acceptance, with a live `tiphys server`: objects registered by `tiphys apply -f`,
a signed GitHub push through the brief's Sensor (13-sensor-github.yaml, unchanged) into
exactly one workflow, a WorkflowEventBinding, a CronWorkflow and its catch-up after a restart."""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from live import COMMAND, free_port, start_server, stop

pytestmark = pytest.mark.integration
DATA = Path(__file__).parent / "data"
SECRET = "It's a Secret to Everybody"

CI_PIPELINE = """
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: ci-pipeline}
spec:
  entrypoint: main
  arguments:
    parameters: [{name: repo}, {name: branch, value: main}]
  templates:
  - name: main
    script:
      image: alpine
      command: [sh]
      source: echo "{{workflow.parameters.repo}} {{workflow.parameters.branch}}"
"""

EVENT_SOURCE = """
apiVersion: argoproj.io/v1alpha1
kind: EventSource
metadata: {name: github}
spec:
  github:
    push:
      repositories: [{owner: argoproj, names: [argo-workflows]}]
      webhook: {endpoint: /push, port: "%d", method: POST}
      events: ["push"]
      webhookSecret: {name: github-access, key: secret}
      contentType: json
"""

BINDING = """
apiVersion: argoproj.io/v1alpha1
kind: WorkflowEventBinding
metadata: {name: on-message}
spec:
  event:
    selector: payload.message != "" && metadata["x-argo-e2e"] == ["true"] && discriminator == "my-discriminator"
  submit:
    workflowTemplateRef: {name: ci-pipeline}
    arguments:
      parameters:
      - name: repo
        valueFrom: {event: payload.message}
"""

CRON = """
apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata: {name: every-five}
spec:
  schedules: ["@every 5s"]
  startingDeadlineSeconds: 60
  workflowSpec:
    entrypoint: main
    templates:
    - name: main
      script: {image: alpine, command: [sh], source: "echo tick"}
"""


def tiphys(home: Path, *args: str, server: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "TIPHYS_HOME": str(home)}
    if server:
        env["TIPHYS_SERVER"] = server
    return subprocess.run([*COMMAND, *args], env=env, capture_output=True, text=True, timeout=60)


def workflows(url: str) -> list[dict]:
    return httpx.get(f"{url}/api/v1/workflows/default").json().get("items") or []


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_events_and_schedules_end_to_end(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    files = tmp_path / "objects"
    files.mkdir()
    (files / "ci-pipeline.yaml").write_text(CI_PIPELINE)
    (files / "eventsource.yaml").write_text(EVENT_SOURCE % port)
    (files / "sensor.yaml").write_text((DATA / "13-sensor-github.yaml").read_text())
    assert tiphys(home, "secret", "create", "github-access", "--from-literal", f"secret={SECRET}").returncode == 0
    proc, url = start_server(home)
    try:
        done = tiphys(home, "apply", "-f", str(files), server=url)
        assert done.returncode == 0, done.stderr
        assert "sensor/github-sensor created" in done.stdout
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/health"), 10, "the EventSource's port")

        # a push with a wrong signature, and one without any: refused, nothing made
        body = json.dumps({"ref": "refs/heads/feature", "repository": {
            "clone_url": "https://github.com/argoproj/argo-workflows.git"}}).encode()
        bad = httpx.post(f"http://127.0.0.1:{port}/push", content=body, headers={
            "Content-Type": "application/json", "X-GitHub-Event": "push",
            "X-Hub-Signature-256": sign(body, "wrong")})
        assert bad.status_code == 400 and "signature" in bad.text
        unsigned = httpx.post(f"http://127.0.0.1:{port}/push", content=body,
                              headers={"Content-Type": "application/json"})
        assert unsigned.status_code == 400
        # one signed push: exactly one workflow with the payload's clone_url and ref
        good = httpx.post(f"http://127.0.0.1:{port}/push", content=body, headers={
            "Content-Type": "application/json", "X-GitHub-Event": "push", "X-GitHub-Delivery": "d-1",
            "X-Hub-Signature-256": sign(body)})
        assert good.status_code == 200, good.text
        made = wait_for(lambda: [w for w in workflows(url) if w["metadata"]["name"].startswith("github-triggered-")],
                        10, "the triggered workflow")
        time.sleep(1.5)
        made = [w for w in workflows(url) if w["metadata"]["name"].startswith("github-triggered-")]
        assert len(made) == 1
        params = {p["name"]: p.get("value") for p in made[0]["spec"]["arguments"]["parameters"]}
        assert params == {"repo": "https://github.com/argoproj/argo-workflows.git", "branch": "refs/heads/feature"}
        labels = made[0]["metadata"]["labels"]
        assert labels["events.argoproj.io/sensor"] == "github-sensor"
        assert labels["events.argoproj.io/trigger"] == "workflow-trigger"

        # WorkflowEventBinding: the template submitted with a parameter from the payload
        (files / "binding.yaml").write_text(BINDING)
        assert tiphys(home, "apply", "-f", str(files / "binding.yaml"), server=url).returncode == 0
        answer = httpx.post(f"{url}/api/v1/events/default/my-discriminator", json={"message": "from-an-event"},
                            headers={"X-Argo-E2E": "true"})
        assert answer.status_code == 200 and answer.json() == {}
        bound = wait_for(lambda: [w for w in workflows(url) if w["metadata"]["labels"].get(
            "workflows.argoproj.io/workflow-event-binding") == "on-message"], 10, "the bound workflow")
        assert bound[0]["spec"]["arguments"]["parameters"] == [{"name": "repo", "value": "from-an-event"}]
        assert httpx.post(f"{url}/api/v1/events/default/my-discriminator", content=b"{not json").status_code == 400

        # CronWorkflow @every 5s: a run Succeeded within 20 s, named <name>-<unix time>
        (files / "cron.yaml").write_text(CRON)
        assert tiphys(home, "apply", "-f", str(files / "cron.yaml"), server=url).returncode == 0
        started = time.time()
        ran = wait_for(lambda: [w for w in workflows(url) if re.fullmatch(r"every-five-\d+", w["metadata"]["name"])
                                and w["status"].get("phase") == "Succeeded"], 20, "a Succeeded cron run")
        assert time.time() - started < 20
        stamp = int(ran[0]["metadata"]["name"].rsplit("-", 1)[1])
        assert abs(stamp - time.time()) < 30
        cron = httpx.get(f"{url}/api/v1/cron-workflows/default/every-five").json()
        assert cron["status"]["lastScheduledTime"]
        assert cron["metadata"]["annotations"]["cronworkflows.argoproj.io/last-used-schedule"] == "@every 5s"
    finally:
        stop(proc)

    # a restart within startingDeadlineSeconds runs the missed tick once
    stopped = time.time()
    time.sleep(11)
    proc, url = start_server(home)
    restarted = time.time()
    try:
        time.sleep(3)      # before the first regular tick (restart + 5 s)
        missed = [int(w["metadata"]["name"].rsplit("-", 1)[1]) for w in workflows(url)
                  if re.fullmatch(r"every-five-\d+", w["metadata"]["name"])]
        in_gap = [t for t in missed if stopped < t < restarted]
        assert len(in_gap) == 1, (missed, stopped, restarted)
        assert in_gap[0] > restarted - 6           # the latest missed time, not the first
    finally:
        stop(proc)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


WEBHOOKS = """
apiVersion: argoproj.io/v1alpha1
kind: EventSource
metadata: {name: hooks}
spec:
  webhook:
    example:
      port: "%(port)d"
      endpoint: /example
      method: POST
      maxPayloadSize: 2048
      authSecret: {name: hook-token, key: token}
      metadata: {team: a}
  calendar:
    tick:
      interval: 1s
---
apiVersion: argoproj.io/v1alpha1
kind: EventSource
metadata: {name: squatter}
spec:
  webhook:
    taken: {port: "%(taken)d", endpoint: /x, method: POST}
---
apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata: {name: hooks}
spec:
  dependencies:
  - name: ex
    eventSourceName: hooks
    eventName: example
    filters:
      data: [{path: body.kind, type: string, value: ["^build$"]}]
  - {name: tick, eventSourceName: hooks, eventName: tick}
  triggers:
  - template:
      name: made
      conditions: ex
      argoWorkflow:
        operation: submit
        source:
          resource:
            apiVersion: argoproj.io/v1alpha1
            kind: Workflow
            metadata: {generateName: hooked-}
            spec:
              entrypoint: main
              arguments: {parameters: [{name: who, value: ""}, {name: team, value: ""}, {name: kind, value: ""}]}
              templates: [{name: main, container: {image: alpine, command: ["true"]}}]
        parameters:
        - src: {dependencyName: ex, dataKey: body.who}
          dest: spec.arguments.parameters.0.value
        - src: {dependencyName: ex, dataKey: metadata.team}
          dest: spec.arguments.parameters.1.value
        - src: {dependencyName: ex, contextKey: type}
          dest: spec.arguments.parameters.2.value
  - template:
      name: broken
      conditions: tick
      k8s:
        operation: create
        source:
          resource:
            apiVersion: argoproj.io/v1alpha1
            kind: Workflow
            metadata: {generateName: never-}
            spec: {workflowTemplateRef: {name: no-such-template}}
"""


def test_webhook_doors_and_failing_triggers(tmp_path):
    import socket
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    squat = socket.socket()
    squat.bind(("127.0.0.1", 0))
    squat.listen()
    taken = squat.getsockname()[1]
    (tmp_path / "hooks.yaml").write_text(WEBHOOKS % {"port": port, "taken": taken})
    assert tiphys(home, "secret", "create", "hook-token", "--from-literal", "token=t0k").returncode == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: argoproj.io/v1alpha1\nkind: Sensor\nmetadata: {name: s}\nspec:\n"
                   "  dependencies: [{name: a, eventSourceName: x, eventName: y}]\n"
                   "  triggers: [{template: {name: t, slack: {channel: c}}}]\n")
    linted = tiphys(home, "lint", str(bad))
    assert linted.returncode == 1 and "spec.triggers[0].template.slack" in linted.stdout
    proc, url = start_server(home)
    try:
        refused = tiphys(home, "apply", "-f", str(bad), server=url)
        assert refused.returncode == 1 and "slack" in refused.stderr
        done = tiphys(home, "apply", "-f", str(tmp_path / "hooks.yaml"), server=url)
        assert done.returncode == 0, done.stderr
        hook = f"http://127.0.0.1:{port}/example"
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/health"), 10, "the webhook port")
        auth = {"Authorization": "Bearer t0k"}
        assert httpx.post(hook, json={"kind": "build"}).status_code == 401
        assert httpx.post(hook, json={"kind": "build"}, headers={"Authorization": "Bearer nope"}).status_code == 401
        assert httpx.get(hook, headers=auth).status_code == 400                      # method does not match
        assert httpx.post(hook, content=b"Invalid JSON", headers=auth).status_code == 400
        assert httpx.post(hook, json={"kind": "x" * 4096}, headers=auth).status_code == 413
        assert httpx.post(f"http://127.0.0.1:{port}/elsewhere", json={}).status_code == 404
        assert httpx.post(hook, json={"kind": "deploy", "who": "filtered"}, headers=auth).status_code == 200
        assert httpx.post(hook, json={"kind": "build", "who": "ana"}, headers=auth).status_code == 200
        made = wait_for(lambda: [w for w in workflows(url) if w["metadata"]["name"].startswith("hooked-")], 10,
                        "the hooked workflow")
        time.sleep(1)
        made = [w for w in workflows(url) if w["metadata"]["name"].startswith("hooked-")]
        assert len(made) == 1                                   # the filtered event made nothing
        values = [p["value"] for p in made[0]["spec"]["arguments"]["parameters"]]
        assert values == ["ana", "a", "webhook"]

        # the calendar's trigger fails every second: recorded on the Sensor, nothing crashes
        def failed():
            s = httpx.get(f"{url}/api/v1/sensors/default/hooks").json()
            conds = [c for c in (s.get("status") or {}).get("conditions") or [] if c["type"] == "TriggersReady"]
            return conds and conds[0]["status"] == "False" and conds[0]
        cond = wait_for(failed, 10, "the failing trigger on the Sensor's status")
        assert "broken" in cond["message"] and "no-such-template" in cond["message"]
        assert not [w for w in workflows(url) if w["metadata"]["name"].startswith("never-")]
        # the port another process holds: the EventSource says so
        es = wait_for(lambda: (httpx.get(f"{url}/api/v1/event-sources/default/squatter").json().get("status")
                               or {}).get("conditions"), 10, "the squatter's status")
        assert es[0]["status"] == "False" and str(taken) in es[0]["message"]
        assert httpx.post(hook, json={"kind": "build", "who": "bo"}, headers=auth).status_code == 200
        wait_for(lambda: len([w for w in workflows(url) if w["metadata"]["name"].startswith("hooked-")]) == 2, 10,
                 "the server still serving events")
    finally:
        stop(proc)
        squat.close()
