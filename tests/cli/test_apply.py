"""`tiphys apply -f FILE|DIR`, `tiphys get|delete KIND NAME` on the local store, and the same
through a real `tiphys server --auth-mode client` with a namespace-scoped token."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tiphys.cli.main import main
from tiphys.secrets import Vault
from tiphys.store.sqlite import Store

VALUE = "Hush-77-Value"
MANIFESTS = f"""\
apiVersion: v1
kind: ConfigMap
metadata:
  name: artifact-repositories
  annotations: {{workflows.argoproj.io/default-artifact-repository: default}}
data:
  default: |
    s3: {{bucket: b, endpoint: "127.0.0.1:1", insecure: true}}
---
apiVersion: v1
kind: Secret
metadata: {{name: creds}}
data:
  accessKey: dGVzdGtleQ==
stringData:
  secretKey: {VALUE}
---
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {{name: hello}}
spec:
  entrypoint: main
  templates:
  - name: main
    container: {{image: busybox, command: [echo, hi]}}
"""


def write(tmp_path: Path, text: str = MANIFESTS, name: str = "objects.yaml") -> Path:
    path = tmp_path / "dir" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def test_apply_creates_then_configures(home, tmp_path, capsys):
    path = write(tmp_path)
    assert main(["apply", "-f", str(path), "-n", "team"]) == 0
    assert capsys.readouterr().out.split("\n")[:3] == [
        "configmap/artifact-repositories created", "secret/creds created", "workflowtemplate/hello created"]
    assert main(["apply", "-f", str(path.parent), "-n", "team"]) == 0
    assert "configmap/artifact-repositories configured" in capsys.readouterr().out
    with Store(home / "tiphys.db") as store:
        assert store.get_configmap("team", "artifact-repositories")["data"]["default"].startswith("s3:")
        assert Vault(store, home).get("team", "creds") == {"accessKey": "testkey", "secretKey": VALUE}
        assert store.get_template("WorkflowTemplate", "hello", "team") is not None
    assert VALUE.encode() not in (home / "tiphys.db").read_bytes()


def test_get_and_delete_objects(home, tmp_path, capsys):
    assert main(["apply", "-f", str(write(tmp_path))]) == 0
    capsys.readouterr()
    assert main(["get", "secret", "creds", "-o", "json"]) == 0
    out = capsys.readouterr().out
    assert "secretKey" in out and VALUE not in out and "dGVzdGtleQ" not in out
    assert main(["get", "cm", "artifact-repositories"]) == 0
    assert "bucket: b" in capsys.readouterr().out
    assert main(["delete", "configmap", "artifact-repositories"]) == 0
    assert main(["get", "configmap", "artifact-repositories"]) == 1
    assert 'configmap "artifact-repositories" not found' in capsys.readouterr().err


@pytest.mark.parametrize("text, expected", [
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n", "kind 'Pod' cannot be applied"),
    ("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: '%%%'}\n", "data.k: not base64"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: x}\n", 'does not match the namespace "y"'),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\n", "lowercase RFC 1123"),
])
def test_bad_documents_refused_clearly(home, tmp_path, capsys, text, expected):
    path = write(tmp_path, text, "bad.yaml")
    assert main(["apply", "-f", str(path), "-n", "y"]) == 1
    err = capsys.readouterr().err
    assert expected in err and str(path) in err and "unexpected" not in err


def test_a_bad_document_changes_nothing(home, tmp_path):
    path = write(tmp_path, MANIFESTS + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\n")
    assert main(["apply", "-f", str(path)]) == 1
    with Store(home / "tiphys.db") as store:
        assert store.get_configmap("default", "artifact-repositories") is None


@pytest.mark.integration
def test_apply_through_a_server(home, tmp_path, capsys, monkeypatch):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
    from live import start_server, stop
    from tiphys import auth
    home.mkdir(parents=True, exist_ok=True)
    with Store(home / "tiphys.db") as store:
        _, token = auth.create_token(store, ["team"], "test")
    proc, url = start_server(home, "--auth-mode", "client")
    try:
        monkeypatch.setenv("TIPHYS_SERVER", url)
        monkeypatch.setenv("TIPHYS_TOKEN", token)
        path = write(tmp_path)
        assert main(["apply", "-f", str(path), "-n", "team"]) == 0
        assert "secret/creds created" in capsys.readouterr().out
        assert main(["apply", "-f", str(path), "-n", "team"]) == 0
        assert "workflowtemplate/hello configured" in capsys.readouterr().out
        assert main(["get", "secret", "creds", "-n", "team", "-o", "json"]) == 0
        out = capsys.readouterr().out
        assert "secretKey" in out and VALUE not in out
        assert main(["apply", "-f", str(path), "-n", "other"]) == 1      # the token is for "team" only
        assert main(["delete", "secret", "creds", "-n", "team"]) == 0
        assert main(["get", "secret", "creds", "-n", "team"]) == 1
    finally:
        stop(proc)
    with Store(home / "tiphys.db") as store:
        assert store.get_configmap("team", "artifact-repositories") is not None
