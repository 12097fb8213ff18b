"""`tiphys auth token create|list|delete` and `tiphys secret create|list|delete`."""
from __future__ import annotations

import hashlib
import json

from tiphys import auth
from tiphys.secrets import Vault
from tiphys.store.sqlite import Store

VALUE = "hunter2-a7c1"


def test_token_create_prints_it_once_and_stores_the_digest(cli, home):
    code, out, err = cli("auth", "token", "create", "-n", "argo", "--namespace", "ci", "--description", "build bot")
    assert code == 0, err
    token = out.strip()
    assert token.startswith(auth.PREFIX) and "\n" not in token
    assert "shown" in err and "argo, ci" in err
    with Store(home / "tiphys.db") as store:
        found = store.find_token(hashlib.sha256(token.encode()).hexdigest())
    assert found["namespaces"] == ["argo", "ci"] and found["description"] == "build bot"
    code, out, _ = cli("auth", "token", "list")
    assert code == 0 and found["id"] in out and "argo,ci" in out and "build bot" in out
    assert token not in out
    code, out, _ = cli("auth", "token", "list", "-o", "json")
    assert json.loads(out)[0]["id"] == found["id"] and token not in out
    assert cli("auth", "token", "delete", found["id"])[0] == 0
    with Store(home / "tiphys.db") as store:
        assert auth.identify(store, token) is None


def test_token_create_json_and_all_namespaces(cli):
    code, out, _ = cli("auth", "token", "create", "-A", "-o", "json")
    assert code == 0
    info = json.loads(out)
    assert info["namespaces"] == ["*"] and info["token"].startswith(auth.PREFIX)


def test_token_errors(cli):
    code, _, err = cli("auth", "token", "create")
    assert code == 1 and "at least one --namespace" in err
    code, _, err = cli("auth", "token", "create", "-n", "Not_A_Namespace")
    assert code == 1 and "Not_A_Namespace" in err
    code, _, err = cli("auth", "token", "delete", "nope")
    assert code == 1 and "token 'nope' not found" in err


def test_secret_create_list_delete(cli, home, tmp_path):
    (tmp_path / "ca.pem").write_text("CERT-DATA")
    code, out, err = cli("secret", "create", "db", "--from-literal", f"password={VALUE}",
                         "--from-literal", "user=admin", "--from-file", str(tmp_path / "ca.pem"), "-n", "argo")
    assert code == 0, err
    assert VALUE not in out + err
    with Store(home / "tiphys.db") as store:
        assert Vault(store, home).get("argo", "db") == {"password": VALUE, "user": "admin", "ca.pem": "CERT-DATA"}
    code, out, _ = cli("secret", "list")
    assert code == 0 and "argo" in out and "db" in out and "ca.pem,password,user" in out and VALUE not in out
    code, out, _ = cli("secret", "list", "-n", "other", "-o", "json")
    assert json.loads(out) == []
    assert cli("secret", "delete", "db", "-n", "argo")[0] == 0
    code, _, err = cli("secret", "delete", "db", "-n", "argo")
    assert code == 1 and 'secret "db" not found' in err
    assert VALUE.encode() not in (home / "tiphys.db").read_bytes()


def test_secret_create_errors(cli):
    code, _, err = cli("secret", "create", "db", "--from-literal", "novalue")
    assert code == 1 and "KEY=VALUE" in err
    code, _, err = cli("secret", "create", "db")
    assert code == 1 and "at least one key" in err
    assert cli("secret", "create", "db", "--from-literal", "a=1")[0] == 0
    code, _, err = cli("secret", "create", "db", "--from-literal", "a=2")
    assert code == 1 and "already exists" in err
    code, _, err = cli("secret", "create", "db2", "--from-file", "/nonexistent/file")
    assert code == 1 and "/nonexistent/file" in err


def test_server_auth_mode_choices(cli):
    code, _, err = cli("server", "--auth-mode", "sso")
    assert code == 2 and "invalid choice" in err


def test_store_option_writes_the_servers_store(cli, home, tmp_path):
    url = f"sqlite://{tmp_path / 'server.db'}"
    assert cli("secret", "create", "db", "--from-literal", "a=1", "--store", url)[0] == 0
    code, out, _ = cli("auth", "token", "create", "-n", "argo", "--store", url)
    assert code == 0
    with Store(tmp_path / "server.db") as store:
        assert store.list_secrets() == [("default", "db")]
        assert auth.identify(store, out.strip()) is not None
    with Store(home / "tiphys.db") as store:
        assert store.list_secrets() == [] and store.list_tokens() == []
