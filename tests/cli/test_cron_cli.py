"""`tiphys cron ...` on the local store (a server on the same TIPHYS_HOME schedules them),
`tiphys submit --from cronwf/NAME`, and `tiphys apply -f` of the event kinds."""
from __future__ import annotations

import json

CRON = """apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata:
  name: nightly
spec:
  schedules: ["0 2 * * *", "*/30 * * * *"]
  timezone: Europe/Paris
  workflowSpec:
    entrypoint: main
    arguments: {parameters: [{name: x, value: "1"}]}
    templates:
    - name: main
      inputs: {parameters: [{name: x}]}
      script: {image: alpine, command: [sh], source: "echo {{inputs.parameters.x}}"}
"""


def test_cron_verbs(cli, tmp_path):
    f = tmp_path / "cron.yaml"
    f.write_text(CRON)
    code, out, err = cli("cron", "create", f, "-l", "client=importantclient")
    assert code == 0, err
    assert "Schedules:" in out and "0 2 * * *,*/30 * * * *" in out and "Europe/Paris" in out
    code, out, _ = cli("cron", "list")
    assert code == 0 and "nightly" in out and "SCHEDULES" in out and "N/A" in out
    code, out, _ = cli("cron", "get", "nightly", "-o", "json")
    assert json.loads(out)["metadata"]["labels"] == {"client": "importantclient"}
    assert cli("cron", "suspend", "nightly")[1].strip() == "CronWorkflow 'nightly' suspended"
    assert json.loads(cli("cron", "get", "nightly", "-o", "json")[1])["spec"]["suspend"] is True
    assert cli("cron", "resume", "nightly")[1].strip() == "CronWorkflow 'nightly' resumed"
    code, out, err = cli("submit", "--from", "cronwf/nightly", "-o", "json")
    assert code == 0, err
    wf = json.loads(out)
    assert wf["metadata"]["name"].startswith("nightly-")
    assert wf["metadata"]["labels"]["workflows.argoproj.io/cron-workflow"] == "nightly"
    assert "workflows.argoproj.io/scheduled-time" in wf["metadata"]["annotations"]
    assert cli("cron", "create", f)[0] == 1                          # already exists
    assert cli("cron", "delete", "nightly")[0] == 0
    assert cli("list", "-o", "name")[1].strip() == ""                # its runs went with it
    code, _, err = cli("cron", "get", "nightly")
    assert code == 1 and '"nightly" not found' in err


def test_cron_refuses_bad_schedules_with_their_place(cli, tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(CRON.replace('"0 2 * * *"', '"0 25 * * *"'))
    code, out, _ = cli("cron", "lint", f)
    assert code == 1 and "spec.schedules[0]" in out and "25" in out
    code, _, err = cli("cron", "create", f)
    assert code == 1 and "25" in err


def test_apply_event_kinds_locally(cli, tmp_path):
    f = tmp_path / "objects.yaml"
    f.write_text(CRON + """---
apiVersion: argoproj.io/v1alpha1
kind: EventSource
metadata: {name: hooks}
spec:
  webhook:
    example: {port: "12000", endpoint: /example, method: POST}
""")
    code, out, err = cli("apply", "-f", f)
    assert code == 0, err
    assert out.split("\n")[:2] == ["cronworkflow/nightly created", "eventsource/hooks created"]
    assert cli("apply", "-f", f)[1].split("\n")[0] == "cronworkflow/nightly configured"
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: argoproj.io/v1alpha1\nkind: EventSource\nmetadata: {name: x}\n"
                   "spec: {webhook: {e: {port: '12000', endpoint: /e, bogus: 1}}}\n")
    code, _, err = cli("apply", "-f", bad)
    assert code == 1 and "spec.webhook.e.bogus" in err and "bad.yaml" in err
