"""Which artifact repository a workflow gets (tiphys/artifacts/repository.py), as Argo resolves it."""
from __future__ import annotations

import pytest

from tiphys.artifacts import repository
from tiphys.artifacts.repository import ANNOTATION, RepositoryNotFound

S3 = "s3: {bucket: b, endpoint: 'h:9000'}"


def cms(**found):
    return lambda ns, name: found.get(f"{ns}/{name}")


def cm(data, default=None):
    meta = {"annotations": {ANNOTATION: default}} if default else {}
    return {"metadata": meta, "data": data}


def test_ref_with_key_and_annotated_default():
    get = cms(**{"ns/artifact-repositories": cm({"a": S3, "b": "archiveLogs: true\n" + S3}, default="b")})
    assert repository.resolve({"artifactRepositoryRef": {"key": "a"}}, "ns", get, None) == {
        "artifactRepository": {"s3": {"bucket": "b", "endpoint": "h:9000"}},
        "configMap": "artifact-repositories", "key": "a", "namespace": "ns"}
    got = repository.resolve({"artifactRepositoryRef": {}}, "ns", get, None)
    assert got["key"] == "b" and got["artifactRepository"]["archiveLogs"] is True
    assert repository.resolve({}, "ns", get, None)["key"] == "b"     # no ref: the namespace's annotated one


def test_missing_configmap_or_key_names_it():
    with pytest.raises(RepositoryNotFound, match='ConfigMap "my-repos" not found in namespace "ns"'):
        repository.resolve({"artifactRepositoryRef": {"configMap": "my-repos", "key": "x"}}, "ns", cms(), None)
    get = cms(**{"ns/artifact-repositories": cm({"a": S3})})
    with pytest.raises(RepositoryNotFound, match='key "zz" not found'):
        repository.resolve({"artifactRepositoryRef": {"key": "zz"}}, "ns", get, None)
    with pytest.raises(RepositoryNotFound, match="no key"):
        repository.resolve({"artifactRepositoryRef": {}}, "ns", get, None)


def test_default_from_config_yaml_then_env_then_local(tmp_path):
    assert repository.resolve({}, "ns", cms(), None) is None          # Tiphys' local repository
    (tmp_path / "config.yaml").write_text("artifactRepository:\n  s3: {bucket: from-config}\n")
    default = repository.default_repository(tmp_path, {repository.ENV: "s3: {bucket: from-env}"})
    assert default == {"s3": {"bucket": "from-config"}}
    assert repository.resolve({}, "ns", cms(), default) == {"default": True, "artifactRepository": default}
    assert repository.default_repository(tmp_path / "none", {repository.ENV: "s3: {bucket: e}"}) == {"s3": {"bucket": "e"}}
    with pytest.raises(Exception, match="unknown artifact repository field 'bukket'"):
        repository.default_repository(tmp_path / "none", {repository.ENV: "bukket: x"})
