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


def tiphys(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*COMMAND, *args], env={**os.environ, "TIPHYS_HOME": str(home)},
                          capture_output=True, text=True, timeout=60)


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
        done = tiphys(home, "apply", "-f", str(files), "--server", url)
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
        assert tiphys(home, "apply", "-f", str(files / "binding.yaml"), "--server", url).returncode == 0
        answer = httpx.post(f"{url}/api/v1/events/default/my-discriminator", json={"message": "from-an-event"},
                            headers={"X-Argo-E2E": "true"})
        assert answer.status_code == 200 and answer.json() == {}
        bound = wait_for(lambda: [w for w in workflows(url) if w["metadata"]["labels"].get(
            "workflows.argoproj.io/workflow-event-binding") == "on-message"], 10, "the bound workflow")
        assert bound[0]["spec"]["arguments"]["parameters"] == [{"name": "repo", "value": "from-an-event"}]
        assert httpx.post(f"{url}/api/v1/events/default/my-discriminator", content=b"{not json").status_code == 400

        # CronWorkflow @every 5s: a run Succeeded within 20 s, named <name>-<unix time>
        (files / "cron.yaml").write_text(CRON)
        assert tiphys(home, "apply", "-f", str(files / "cron.yaml"), "--server", url).returncode == 0
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
