"""Which artifact repository a workflow uses, resolved as Argo's controller does
(workflow/artifactrepositories), and frozen into `status.artifactRepositoryRef`.

- `spec.artifactRepositoryRef {configMap (default artifact-repositories), key}`: that ConfigMap
  of the workflow's namespace; the key is `key`, else the ConfigMap's annotation
  `workflows.argoproj.io/default-artifact-repository`. Not found: the workflow fails, naming it.
- Without a ref: `artifact-repositories` of the workflow's namespace (annotated default key)
  when it exists, else the default repository: `artifactRepository` of $TIPHYS_HOME/config.yaml
  (the server reads the same file: Argo's controller ConfigMap), or $TIPHYS_ARTIFACT_REPOSITORY
  (the same YAML), else Tiphys' local repository under $TIPHYS_HOME/artifacts.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tiphys.errors import SpecError

ANNOTATION = "workflows.argoproj.io/default-artifact-repository"
DEFAULT_CONFIGMAP = "artifact-repositories"
ENV = "TIPHYS_ARTIFACT_REPOSITORY"
KINDS = ("s3", "gcs", "azure", "oss", "hdfs", "artifactory", "plugin")

GetConfigMap = Callable[[str, str], "dict[str, Any] | None"]


class RepositoryNotFound(SpecError):
    """The repository a workflow names does not exist (the workflow fails, as in Argo)."""


def _parse(text: Any, where: str) -> dict[str, Any]:
    import yaml
    if isinstance(text, dict):
        repo = text
    else:
        try:
            repo = yaml.safe_load(str(text)) or {}
        except yaml.YAMLError as exc:
            raise SpecError(f"{where}: not a valid artifact repository (YAML): {exc}") from None
    if not isinstance(repo, dict):
        raise SpecError(f"{where}: an artifact repository must be a map (archiveLogs, s3...)")
    unknown = [k for k in repo if k not in (*KINDS, "archiveLogs")]
    if unknown:
        raise SpecError(f"{where}: unknown artifact repository field {unknown[0]!r}")
    return repo


def default_repository(home: Path | None, environ: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """The controller-level default: config.yaml's `artifactRepository`, else $TIPHYS_ARTIFACT_REPOSITORY."""
    env = os.environ if environ is None else environ
    if home is not None:
        from tiphys.executors.choose import read_config
        found = read_config(Path(home)).get("artifactRepository")
        if found:
            return _parse(found, f"{Path(home) / 'config.yaml'}: artifactRepository")
    if env.get(ENV):
        return _parse(env[ENV], f"${ENV}")
    return None


def _from_configmap(cm: dict[str, Any], key: str | None, namespace: str, name: str) -> dict[str, Any]:
    annotations = (cm.get("metadata") or {}).get("annotations") or {}
    chosen = key or annotations.get(ANNOTATION)
    if not chosen:
        raise RepositoryNotFound(f'artifact repository ConfigMap "{name}" in namespace "{namespace}": no key '
                                 f"given (artifactRepositoryRef.key) and no annotation {ANNOTATION}")
    data = cm.get("data") or {}
    if chosen not in data:
        raise RepositoryNotFound(f'artifact repository "{name}" key "{chosen}" not found in ConfigMap "{name}" '
                                 f'of namespace "{namespace}"')
    repo = _parse(data[chosen], f'ConfigMap "{name}" key "{chosen}"')
    return {"artifactRepository": repo, "configMap": name, "key": chosen, "namespace": namespace}


def resolve(spec: Mapping[str, Any], namespace: str, get_configmap: GetConfigMap,
            default: dict[str, Any] | None) -> dict[str, Any] | None:
    """The workflow's `status.artifactRepositoryRef`; None means Tiphys' local repository."""
    ref = spec.get("artifactRepositoryRef")
    if ref is not None:
        if not isinstance(ref, dict):
            raise SpecError("spec.artifactRepositoryRef must be a map {configMap, key}")
        name = str(ref.get("configMap") or DEFAULT_CONFIGMAP)
        cm = get_configmap(namespace, name)
        if cm is None:
            raise RepositoryNotFound(f'failed to find artifact repository: ConfigMap "{name}" not found in '
                                     f'namespace "{namespace}" (spec.artifactRepositoryRef; create it with '
                                     "tiphys apply -f)")
        return _from_configmap(cm, ref.get("key") or None, namespace, name)
    cm = get_configmap(namespace, DEFAULT_CONFIGMAP)
    if cm is not None and ANNOTATION in ((cm.get("metadata") or {}).get("annotations") or {}):
        return _from_configmap(cm, None, namespace, DEFAULT_CONFIGMAP)
    if default:
        return {"default": True, "artifactRepository": default}
    return None
