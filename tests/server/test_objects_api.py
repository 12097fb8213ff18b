"""`/api/v1/configmaps|secrets/{namespace}` (tiphys/server/objects.py): apply (create, then
update), get, list, delete, scoped by namespace tokens; a Secret's values never answered, and
stored encrypted."""
from __future__ import annotations

import json
import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from tiphys import auth
from tiphys.secrets import Vault
from tiphys.server.app import create_app
from tiphys.store.sqlite import Store

NS, OTHER = "team-a", "team-b"
VALUE = "Very-Secret-8841"


@pytest.fixture
def api(home):
    with Store(home / "tiphys.db") as store:
        _, token = auth.create_token(store, [NS], "test")
    with TestClient(create_app(home, auth_mode="client"), headers={"Authorization": f"Bearer {token}"}) as c:
        yield c


def test_configmap_apply_get_list_delete(api):
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "repos"}, "data": {"a": "1"}}
    r = api.post(f"/api/v1/configmaps/{NS}", json={"object": cm})
    assert r.status_code == 200, r.text
    assert r.json()["action"] == "created" and r.json()["object"]["metadata"]["namespace"] == NS
    cm["data"]["a"] = "2"
    assert api.post(f"/api/v1/configmaps/{NS}", json={"object": cm}).json()["action"] == "configured"
    assert api.get(f"/api/v1/configmaps/{NS}/repos").json()["data"] == {"a": "2"}
    assert [i["metadata"]["name"] for i in api.get(f"/api/v1/configmaps/{NS}").json()["items"]] == ["repos"]
    assert api.delete(f"/api/v1/configmaps/{NS}/repos").status_code == 200
    r = api.get(f"/api/v1/configmaps/{NS}/repos")
    assert r.status_code == 404 and "repos" in r.json()["message"]


def test_secret_values_never_answered_and_stored_encrypted(api, home):
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
              "stringData": {"secretKey": VALUE}}
    r = api.post(f"/api/v1/secrets/{NS}", json={"object": secret})
    assert r.status_code == 200, r.text
    for answer in (r.text, api.get(f"/api/v1/secrets/{NS}/creds").text, api.get(f"/api/v1/secrets/{NS}").text):
        assert VALUE not in answer
        assert "secretKey" in answer
    raw = (home / "tiphys.db").read_bytes()
    assert VALUE.encode() not in raw
    with Store(home / "tiphys.db") as store:
        assert Vault(store, home).get(NS, "creds") == {"secretKey": VALUE}


def test_other_namespace_is_forbidden(api):
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {}}
    assert api.post(f"/api/v1/configmaps/{OTHER}", json={"object": cm}).status_code == 403
    assert api.get(f"/api/v1/secrets/{OTHER}").status_code == 403


def test_namespace_mismatch_and_wrong_kind_refused(api):
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": OTHER}}
    r = api.post(f"/api/v1/configmaps/{NS}", json={"object": cm})
    assert r.status_code == 400 and OTHER in r.json()["message"]
    r = api.post(f"/api/v1/configmaps/{NS}", json={"object": {**cm, "kind": "Secret", "metadata": {"name": "x"}}})
    assert r.status_code == 400 and "Secret" in r.json()["message"]
    assert json.loads(api.get(f"/api/v1/configmaps/{NS}").text)["items"] == []
