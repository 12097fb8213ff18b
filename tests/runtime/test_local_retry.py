"""`tiphys retry NAME` without a server: the failed steps run again here, the Succeeded ones
are kept with their outputs and logs."""
from __future__ import annotations

import json

import pytest
import yaml
from test_run_processes import nodes, run

pytestmark = pytest.mark.integration

WF = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "again"},
      "spec": {"entrypoint": "main", "arguments": {"parameters": [{"name": "code", "value": "4"}]},
               "templates": [
                   {"name": "main", "steps": [[{"name": "first", "template": "stamp"}],
                                              [{"name": "second", "template": "maybe"}]]},
                   {"name": "stamp", "container": {"image": "busybox", "command": ["sh", "-c", "echo first $(date +%s%N)"]}},
                   {"name": "maybe", "container": {"image": "busybox",
                                                   "command": ["sh", "-c", "exit {{workflow.parameters.code}}"]}}]}}


def test_local_retry_reruns_only_the_failed_step(tmp_path):
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(WF))
    first = run(tmp_path, "run", str(path), "-o", "json")
    assert first.returncode == 1, first.stderr
    before = nodes(json.loads(first.stdout))
    printed = run(tmp_path, "logs", "again", "--node", "first", "--no-prefix").stdout.strip()
    assert printed.startswith("first ")      # no caller names first's result: its stdout is in its log
    again = run(tmp_path, "retry", "again", "-p", "code=0", "-o", "json")
    assert again.returncode == 0, again.stderr
    after = nodes(json.loads(again.stdout))
    assert after["first"] == before["first"]          # kept: same output (a nanosecond clock), same times
    assert after["second"]["phase"] == "Succeeded"
    logs = run(tmp_path, "logs", "again").stdout
    assert logs.count("first ") == 1 and printed in logs      # not run again: the same nanoseconds
    refused = run(tmp_path, "retry", "again")
    assert refused.returncode == 1 and "must be Failed/Error to retry" in refused.stderr
