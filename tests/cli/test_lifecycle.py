"""Local mode (no server) of submit --from, wait, watch, resubmit, retry, stop, terminate,
suspend, resume, and `list -l/--limit`, with the scripted runner of cli_fakes."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from cli_fakes import finished

from tiphys.store.sqlite import Store

TESTDATA = Path(__file__).parent / "testdata"


@pytest.fixture(autouse=True)
def no_server(monkeypatch):
    monkeypatch.delenv("TIPHYS_SERVER", raising=False)
    monkeypatch.delenv("TIPHYS_TOKEN", raising=False)


def run(cli, *extra: str) -> str:
    code, out, err = cli("run", str(TESTDATA / "hello.yaml"), "-o", "name", *extra)
    assert code in (0, 1), err
    return out.strip()


@pytest.mark.parametrize("verb", ["stop", "terminate", "suspend", "resume"])
def test_controller_verbs_need_a_server(cli, runner, verb):
    name = run(cli)
    code, out, err = cli(verb, name)
    assert (code, out) == (1, "")
    assert err.startswith(f"tiphys: `tiphys {verb}` needs a Tiphys server; set TIPHYS_SERVER")


def test_retry_of_unknown_workflow(cli, runner):
    code, _, err = cli("retry", "nope")
    assert code == 1 and 'workflow "nope" not found' in err


def test_wait_prints_phase_and_exits_by_it(cli, runner):
    ok = run(cli)
    bad = run(cli, "-p", "outcome=Failed")
    code, out, _ = cli("wait", ok)
    assert (code, out) == (0, f"{ok} Succeeded at 2026-01-01T10:00:05Z\n")
    code, out, _ = cli("wait", ok, bad)
    assert code == 1 and out.splitlines()[1] == f"{bad} Failed at 2026-01-01T10:00:05Z"
    code, _, err = cli("wait", "nope")
    assert code == 1 and 'workflow "nope" not found' in err
    assert cli("wait", "nope", ok, "--ignore-not-found")[0] == 0


def test_wait_and_watch_follow_a_run_in_another_process(cli, home):
    """Another terminal's `tiphys run` is only visible through the store: poll it."""
    home.mkdir(parents=True, exist_ok=True)
    wf = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
          "metadata": {"name": "elsewhere", "namespace": "default"}, "spec": {"entrypoint": "main"}}
    with Store(home / "tiphys.db") as store:
        store.save_workflow({**wf, "status": {"phase": "Running", "startedAt": "2026-01-01T10:00:00Z"}})

    def finish() -> None:
        time.sleep(0.6)
        with Store(home / "tiphys.db") as other:
            other.save_workflow(finished(wf, "Succeeded"))
    for verb in ("wait", "watch"):
        with Store(home / "tiphys.db") as store:
            store.save_workflow({**wf, "status": {"phase": "Running", "startedAt": "2026-01-01T10:00:00Z"}})
        thread = threading.Thread(target=finish)
        thread.start()
        code, out, _ = cli(verb, "elsewhere")
        thread.join()
        assert code == 0
        if verb == "wait":
            assert out == "elsewhere Succeeded at 2026-01-01T10:00:05Z\n"
        else:
            lines = out.splitlines()
            assert lines[:2] == ["elsewhere: Running ()", "elsewhere: Succeeded 1/1 (1 Succeeded)"]
            assert "Status:              Succeeded" in out


def test_resubmit_runs_the_spec_again_under_a_new_name(cli, runner):
    old = run(cli, "-l", "team=a")
    code, out, err = cli("resubmit", old, "-p", "message=again", "-o", "json")
    assert code == 0, err
    new = json.loads(out)
    assert new["metadata"]["name"] != old and new["metadata"]["name"].startswith("hello-")
    labels = new["metadata"]["labels"]
    assert labels["team"] == "a" and labels["workflows.argoproj.io/resubmitted-from-workflow"] == old
    sent = runner.calls[-1]["wf"]
    assert sent["spec"]["templates"] == runner.calls[0]["wf"]["spec"]["templates"]
    assert {p["name"]: p["value"] for p in sent["spec"]["arguments"]["parameters"]}["message"] == "again"
    code, _, err = cli("resubmit", old, "--memoized")
    assert code == 1 and "needs a Tiphys server" in err


def test_submit_from_a_registered_template(cli, runner):
    assert cli("template", "create", str(TESTDATA / "template.yaml"))[0] == 0
    code, out, err = cli("submit", "--from", "workflowtemplate/greeter", "-p", "who=you", "-o", "name")
    assert code == 0, err
    sent = runner.calls[-1]["wf"]
    assert out.strip() == sent["metadata"]["name"] and sent["metadata"]["name"].startswith("greeter-")
    assert sent["spec"]["workflowTemplateRef"] == {"name": "greeter"}
    assert sent["metadata"]["labels"]["workflows.argoproj.io/workflow-template"] == "greeter"
    assert sent["spec"]["arguments"]["parameters"] == [{"name": "who", "value": "you"}]
    code, _, err = cli("submit", "--from", "workflowtemplate/missing")
    assert code == 1 and '"missing" not found' in err
    code, _, err = cli("submit", "--from", "pod/x")
    assert code == 1 and "expected workflowtemplate/NAME" in err
    code, _, err = cli("submit")
    assert code == 1 and "nothing to submit" in err
    code, _, err = cli("submit", str(TESTDATA / "hello.yaml"), "--from", "workflowtemplate/greeter")
    assert code == 1 and "not both" in err


def test_local_list_label_selector_and_limit(cli, runner):
    a = run(cli, "-l", "team=a")
    time.sleep(0.01)
    b = run(cli, "-l", "team=b")
    assert cli("list", "-l", "team=a", "-o", "name")[1] == f"{a}\n"
    assert cli("list", "-l", "team in (a,b)", "-o", "name")[1] == f"{b}\n{a}\n"
    assert cli("list", "--limit", "1", "-o", "name")[1] == f"{b}\n"
    code, _, err = cli("list", "-l", "team in a")
    assert code == 1 and err.startswith("tiphys: -l: unable to parse")
