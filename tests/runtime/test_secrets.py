"""Secrets end to end: `env[].valueFrom.secretKeyRef` / `envFrom[].secretRef` resolved when the
step starts, with real sandboxed processes (runner.run + LocalExecutor), and the value kept out
of the status, the logs, the output parameters and every file under TIPHYS_HOME."""
from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tiphys.engine import actions as A
from tiphys.errors import InfrastructureError, SpecError
from tiphys.runtime import runner, steps
from tiphys.secrets import KEY_ENV, KEY_FILE, SecretError, SecretLookup, Vault, load_key
from tiphys.store.sqlite import Store

pytestmark = pytest.mark.integration
VALUE = "pa55-Wörd_7f3c9e1b"
NS = "team-a"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    return tmp_path / "home"


@pytest.fixture
def store(home):
    s = Store(home / "tiphys.db")
    yield s
    s.close()


def workflow(name: str, env: list[dict], env_from: list[dict] | None = None, script: str | None = None) -> dict:
    script = script or ('printf "%s" "$PASSWORD" | sha256sum; echo "the password is $PASSWORD"; '
                        'echo "oops: $PASSWORD" >&2; printf "%s" "$PASSWORD" > /tmp/out')
    container = {"image": "busybox", "command": ["sh", "-c", script], "env": env}
    if env_from is not None:
        container["envFrom"] = env_from
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": name, "namespace": NS},
            "spec": {"entrypoint": "main", "templates": [
                {"name": "main", "container": container,
                 "outputs": {"parameters": [{"name": "copy", "valueFrom": {"path": "/tmp/out"}}]}}]}}


def ref(name: str = "db", key: str = "password", **extra) -> list[dict]:
    return [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": name, "key": key, **extra}}}]


def pod(wf: dict) -> dict:
    return next(n for n in wf["status"]["nodes"].values() if n["type"] == "Pod")


def files_containing(root: Path, needle: bytes) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_step_gets_the_value_and_it_is_nowhere_in_clear(home, store):
    Vault(store, home).create(NS, "db", {"password": VALUE, "user": "admin"})
    wf = runner.run(workflow("uses-secret", ref()), store=store, home=home)
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    node = pod(wf)
    stdout = "".join(c for _, _, stream, c in store.get_logs("uses-secret") if stream == "stdout")
    stderr = "".join(c for _, _, stream, c in store.get_logs("uses-secret") if stream == "stderr")
    assert sha(VALUE) in stdout                      # the step really received the value
    assert "the password is ***" in stdout and "oops: ***" in stderr
    assert node["outputs"]["parameters"][0]["value"] == "***"
    assert "result" not in node["outputs"]           # the entrypoint pod: Argo keeps no result
    stored = store.get_workflow("uses-secret", NS)
    container = stored["spec"]["templates"][0]["container"]
    assert container["env"] == ref()                 # the reference is kept, not the value
    assert VALUE not in repr(stored)
    store.close()
    assert files_containing(home, VALUE.encode()) == []   # database (+ WAL), logs, artifacts, key file


def test_a_result_the_caller_names_is_masked(home, store):
    Vault(store, home).create(NS, "db", {"password": VALUE})
    manifest = workflow("named-result", ref())
    manifest["spec"]["entrypoint"] = "outer"
    manifest["spec"]["templates"] += [
        {"name": "outer", "steps": [[{"name": "s", "template": "main"}],
                                    [{"name": "use", "template": "echo", "arguments": {"parameters": [
                                        {"name": "v", "value": "{{steps.s.outputs.result}}"}]}}]]},
        {"name": "echo", "inputs": {"parameters": [{"name": "v"}]},
         "container": {"image": "busybox", "command": ["echo", "{{inputs.parameters.v}}"]}}]
    wf = runner.run(manifest, store=store, home=home)
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    [step] = [n for n in wf["status"]["nodes"].values() if n["displayName"] == "s"]
    assert "the password is ***" in step["outputs"]["result"] and VALUE not in step["outputs"]["result"]


def test_env_from_secret_ref_with_prefix(home, store):
    Vault(store, home).create(NS, "db", {"password": VALUE, "user": "admin-7"})
    wf = runner.run(workflow("env-from", [], [{"secretRef": {"name": "db"}, "prefix": "DB_"}],
                             script='printf "%s/%s" "$DB_user" "$DB_password" | sha256sum; echo ok > /tmp/out'),
                    store=store, home=home)
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    stdout = "".join(c for _, _, stream, c in store.get_logs("env-from") if stream == "stdout")
    assert sha(f"admin-7/{VALUE}") in stdout


def test_missing_secret_ends_the_step_in_error_naming_it(home, store):
    wf = runner.run(workflow("no-secret", ref("ghost")), store=store, home=home)
    assert wf["status"]["phase"] == "Error"
    assert pod(wf)["phase"] == "Error"
    assert pod(wf)["message"] == 'secret "ghost" not found'


def test_missing_key_ends_the_step_in_error_naming_it(home, store):
    Vault(store, home).create(NS, "db", {"password": VALUE})
    wf = runner.run(workflow("no-key", ref("db", "token")), store=store, home=home)
    assert pod(wf)["phase"] == "Error"
    assert pod(wf)["message"] == f"couldn't find key token in Secret {NS}/db"
    assert VALUE not in repr(wf)


def test_optional_missing_secret_leaves_the_variable_unset(home, store):
    wf = runner.run(workflow("optional", ref("ghost", optional=True),
                             script='test -z "${PASSWORD+set}" && echo unset > /tmp/out'), store=store, home=home)
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    assert pod(wf)["outputs"]["parameters"][0]["value"] == "unset"


def test_secrets_are_per_namespace(home, store):
    Vault(store, home).create("other", "db", {"password": VALUE})
    wf = runner.run(workflow("wrong-ns", ref()), store=store, home=home)
    assert pod(wf)["message"] == 'secret "db" not found'


def test_another_key_cannot_decrypt(home, store, monkeypatch):
    Vault(store, home).create(NS, "db", {"password": VALUE})
    monkeypatch.setenv(KEY_ENV, Fernet.generate_key().decode())
    wf = runner.run(workflow("wrong-key", ref()), store=store, home=home)
    assert pod(wf)["phase"] == "Error"
    assert pod(wf)["message"].startswith(f"cannot decrypt secret {NS}/db")


# -- the pieces ------------------------------------------------------------------------------

def test_key_file_is_created_private_and_reused(home):
    key = load_key(home)
    path = home / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(home) == key
    Fernet(key)  # a valid Fernet key


def test_key_file_readable_by_others_is_refused(home):
    load_key(home)
    os.chmod(home / KEY_FILE, 0o644)
    with pytest.raises(InfrastructureError, match="chmod 600"):
        load_key(home)


def test_key_from_environment_creates_no_file(home):
    key = Fernet.generate_key().decode()
    assert load_key(home, {KEY_ENV: key}) == key.encode()
    assert not (home / KEY_FILE).exists()
    with pytest.raises(SpecError, match="not a Fernet key"):
        load_key(home, {KEY_ENV: "short"})


def test_values_are_encrypted_in_the_store(home, store):
    vault = Vault(store, home)
    vault.create(NS, "db", {"password": VALUE})
    sealed = store.get_secret(NS, "db")
    assert set(sealed) == {"password"} and VALUE not in sealed["password"]
    assert vault.get(NS, "db") == {"password": VALUE}
    with pytest.raises(SpecError, match="already exists"):
        vault.create(NS, "db", {"password": "x"})
    with pytest.raises(SpecError, match="secret key"):
        vault.create(NS, "other", {"bad key": "x"})
    with pytest.raises(SpecError, match="secret name"):
        vault.create(NS, "Bad_Name", {"k": "x"})


def test_lookup_errors_name_secret_and_key(home, store):
    Vault(store, home).create(NS, "db", {"password": VALUE})
    lookup = SecretLookup(Vault(store, home), NS)
    assert lookup.value("db", "password") == VALUE
    assert lookup.value("db", "nope", optional=True) is None
    with pytest.raises(SecretError, match=f"couldn't find key nope in Secret {NS}/db"):
        lookup.value("db", "nope")


def test_step_with_secrets_runs_in_a_private_folder(tmp_path, home, store):
    """Its raw output is not where `logs --follow` and the server read running steps' logs."""
    Vault(store, home).create(NS, "db", {"password": VALUE})
    action = A.StartPod("n1", "p1", {"name": "main", "container": {"image": "busybox", "env": ref()}})
    workdir = tmp_path / "logs" / "wf" / "n1"
    spec = steps.build_spec(action, workdir, None, steps.secret_lookup(store, home, NS))
    assert dict(spec.env)["PASSWORD"] == VALUE
    assert spec.workdir == workdir / steps.PRIVATE
    assert stat.S_IMODE(spec.workdir.stat().st_mode) == 0o700
    plain = steps.build_spec(A.StartPod("n2", "p2", {"name": "main", "container": {"image": "busybox"}}),
                             tmp_path / "n2", None)
    assert plain.workdir == tmp_path / "n2"
    steps.cleanup(workdir)
    assert not workdir.exists()


def test_mask_replaces_whole_values_and_lines_of_multiline_ones():
    values = steps.mask_list(["abc", "abcdef", "-----BEGIN KEY-----\nline-two-secret\n-----END KEY-----"])
    assert steps.mask("x abcdef abc y", values) == "x *** *** y"
    assert steps.mask("printed: line-two-secret", values) == "printed: ***"
    assert steps.mask("nothing here", values) == "nothing here"


def _command_lines_containing(needle: bytes) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                line = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if needle in line:
                found.append(line.replace(b"\0", b" ").decode(errors="replace")[:120])
    return found


def test_value_is_on_no_command_line_while_the_step_runs(home, store):
    import threading
    Vault(store, home).create(NS, "db", {"password": VALUE})
    done = threading.Event()
    threading.Thread(target=lambda: (runner.run(workflow("ps", ref(), script="sleep 1.5; echo x > /tmp/out"),
                                                store=store, home=home), done.set()), daemon=True).start()
    seen: list[str] = []
    while not done.wait(0.05):
        seen += _command_lines_containing(VALUE.encode())
    assert store.get_workflow("ps", NS)["status"]["phase"] == "Succeeded"
    assert seen == []
