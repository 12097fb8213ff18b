"""The CLI as a client: every verb against a REAL `tiphys server` process (a free port, its own
TIPHYS_HOME), driven through `main([...])` with TIPHYS_SERVER set. The client's own
TIPHYS_HOME must stay empty: nothing is run or stored locally.

Each test works in its own namespace, so the module can share one server.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
TESTDATA = Path(__file__).parent / "testdata"
BUSYBOX_SH = "sh"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tiphys_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "tiphys"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "tiphys.cli.main"]


def _start_server(home: Path, *extra: str):
    """`tiphys server` on a free port over `home`: (process, "127.0.0.1:PORT")."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("TIPHYS_SERVER", "TIPHYS_TOKEN")}
    proc = subprocess.Popen([*_tiphys_cmd(), "server", "--port", str(port), "--log-level", "warning", *extra],
                            env={**env, "TIPHYS_HOME": str(home)}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, f"127.0.0.1:{port}"  # argo-style host:port, no scheme
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"tiphys server did not start: {proc.stdout.read().decode() if proc.stdout else ''}")
            time.sleep(0.05)


def _stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc, address = _start_server(tmp_path_factory.mktemp("server-home"))
    yield address
    _stop_server(proc)


@pytest.fixture
def remote(server, cli, home, monkeypatch):
    """cli(...) talking to the server; asserts afterwards that nothing was stored locally."""
    monkeypatch.setenv("TIPHYS_SERVER", server)
    monkeypatch.delenv("TIPHYS_TOKEN", raising=False)
    yield cli
    assert not (home / "tiphys.db").exists(), "server mode must not touch the local store"


def _wf(name: str, script: str, *, params: dict[str, str] | None = None, labels: dict | None = None) -> dict:
    meta: dict = {"generateName": f"{name}-"}
    if labels:
        meta["labels"] = labels
    spec: dict = {"entrypoint": "main", "templates": [
        {"name": "main", "script": {"image": "busybox", "command": [BUSYBOX_SH], "source": script}}]}
    if params:
        spec["arguments"] = {"parameters": [{"name": k, "value": v} for k, v in params.items()]}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": meta, "spec": spec}


def _file(tmp_path: Path, wf: dict, name: str = "wf.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(wf))
    return str(path)


OUTCOME = 'echo "outcome={{workflow.parameters.outcome}}"; test "{{workflow.parameters.outcome}}" = ok\n'
TICKS = "for i in 1 2 3 4 5; do echo tick $i; sleep 0.2; done\n"
SLEEP = "sleep 30\n"


def test_submit_wait_get_logs(remote, tmp_path):
    code, out, err = remote("submit", str(TESTDATA / "hello.yaml"), "-n", "t1", "-p", "message=from the client",
                            "--wait")
    assert code == 0, err
    assert "Status:              Pending" in out or "Status:              Running" in out
    name = out.split()[1]
    assert f"{name} Succeeded at " in out
    code, out, err = remote("get", name, "-o", "json")  # found without -n
    wf = json.loads(out)
    assert (code, wf["metadata"]["namespace"], wf["status"]["phase"]) == (0, "t1", "Succeeded")
    code, out, _ = remote("get", name, "-n", "t1")
    assert code == 0 and "✔ say" in out and "Succeeded" in out
    code, out, _ = remote("logs", name)
    assert code == 0 and out.endswith(": from the client\n")
    code, out, _ = remote("logs", name, "--no-prefix", "--node", "say")
    assert (code, out) == (0, "from the client\n")
    code, _, err = remote("logs", name, "nope")
    assert code == 1 and 'no node "nope"' in err


def test_submit_wait_exit_code_follows_phase(remote, tmp_path):
    path = _file(tmp_path, _wf("outcome", OUTCOME, params={"outcome": "bad"}))
    code, out, err = remote("submit", path, "-n", "t2", "--wait", "-o", "json")
    final = json.loads(out)
    assert code == 1 and final["status"]["phase"] == "Failed", err
    code, out, _ = remote("submit", path, "-n", "t2", "-p", "outcome=ok", "--wait", "-o", "name")
    assert code == 0 and out.strip().startswith("outcome-")
    code, out, _ = remote("wait", final["metadata"]["name"], out.strip(), "-n", "t2")
    lines = out.splitlines()
    assert code == 1 and lines[0].startswith(f"{final['metadata']['name']} Failed at ")
    assert " Succeeded at " in lines[1]


def test_submit_without_wait_returns_at_once(remote, tmp_path):
    path = _file(tmp_path, _wf("sleepy", SLEEP))
    code, out, err = remote("submit", path, "-n", "t3", "-o", "json")
    assert code == 0, err
    created = json.loads(out)
    assert created["status"].get("phase") in (None, "Pending", "Running")
    name = created["metadata"]["name"]
    code, out, _ = remote("list", "-n", "t3", "--running", "-o", "name")
    assert (code, out) == (0, f"{name}\n")
    code, out, _ = remote("terminate", name)
    assert (code, out) == (0, f"workflow {name} terminated\n")
    code, out, _ = remote("wait", name, "-n", "t3")
    assert code == 1 and f"{name} Failed at" in out
    code, _, err = remote("stop", name, "-n", "t3")
    assert code == 1 and "completed" in err


def test_stop_runs_to_an_end(remote, tmp_path):
    path = _file(tmp_path, _wf("stoppable", SLEEP))
    name = remote("submit", path, "-n", "t4", "-o", "name")[1].strip()
    code, out, err = remote("stop", name, "--message", "enough")
    assert (code, out) == (0, f"workflow {name} stopped\n"), err
    code, out, _ = remote("wait", name)
    assert code == 1 and " Failed at " in out
    wf = json.loads(remote("get", name, "-o", "json")[1])
    assert "enough" in wf["status"].get("message", "")


def test_logs_follow_until_the_end(remote, tmp_path):
    path = _file(tmp_path, _wf("ticks", TICKS))
    name = remote("submit", path, "-n", "t5", "-o", "name")[1].strip()
    code, out, err = remote("logs", name, "--follow", "--no-prefix")
    assert (code, out) == (0, "".join(f"tick {i}\n" for i in range(1, 6))), err
    wf = json.loads(remote("get", name, "-o", "json")[1])
    assert wf["status"]["phase"] == "Succeeded"


def test_watch_and_submit_watch(remote, tmp_path):
    path = _file(tmp_path, _wf("watched", TICKS))
    code, out, err = remote("submit", path, "-n", "t6", "--watch")
    assert code == 0, err
    assert ": Succeeded 1/1" in out and "Status:              Succeeded" in out
    name = out.split(":")[0]
    code, out, _ = remote("watch", name)  # already completed: shows the end at once
    assert code == 0 and f"{name}: Succeeded" in out and "Progress:            1/1" in out


def test_list_selectors_and_pages(remote, tmp_path):
    ok = _file(tmp_path, _wf("listed", "echo ok\n", labels={"team": "a"}), "ok.json")
    bad = _file(tmp_path, _wf("listed", "exit 3\n", labels={"team": "b"}), "bad.json")
    names = {}
    for path, key in ((ok, "a1"), (bad, "b1"), (ok, "a2")):
        names[key] = remote("submit", path, "-n", "t7", "--wait", "-o", "name")[1].strip()
    other = remote("submit", ok, "-n", "t7b", "--generate-name", "other-", "--wait", "-o", "name")[1].strip()

    def listed(*args: str) -> set[str]:
        code, out, err = remote("list", *args, "-o", "name")
        assert code == 0, err
        return set(out.split())
    assert listed("-n", "t7") == set(names.values())
    assert listed("-n", "t7", "-l", "team=a") == {names["a1"], names["a2"]}
    assert listed("-n", "t7", "--status", "failed") == {names["b1"]}
    assert listed("-n", "t7", "--completed", "-l", "team in (b)") == {names["b1"]}
    assert listed("-n", "t7", "--running") == set()
    assert listed("--prefix", "other-") == {other}
    assert listed("-n", "t7", "--chunk-size", "1") == set(names.values())
    assert len(listed("-n", "t7", "--limit", "2")) == 2
    code, out, _ = remote("list", "-n", "t7", "-l", "team=b")
    assert code == 0 and out.splitlines()[0].split() == ["NAME", "STATUS", "AGE", "DURATION", "PRIORITY", "MESSAGE"]
    assert out.splitlines()[1].split()[:2] == [names["b1"], "Failed"]
    code, _, err = remote("list", "-l", "team in b")
    assert code == 1 and "unable to parse" in err


def test_delete(remote, tmp_path):
    path = _file(tmp_path, _wf("doomed", "echo x\n"))
    a, b, c = (remote("submit", path, "-n", "t8", "--wait", "-o", "name")[1].strip() for _ in range(3))
    code, out, err = remote("delete", a, "nope")
    assert code == 1 and out == f"Workflow '{a}' deleted\n" and 'workflow "nope" not found' in err
    code, out, _ = remote("delete", "--all", "-n", "t8")
    assert code == 0 and sorted(out.splitlines()) == sorted([f"Workflow '{b}' deleted", f"Workflow '{c}' deleted"])
    code, _, err = remote("get", b)
    assert code == 1 and "not found" in err


def test_templates_and_submit_from(remote, tmp_path):
    tpl = {"apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTemplate", "metadata": {"name": "echoer"},
           "spec": {"entrypoint": "main", "arguments": {"parameters": [{"name": "msg", "value": "default"}]},
                    "templates": [{"name": "main", "container": {
                        "image": "busybox", "command": ["echo", "{{workflow.parameters.msg}}"]}}]}}
    path = _file(tmp_path, tpl, "tpl.json")
    code, out, err = remote("template", "create", path, "-n", "t9")
    assert code == 0 and "Name:                echoer" in out, err
    code, _, err = remote("template", "create", path, "-n", "t9")
    assert code == 1 and "already exists" in err
    assert remote("template", "list", "-n", "t9", "-o", "name")[1] == "echoer\n"
    assert json.loads(remote("template", "get", "echoer", "-n", "t9", "-o", "json")[1])["metadata"]["name"] == "echoer"
    code, out, err = remote("submit", "--from", "workflowtemplate/echoer", "-n", "t9", "-p", "msg=templated",
                            "--wait", "-o", "json")
    final = json.loads(out)
    assert code == 0 and final["status"]["phase"] == "Succeeded", err
    assert final["metadata"]["labels"]["workflows.argoproj.io/workflow-template"] == "echoer"
    assert remote("logs", final["metadata"]["name"], "--no-prefix")[1] == "templated\n"
    code, _, err = remote("submit", "--from", "workflowtemplate/missing", "-n", "t9")
    assert code == 1 and '"missing" not found' in err
    bad = {**tpl, "metadata": {"name": "broken"}, "spec": {**tpl["spec"], "entrypoint": "nowhere"}}
    code, out, _ = remote("template", "lint", _file(tmp_path, bad, "bad.json"), "-n", "t9")
    assert code == 1 and "nowhere" in out and "1 linting error found" in out
    assert remote("template", "lint", path, "-n", "t9")[0] == 0
    code, out, err = remote("template", "delete", "echoer", "missing", "-n", "t9")
    assert code == 1 and out == "WorkflowTemplate 'echoer' deleted\n" and '"missing" not found' in err
    ctpl = {**tpl, "kind": "ClusterWorkflowTemplate", "metadata": {"name": "cluster-echoer-t9"}}
    assert remote("cluster-template", "create", _file(tmp_path, ctpl, "c.json"))[0] == 0
    code, out, err = remote("submit", "--from", "clusterworkflowtemplate/cluster-echoer-t9", "-n", "t9", "--wait")
    assert code == 0 and " Succeeded at " in out, err
    assert remote("cluster-template", "delete", "cluster-echoer-t9")[0] == 0


def test_rejected_workflow_names_the_file(remote, tmp_path):
    wf = _wf("broken", "echo\n")
    wf["spec"]["entrypoint"] = "nowhere"
    path = _file(tmp_path, wf)
    code, out, err = remote("submit", path, "-n", "t10")
    assert code == 1 and out == ""
    assert err.startswith(f"tiphys: {path}: ") and "nowhere" in err
    good = _file(tmp_path, _wf("checked", "echo\n"), "good.json")
    code, out, err = remote("submit", good, "-n", "t10", "--dry-run", "--wait", "-o", "json")
    assert code == 0 and json.loads(out)["metadata"]["generateName"] == "checked-", err
    assert remote("list", "-n", "t10", "-o", "name") == (0, "", "")


def test_server_flag_token_and_unreachable(server, cli, home, monkeypatch, tmp_path):
    monkeypatch.delenv("TIPHYS_SERVER", raising=False)
    path = _file(tmp_path, _wf("flagged", "echo hi\n"))
    code, out, err = cli("submit", path, "-n", "t11", "--server", f"http://{server}/", "--token", "Bearer abc",
                         "--wait", "-o", "name")
    assert code == 0 and out.startswith("flagged-"), err
    assert cli("--server", server, "get", out.strip(), "-o", "name")[1] == out
    assert not (home / "tiphys.db").exists()
    code, _, err = cli("list", "--server", f"127.0.0.1:{_free_port()}")
    assert code == 1 and err.startswith("tiphys: cannot reach Tiphys server at http://127.0.0.1:")
    code, _, err = cli("--server", server, "run", path)
    assert code == 1 and "tiphys submit --wait" in err
    code, _, err = cli("list", "--token", "abc")
    assert code == 1 and "--token needs a server" in err


def test_real_process_exit_code(server, tmp_path):
    """The installed command, configured only by the environment."""
    path = _file(tmp_path, _wf("proc", OUTCOME, params={"outcome": "bad"}))
    env = {**os.environ, "TIPHYS_SERVER": server, "TIPHYS_HOME": str(tmp_path / "client-home"), "NO_COLOR": "1"}
    done = subprocess.run([*_tiphys_cmd(), "submit", path, "-n", "t12", "--wait"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and " Failed at " in done.stdout, done.stderr
    assert not (tmp_path / "client-home" / "tiphys.db").exists()


# -- endpoints the server is gaining (retry, resubmit, suspend, resume) -------------------------

def test_retry_with_new_parameters(remote, tmp_path):
    path = _file(tmp_path, _wf("retried", OUTCOME, params={"outcome": "bad"}))
    name = remote("submit", path, "-n", "t13", "--wait", "-o", "name")[1].strip()
    code, out, err = remote("retry", name, "-p", "outcome=ok", "--wait", "-o", "json")
    assert code == 0, err
    final = json.loads(out)
    assert (final["metadata"]["name"], final["status"]["phase"]) == (name, "Succeeded")


def test_resubmit_runs_again_under_a_new_name(remote, tmp_path):
    path = _file(tmp_path, _wf("again", "echo again\n"))
    name = remote("submit", path, "-n", "t14", "--wait", "-o", "name")[1].strip()
    code, out, err = remote("resubmit", name, "--wait", "-o", "json")
    assert code == 0, err
    final = json.loads(out)
    assert final["metadata"]["name"] != name and final["status"]["phase"] == "Succeeded"
    assert remote("logs", final["metadata"]["name"], "--no-prefix")[1] == "again\n"


def test_suspend_and_resume(remote, tmp_path):
    wf = _wf("paused", "sleep 1\n")
    wf["spec"]["templates"] = [
        {"name": "main", "steps": [[{"name": "first", "template": "nap"}], [{"name": "second", "template": "say"}]]},
        {"name": "nap", "container": {"image": "busybox", "command": ["sleep", "1"]}},
        {"name": "say", "container": {"image": "busybox", "command": ["echo", "second"]}}]
    name = remote("submit", _file(tmp_path, wf), "-n", "t15", "-o", "name")[1].strip()
    code, out, err = remote("suspend", name)
    assert (code, out) == (0, f"workflow {name} suspended\n"), err
    time.sleep(2.5)  # the first step ends meanwhile; the second must not start while suspended
    wf = json.loads(remote("get", name, "-o", "json")[1])
    assert wf["status"]["phase"] == "Running"
    second = [n for n in wf["status"].get("nodes", {}).values() if n.get("displayName") == "second"]
    assert all(n.get("phase") == "Pending" for n in second)  # absent, or waiting to start
    code, out, err = remote("resume", name)
    assert (code, out) == (0, f"workflow {name} resumed\n"), err
    code, out, _ = remote("wait", name)
    assert code == 0 and " Succeeded at " in out


def test_wait_sees_a_workflow_finish(remote, tmp_path):
    path = _file(tmp_path, _wf("waited", "sleep 1; echo done\n"))
    name = remote("submit", path, "-n", "t16", "-o", "name")[1].strip()
    assert json.loads(remote("get", name, "-o", "json")[1])["status"].get("phase") != "Succeeded"
    code, out, _ = remote("wait", name)
    assert code == 0 and out.startswith(f"{name} Succeeded at ")


def test_bearer_token_against_client_auth(tmp_path, cli, home, monkeypatch):
    """`--auth-mode client`: the token (given ARGO_TOKEN-style, 'Bearer ...') is sent; without
    one the server's Unauthenticated answer says how to give one."""
    server_home = tmp_path / "auth-server"
    env = {**os.environ, "TIPHYS_HOME": str(server_home)}
    env.pop("TIPHYS_SERVER", None)
    minted = subprocess.run([*_tiphys_cmd(), "auth", "token", "create", "-n", "t-auth"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    proc, address = _start_server(server_home, "--auth-mode", "client")
    try:
        monkeypatch.setenv("TIPHYS_SERVER", address)
        monkeypatch.delenv("TIPHYS_TOKEN", raising=False)
        code, _, err = cli("list", "-n", "t-auth")
        assert code == 1 and "--token or TIPHYS_TOKEN" in err
        monkeypatch.setenv("TIPHYS_TOKEN", f"Bearer {token}")
        path = _file(tmp_path, _wf("authed", "echo hi\n"))
        code, out, err = cli("submit", path, "-n", "t-auth", "--wait", "-o", "name")
        assert code == 0, err
        name = out.strip()
        assert cli("list", "-n", "t-auth", "-o", "name")[1] == f"{name}\n"
        code, _, err = cli("get", name)  # a search across namespaces: not for this token
        assert code == 1 and "give -n NAMESPACE" in err
        assert cli("get", name, "-n", "t-auth", "-o", "name")[1] == f"{name}\n"
        code, _, err = cli("list", "-n", "t-auth", "--token", "wrong")
        assert code == 1 and "--token or TIPHYS_TOKEN" in err
        assert not (home / "tiphys.db").exists()
    finally:
        _stop_server(proc)
