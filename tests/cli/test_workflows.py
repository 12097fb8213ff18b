"""`tiphys get | list | delete | logs` over workflows stored by a (fake) run."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from cli_fakes import finished

from tiphys.store.sqlite import Store

TESTDATA = Path(__file__).parent / "testdata"


def run(cli, *extra: str) -> str:
    code, out, err = cli("run", str(TESTDATA / "hello.yaml"), "-o", "name", *extra)
    assert code in (0, 1), err
    return out.strip()


@pytest.fixture
def two(cli, runner):
    """An older succeeded run and a newer failed one."""
    ok = run(cli)
    time.sleep(0.01)
    bad = run(cli, "-p", "outcome=Failed")
    return ok, bad


def test_get_by_name_and_latest(cli, two):
    ok, bad = two
    code, out, _ = cli("get", ok, "-o", "json")
    assert code == 0 and json.loads(out)["metadata"]["name"] == ok
    code, out, _ = cli("get", "@latest", "-o", "name")
    assert (code, out) == (0, f"{bad}\n")
    code, out, _ = cli("get", bad)
    assert code == 0 and "Status:" in out and "Failed" in out and "✖ shout" in out
    code, out, _ = cli("get", ok, "-o", "yaml")
    assert code == 0 and f"name: {ok}" in out


def test_get_unknown(cli, home):
    code, out, err = cli("get", "nope")
    assert (code, out) == (1, "")
    assert err == 'tiphys: workflow "nope" not found\n'
    code, _, err = cli("get", "@latest")
    assert code == 1 and "no workflows" in err


def test_get_in_another_namespace(cli, runner):
    cli("run", str(TESTDATA / "named.yaml"), "-o", "name")
    assert cli("get", "fixed-name", "-o", "name")[1] == "fixed-name\n"
    assert cli("get", "fixed-name", "-n", "argo", "-o", "name")[0] == 0
    code, _, err = cli("get", "fixed-name", "-n", "default")
    assert code == 1 and "namespace 'default'" in err


def test_list(cli, two):
    ok, bad = two
    code, out, _ = cli("list")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split() == ["NAME", "STATUS", "AGE", "DURATION", "PRIORITY", "MESSAGE"]
    assert lines[1].split()[:2] == [bad, "Failed"] and lines[2].split()[:2] == [ok, "Succeeded"]
    assert lines[1].split()[3:] == ["5s", "0", "step", "failed"]
    assert cli("list", "-o", "name")[1] == f"{bad}\n{ok}\n"
    assert cli("list", "--status", "succeeded", "-o", "name")[1] == f"{ok}\n"
    assert cli("list", "--status", "Failed,Error", "-o", "name")[1] == f"{bad}\n"
    assert cli("list", "--running", "-o", "name")[1] == ""
    assert cli("list", "--completed", "-o", "name")[1] == f"{bad}\n{ok}\n"
    assert cli("list", "--prefix", "nomatch", "--no-headers")[1] == ""
    assert cli("list", "--no-headers")[1].splitlines()[0].startswith(bad)
    listed = json.loads(cli("list", "-o", "json")[1])
    assert [w["metadata"]["name"] for w in listed] == [bad, ok] and listed[0]["status"]["nodes"]
    assert "PARAMETERS" in cli("list", "-o", "wide")[1]
    code, _, err = cli("list", "--status", "bogus")
    assert code == 1 and "--status 'bogus'" in err


def test_list_empty(cli, home):
    code, out, _ = cli("list")
    assert code == 0 and out.split() == ["NAME", "STATUS", "AGE", "DURATION", "PRIORITY", "MESSAGE"]


def test_delete(cli, two, home):
    ok, bad = two
    code, out, err = cli("delete", ok, "missing")
    assert code == 1
    assert out == f"Workflow '{ok}' deleted\n" and 'workflow "missing" not found' in err
    assert cli("get", ok)[0] == 1
    with Store(home / "tiphys.db") as store:
        assert store.get_logs(ok) == [] and store.get_logs(bad) != []
    code, _, err = cli("delete")
    assert code == 1 and "--all" in err
    assert cli("delete", "--all")[1] == f"Workflow '{bad}' deleted\n"
    assert cli("list", "-o", "name")[1] == ""


def test_delete_all_with_filter(cli, two):
    ok, bad = two
    assert cli("delete", "--all", "--status", "Failed")[1] == f"Workflow '{bad}' deleted\n"
    assert cli("list", "-o", "name")[1] == f"{ok}\n"


def test_logs_in_start_order_stdout_then_stderr(cli, two):
    ok, _ = two
    code, out, _ = cli("logs", ok)
    assert code == 0
    assert out.splitlines() == [
        "pod-say: say out 1", "pod-say: say out 2", "pod-say: say err",
        "pod-shout: shout out 1", "pod-shout: shout out 2", "pod-shout: shout err",
    ]
    assert cli("logs", "@latest", "--no-prefix")[1].splitlines()[0] == "say out 1"


@pytest.mark.parametrize("selector", ["shout", "{name}[0].shout", "{name}-2001", "pod-shout"])
def test_logs_of_one_node(cli, two, selector):
    ok, _ = two
    code, out, _ = cli("logs", ok, "--node", selector.format(name=ok))
    assert code == 0 and out.splitlines() == ["pod-shout: shout out 1", "pod-shout: shout out 2",
                                              "pod-shout: shout err"]
    assert cli("logs", ok, selector.format(name=ok))[1] == out  # argo's positional POD


def test_logs_errors(cli, two):
    ok, _ = two
    code, _, err = cli("logs", ok, "--node", "nope")
    assert code == 1 and 'no node "nope"' in err
    code, _, err = cli("logs", "missing")
    assert code == 1 and 'workflow "missing" not found' in err


def test_logs_follow_of_a_finished_workflow_returns(cli, two):
    ok, _ = two
    code, out, _ = cli("logs", ok, "--follow")
    assert code == 0 and len(out.splitlines()) == 6


def test_logs_follow_reads_live_files_then_the_store(cli, home, monkeypatch):
    monkeypatch.setattr("tiphys.cli.workflows.FOLLOW_POLL", 0.02)
    wf = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
          "metadata": {"name": "live", "namespace": "default"}, "spec": {}}
    running = finished(wf, "Running", steps=("say",))
    node_id = "live-2000"
    live_dir = home / "logs" / "live" / node_id
    live_dir.mkdir(parents=True)
    (live_dir / "stdout").write_text("line 1\npartial")
    store = Store(home / "tiphys.db")
    store.save_workflow(running)

    def progress():
        time.sleep(0.15)
        (live_dir / "stdout").write_text("line 1\npartial line 2\n")
        time.sleep(0.15)
        store.save_logs("live", node_id, "", "line 1\npartial line 2\nline 3\n", "oops\n")
        store.save_workflow(finished(wf, "Succeeded", steps=("say",)))

    thread = threading.Thread(target=progress)
    thread.start()
    try:
        code, out, _ = cli("logs", "live", "-f")
    finally:
        thread.join()
        store.close()
    assert code == 0
    pod = out.splitlines()[0].split(":")[0]
    assert pod.startswith("live-say-")  # argo v2 pod name when the runner gave none
    assert out.splitlines() == [f"{pod}: line 1", f"{pod}: partial line 2", f"{pod}: line 3", f"{pod}: oops"]
