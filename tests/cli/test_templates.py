"""`tiphys lint`, `template ...`, `cluster-template ...`, `version`, `--help`."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

TESTDATA = Path(__file__).parent / "testdata"


def data(name: str) -> str:
    return str(TESTDATA / name)


def test_lint_clean(cli):
    code, out, _ = cli("lint", data("hello.yaml"), data("template.yaml"))
    assert (code, out) == (0, "✔ no linting errors found!\n")


def test_lint_errors(cli):
    code, out, _ = cli("lint", data("invalid.yaml"), data("bad-syntax.yaml"))
    assert code == 1
    assert "invalid.yaml" in out and "missing-template" in out
    assert "bad-syntax.yaml" in out and "invalid YAML" in out
    assert out.splitlines()[-1] == "✖ 2 linting errors found!"


def test_lint_directory_and_missing_path(cli, tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "wf.yaml").write_text(Path(data("hello.yaml")).read_text())
    assert cli("lint", tmp_path / "d")[0] == 0
    code, _, err = cli("lint", "absent.yaml")
    assert code == 1 and err == "tiphys: absent.yaml: no such file or directory\n"


def test_lint_sees_registered_templates(cli):
    assert cli("lint", data("uses-template.yaml"))[0] == 1
    assert cli("template", "create", data("template.yaml"))[0] == 0
    assert cli("lint", data("uses-template.yaml"))[0] == 0


def test_template_lifecycle(cli):
    code, out, _ = cli("template", "create", data("template.yaml"))
    assert code == 0 and out.startswith("Name:") and "greeter" in out
    code, out, _ = cli("template", "get", "greeter", "-o", "json")
    tpl = json.loads(out)
    assert tpl["kind"] == "WorkflowTemplate" and tpl["spec"]["entrypoint"] == "greet"
    assert cli("template", "get", "greeter", "-o", "yaml")[1].startswith("apiVersion:")
    assert "Name:" in cli("template", "get", "greeter")[1]
    assert cli("template", "list")[1].split() == ["NAME", "greeter"]
    assert cli("template", "list", "-o", "name")[1] == "greeter\n"
    assert cli("cluster-template", "list", "-o", "name")[1] == ""
    assert cli("template", "delete", "greeter") == (0, "WorkflowTemplate 'greeter' deleted\n", "")
    code, _, err = cli("template", "get", "greeter")
    assert code == 1 and err == 'tiphys: WorkflowTemplate "greeter" not found\n'
    code, _, err = cli("template", "delete", "greeter")
    assert code == 1 and "not found" in err


def test_cluster_template_lifecycle(cli):
    assert cli("cluster-template", "create", data("cluster-template.yaml"), "-o", "name")[1] == "cluster-greeter\n"
    assert cli("cluster-template", "list", "-o", "name")[1] == "cluster-greeter\n"
    assert cli("template", "list", "-o", "name")[1] == ""
    assert cli("cluster-template", "get", "cluster-greeter", "-o", "name")[1] == "cluster-greeter\n"
    assert cli("cluster-template", "delete", "--all")[1] == "ClusterWorkflowTemplate 'cluster-greeter' deleted\n"


def test_template_create_rejects_wrong_kinds_and_bad_files(cli):
    code, _, err = cli("template", "create", data("cluster-template.yaml"))
    assert code == 1 and "skipping ClusterWorkflowTemplate 'cluster-greeter'" in err
    assert "no WorkflowTemplate found" in err
    code, _, err = cli("template", "create", data("bad-syntax.yaml"))
    assert code == 1 and "bad-syntax.yaml" in err and "Traceback" not in err
    code, _, err = cli("template", "create", "absent.yaml")
    assert code == 1 and "absent.yaml" in err


def test_template_create_lints_first(cli, tmp_path):
    bad = tmp_path / "bad-template.yaml"
    bad.write_text(Path(data("template.yaml")).read_text().replace("entrypoint: greet", "entrypoint: nope"))
    code, _, err = cli("template", "create", bad)
    assert code == 1 and "nope" in err
    assert cli("template", "list", "-o", "name")[1] == ""


def test_template_lint(cli):
    assert cli("template", "lint", data("template.yaml"))[0] == 0
    assert cli("cluster-template", "lint", data("invalid.yaml"))[0] == 1


def test_version_and_help(cli, capsys):
    code, out, _ = cli("version")
    assert code == 0 and out.startswith("tiphys: v")
    code, out, _ = cli("--help")
    assert code == 0 and "cluster-template" in out
    code, _, err = cli("run")
    assert code == 2 and "FILE" in err
    code, _, err = cli("bogus")
    assert code == 2


@pytest.mark.parametrize("command", [["get", "x"], ["list"], ["logs", "x"], ["template", "list"]])
def test_unusable_home_is_a_clear_error(cli, monkeypatch, tmp_path, command):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    monkeypatch.setenv("TIPHYS_HOME", str(blocker / "home"))
    code, _, err = cli(*command)
    assert code == 1 and err.startswith("tiphys: ") and "blocker" in err


def test_help_imports_nothing_heavy():
    import subprocess
    import sys
    code = ("import sys\nfrom tiphys.cli.main import main\n"
            "assert main(['--help']) == 0\n"
            "heavy = {'yaml', 'rich', 'sqlite3', 'tiphys.runtime', 'tiphys.spec'} & set(sys.modules)\n"
            "assert not heavy, heavy\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
