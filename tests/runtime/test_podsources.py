"""ConfigMap / Secret data handed to a step as Kubernetes hands it to a pod: configMapKeyRef,
configMapRef, and configMap / secret volumes (runtime/podsources.py), with Kubernetes' errors."""
from __future__ import annotations

import stat

import pytest

from tiphys.runtime import podsources, steps
from tiphys.secrets import SecretError


class FakeStore:
    def __init__(self, maps):
        self.maps = maps

    def get_configmap(self, namespace, name):
        return self.maps.get((namespace, name))


class FakeSecrets:
    def __init__(self, data):
        self.data = data

    def secret(self, name):
        return self.data.get(name)

    def value(self, name, key, optional=False):
        return (self.data.get(name) or {}).get(key)


@pytest.fixture
def sources():
    store = FakeStore({("ns", "settings"): {"data": {"region": "eu", "level": "info"}}})
    return podsources.PodSources(FakeSecrets({"creds": {"token": "t0k", "user": "me"}}), store, "ns")


def test_env_from_configmap_keys_and_refs(sources):
    body = {"envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "CFG_"}],
            "env": [{"name": "REGION", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "region"}}},
                    {"name": "GONE", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "x", "optional": True}}},
                    {"name": "PLAIN", "value": "p"}]}
    env, hidden = steps._environment(body, sources)
    assert env == (("CFG_level", "info"), ("CFG_region", "eu"), ("REGION", "eu"), ("PLAIN", "p"))
    assert hidden == []


def test_missing_configmap_or_key_is_an_error_worded_as_kubernetes(sources):
    with pytest.raises(podsources.ConfigMapError, match='configmap "nope" not found'):
        steps._environment({"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k"}}}]},
                           sources)
    with pytest.raises(podsources.ConfigMapError, match="couldn't find key k in ConfigMap ns/settings"):
        steps._environment({"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "k"}}}]},
                           sources)


def test_configmap_and_secret_volumes_are_read_only_folders_of_their_keys(sources, tmp_path):
    tmpl = {"volumes": [{"name": "cfg", "configMap": {"name": "settings", "items": [{"key": "region", "path": "r/region.txt"}]}},
                        {"name": "sec", "secret": {"secretName": "creds", "defaultMode": 0o400}}]}
    body = {"volumeMounts": [{"name": "cfg", "mountPath": "/cfg"}, {"name": "sec", "mountPath": "/sec"}]}
    fields, hidden = steps._pod_fields(tmpl, body, tmp_path / "wf" / "node", sources)
    mounts = {m.path: m for m in fields["mounts"]}
    assert all(m.read_only for m in mounts.values())
    cfg, sec = mounts["/cfg"].source, mounts["/sec"].source
    assert sorted(p.relative_to(cfg).as_posix() for p in cfg.rglob("*") if p.is_file()) == ["r/region.txt"]
    assert (cfg / "r" / "region.txt").read_text() == "eu"
    assert {p.name: p.read_text() for p in sec.iterdir()} == {"token": "t0k", "user": "me"}
    assert stat.S_IMODE((sec / "token").stat().st_mode) == 0o400
    assert sorted(hidden) == ["me", "t0k"]


def test_missing_secret_volume_fails_unless_optional(sources, tmp_path):
    body = {"volumeMounts": [{"name": "s", "mountPath": "/s"}]}
    with pytest.raises(SecretError, match='secret "absent" not found'):
        steps._pod_fields({"volumes": [{"name": "s", "secret": {"secretName": "absent"}}]}, body, tmp_path / "a", sources)
    fields, _ = steps._pod_fields({"volumes": [{"name": "s", "secret": {"secretName": "absent", "optional": True}}]},
                                  body, tmp_path / "b", sources)
    assert list(fields["mounts"][0].source.iterdir()) == []
