"""The runtime's side of artifact repositories: resolving a workflow's repository from the
store's ConfigMaps and the configured default (tiphys/artifacts/repository.py), with the
workflow namespace's secrets for credentials; and artifact GC when a workflow is deleted."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from tiphys.artifacts import gc, repository
from tiphys.artifacts.repos import Repositories


def secret_reader(store: Any, home: Path, namespace: str) -> Any:
    from tiphys.secrets import SecretLookup, Vault
    lookup = SecretLookup(Vault(store, home), namespace)
    return lambda name, key: lookup.value(name, key)


def _get_configmap(store: Any) -> Any:
    getter = getattr(store, "get_configmap", None)
    return getter if getter is not None else (lambda ns, name: None)


def for_workflow(wf: dict[str, Any], store: Any, home: Path) -> Repositories:
    """The workflow's repositories; raises RepositoryNotFound (the workflow fails) when it
    names a repository that does not exist. A resumed workflow keeps the one frozen in its status."""
    meta = wf["metadata"]
    ns = meta.get("namespace") or "default"
    ref = (wf.get("status") or {}).get("artifactRepositoryRef")
    if ref is None:
        ref = repository.resolve(wf.get("spec") or {}, ns, _get_configmap(store),
                                 repository.default_repository(home))
    return Repositories(home, ref, meta, secret_reader(store, home, ns), wf.get("spec") or {})


def on_deletion(wf: dict[str, Any], store: Any, home: Path) -> None:
    """Artifact GC for a workflow being deleted (OnWorkflowDeletion; OnWorkflowCompletion not yet done)."""
    arts = [a for n in ((wf.get("status") or {}).get("nodes") or {}).values()
            for a in (n.get("outputs") or {}).get("artifacts") or []]
    if not arts:
        return
    meta = wf.get("metadata") or {}
    ref = (wf.get("status") or {}).get("artifactRepositoryRef")
    repos = Repositories(home, ref, meta, secret_reader(store, home, meta.get("namespace") or "default"),
                         wf.get("spec") or {})
    gc.collect(wf, repos, gc.DELETION)
