"""`tiphys run`: loading, linting, overrides, output modes and exit codes."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tiphys.store.sqlite import Store

TESTDATA = Path(__file__).parent / "testdata"


def data(name: str) -> str:
    return str(TESTDATA / name)


def params_of(wf: dict) -> dict:
    return {p["name"]: p.get("value") for p in wf["spec"]["arguments"]["parameters"]}


def test_run_json_prints_only_the_final_workflow(cli, runner, home):
    code, out, err = cli("run", data("hello.yaml"), "-o", "json")
    assert code == 0
    wf = json.loads(out)
    assert wf["status"]["phase"] == "Succeeded"
    assert re.fullmatch(r"hello-[bcdfghjklmnpqrstvwxz2456789]{5}", wf["metadata"]["name"])
    assert wf["metadata"]["namespace"] == "default"
    assert wf["metadata"]["uid"] and wf["metadata"]["creationTimestamp"]
    assert wf["kind"] == "Workflow" and wf["spec"]["entrypoint"] == "main"
    # the runner got a prepared copy: name set, no status, home passed through
    call = runner.calls[0]
    assert call["wf"]["metadata"]["name"] == wf["metadata"]["name"]
    assert "status" not in call["wf"] and call["home"] == home and call["dry_run"] is False
    assert call["on_update"] is None  # not a terminal: no live view
    with Store(home / "tiphys.db") as store:
        assert store.get_workflow(wf["metadata"]["name"])["status"]["phase"] == "Succeeded"


@pytest.mark.parametrize("outcome", ["Failed", "Error"])
def test_run_exits_1_unless_succeeded(cli, runner, outcome):
    code, out, _ = cli("run", data("hello.yaml"), "-p", f"outcome={outcome}", "-o", "json")
    assert code == 1
    assert json.loads(out)["status"]["phase"] == outcome


def test_parameter_overrides(cli, runner, tmp_path):
    pfile = tmp_path / "params.yaml"
    pfile.write_text("message: from-file\nfromfile: 3\nflag: true\nlist: [1, 2]\n")
    code, _, _ = cli("run", data("hello.yaml"), "--parameter-file", pfile, "-p", "message=a=b=c",
                     "-p", "extra= spaced ", "-o", "name")
    assert code == 0
    params = params_of(runner.calls[0]["wf"])
    assert params == {"message": "a=b=c", "fromfile": "3", "flag": "true", "list": "[1, 2]",
                      "extra": " spaced "}
    # declared parameters keep their place; unknown ones are appended, as argo does
    names = [p["name"] for p in runner.calls[0]["wf"]["spec"]["arguments"]["parameters"]]
    assert names[0] == "message"


def test_parameter_override_outside_the_enum_is_refused(cli, runner, tmp_path):
    wf = tmp_path / "enum.yaml"
    wf.write_text(yaml.safe_dump({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"generateName": "enum-"},
        "spec": {"entrypoint": "main", "arguments": {"parameters": [{"name": "level", "value": "info",
                                                                     "enum": ["info", "debug"]}]},
                 "templates": [{"name": "main", "container": {"image": "alpine", "command": ["echo"]}}]}}))
    code, _, err = cli("run", wf, "-p", "level=trace", "-o", "name")
    assert code != 0 and not runner.calls   # as Argo's submit validation refuses it
    assert f"{wf}: spec.arguments.parameters[0]: -p level=trace: value 'trace' of parameter 'level' " \
           "is not in its enum [info, debug]" in err
    assert cli("run", wf, "-p", "level=debug", "-o", "name")[0] == 0
    assert params_of(runner.calls[0]["wf"])["level"] == "debug"


def test_parameter_file_json(cli, runner, tmp_path):
    pfile = tmp_path / "params.json"
    pfile.write_text(json.dumps({"message": "json"}))
    assert cli("run", data("hello.yaml"), "-f", pfile, "-o", "name")[0] == 0
    assert params_of(runner.calls[0]["wf"])["message"] == "json"


def test_workflow_without_arguments_gets_them(cli, runner):
    assert cli("run", data("named.yaml"), "-p", "x=1", "-o", "name")[0] == 0
    assert params_of(runner.calls[0]["wf"]) == {"x": "1"}


def test_entrypoint_name_namespace_labels(cli, runner):
    code, out, _ = cli("run", data("named.yaml"), "--entrypoint", "other", "--name", "my-run",
                       "-l", "team=a,tier=b", "-o", "name")
    assert (code, out) == (0, "my-run\n")
    wf = runner.calls[0]["wf"]
    assert wf["spec"]["entrypoint"] == "other"
    assert wf["metadata"]["name"] == "my-run" and "generateName" not in wf["metadata"]
    assert wf["metadata"]["namespace"] == "argo"
    assert wf["metadata"]["labels"] == {"team": "a", "tier": "b"}


def test_fixed_name_and_generate_name(cli, runner):
    assert cli("run", data("named.yaml"), "-o", "name")[1] == "fixed-name\n"
    out = cli("run", data("named.yaml"), "--generate-name", "gen-", "-o", "name")[1]
    assert out.startswith("gen-") and len(out.strip()) == 9


def test_rerun_with_fixed_name_replaces_the_old_record(cli, runner, home):
    cli("run", data("named.yaml"), "-o", "name")
    cli("run", data("named.yaml"), "-o", "name")
    with Store(home / "tiphys.db") as store:
        assert [w["metadata"]["name"] for w in store.list_workflows()] == ["fixed-name"]
        assert len(store.get_logs("fixed-name")) == 4  # 2 pods x (stdout, stderr), not doubled


def test_bad_overrides_are_clear_errors(cli, runner, tmp_path):
    code, out, err = cli("run", data("hello.yaml"), "-p", "novalue")
    assert code == 1 and out == ""
    assert "-p 'novalue': expected NAME=VALUE" in err and "Traceback" not in err
    code, _, err = cli("run", data("hello.yaml"), "--parameter-file", tmp_path / "absent.yaml")
    assert code == 1 and "absent.yaml" in err and "no such file" in err
    listfile = tmp_path / "list.yaml"
    listfile.write_text("- a\n- b\n")
    code, _, err = cli("run", data("hello.yaml"), "--parameter-file", listfile)
    assert code == 1 and "list.yaml" in err and "map" in err
    code, _, err = cli("run", data("hello.yaml"), "--name", "Bad_Name")
    assert code == 1 and "--name" in err
    assert runner.calls == []


def test_output_yaml(cli, runner):
    code, out, _ = cli("run", data("hello.yaml"), "-o", "yaml")
    assert code == 0
    assert yaml.safe_load(out)["status"]["phase"] == "Succeeded"


def test_default_output_is_the_argo_get_summary(cli, runner):
    code, out, err = cli("run", data("hello.yaml"))
    assert code == 0
    assert re.search(r"^Name: +hello-\w{5}$", out, re.M)
    assert re.search(r"^Status: +Succeeded$", out, re.M)
    assert re.search(r"^  message: +hi$", out, re.M)
    assert "STEP" in out and "PODNAME" in out and "✔ say" in out
    assert "\x1b[" not in out  # NO_COLOR / not a terminal
    assert err == ""


def test_wide_output_and_failure_message(cli, runner):
    code, out, _ = cli("run", data("hello.yaml"), "-o", "wide", "-p", "outcome=Failed")
    assert code == 1
    assert re.search(r"^Message: +step failed$", out, re.M)
    assert "ARTIFACTS" in out and "✖ say" in out


def test_dry_run_is_passed_through(cli, runner):
    cli("run", data("hello.yaml"), "--dry-run", "-o", "name")
    assert runner.calls[0]["dry_run"] is True


def test_submit_is_an_alias(cli, runner):
    code, out, _ = cli("submit", data("hello.yaml"), "-o", "json", "--wait")
    assert code == 0 and json.loads(out)["status"]["phase"] == "Succeeded"


def test_stdin(cli, runner, monkeypatch):
    import io
    monkeypatch.setattr("sys.stdin", io.StringIO(Path(data("hello.yaml")).read_text()))
    code, out, _ = cli("run", "-", "-o", "name")
    assert code == 0 and out.startswith("hello-")


def test_several_workflows_run_in_order(cli, runner):
    code, out, _ = cli("run", data("two.yaml"), "-o", "name")
    assert code == 0 and out == "first\nsecond\n"
    assert [c["wf"]["metadata"]["name"] for c in runner.calls] == ["first", "second"]


def test_templates_in_the_file_are_registered_first(cli, runner, home):
    code, _, err = cli("run", data("with-template.yaml"), "-o", "name")
    assert code == 0, err
    assert runner.seen_templates == ["inline-greeter"]


def test_lint_errors_stop_the_run(cli, runner):
    code, out, err = cli("run", data("invalid.yaml"), "-o", "json")
    assert code == 1 and out == ""
    assert "invalid.yaml" in err and "missing-template" in err
    assert runner.calls == []


@pytest.mark.parametrize(("file", "needle"), [
    ("missing.yaml", "missing.yaml: no such file"),
    (str(TESTDATA / "bad-syntax.yaml"), "invalid YAML"),
    (str(TESTDATA / "template.yaml"), "no Workflow to run"),
    (str(TESTDATA), "is a directory"),
])
def test_bad_input_is_one_clear_line(cli, runner, file, needle):
    code, out, err = cli("run", file)
    assert code == 1 and out == ""
    assert err.startswith("tiphys: ") and needle in err
    assert "Traceback" not in err
    assert runner.calls == []


def test_runner_tiphys_error_exits_1(cli, runner):
    code, _, err = cli("run", data("hello.yaml"), "-p", "outcome=tiphys-error")
    assert code == 1 and err == "tiphys: executor unavailable\n"


def test_unexpected_error_exits_2_and_is_recorded(cli, runner, home):
    code, out, err = cli("run", data("hello.yaml"), "-p", "outcome=raise")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "RuntimeError: engine exploded" in err
    assert "set TIPHYS_DEBUG=1 for a traceback" in err and "Traceback" not in err
    with Store(home / "tiphys.db") as store:
        wf = store.latest()
    assert wf["status"]["phase"] == "Error" and "engine exploded" in wf["status"]["message"]


def test_debug_shows_the_traceback(cli, runner, monkeypatch):
    monkeypatch.setenv("TIPHYS_DEBUG", "1")
    code, _, err = cli("run", data("hello.yaml"), "-p", "outcome=raise")
    assert code == 2 and "Traceback" in err


def test_interrupt_outside_the_runner(cli, monkeypatch, home):
    def boom(path):
        raise KeyboardInterrupt
    monkeypatch.setattr("tiphys.cli.run.load_manifests", boom)
    code, _, err = cli("run", data("hello.yaml"))
    assert code == 130 and "interrupted" in err


def test_live_view_on_a_terminal(cli, runner, monkeypatch):
    monkeypatch.setattr("tiphys.cli.run._isatty", lambda stream: True)
    code, out, err = cli("run", data("hello.yaml"))
    assert code == 0
    update = runner.calls[0]["on_update"]
    assert callable(update)
    assert "✔ say" in out


def test_live_tree_draws_the_latest_state():
    import io

    from cli_fakes import finished

    from tiphys.cli import live

    view = live.LiveTree(io.StringIO())
    assert "starting" in str(view.__rich__())
    wf = finished({"metadata": {"name": "wf"}, "spec": {}}, "Running")
    view.update(wf)
    text = str(view.__rich__())
    assert "● say" in text and "STEP" in text
    big = {"metadata": {"name": "big"}, "status": {"phase": "Running", "progress": "0/3000", "nodes": {
        str(i): {"id": str(i), "type": "Pod", "phase": "Running"} for i in range(live.TREE_LIMIT + 1)}}}
    view.update(big)
    assert str(view.__rich__()) == f"big: Running 0/3000 ({live.TREE_LIMIT + 1} Running)"
    with view:  # starts and stops rich's refresh thread quietly
        view.update(wf)
