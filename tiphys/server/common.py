"""What the resource modules share: the app state, presenting objects in Argo's shape,
preparing and linting a submitted Workflow."""
from __future__ import annotations

import copy
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tiphys.server.controller import Controller
from tiphys.server.errors import invalid
from tiphys.server.hub import Hub
from tiphys.store.sqlite import COMPLETED_PHASES, TEMPLATE_KINDS, Store, now_iso

API_VERSION = "argoproj.io/v1alpha1"
PHASE_LABEL = "workflows.argoproj.io/phase"
COMPLETED_LABEL = "workflows.argoproj.io/completed"
_DNS_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


@dataclass
class State:
    store: Store
    home: Path
    controller: Controller
    hub: Hub


def state(request: Any) -> State:
    return request.app.state.tiphys


def present(wf: dict) -> dict:
    """A stored Workflow as Argo Server answers it: apiVersion/kind set and the phase and
    completed labels Argo's controller maintains (so label selectors on them work)."""
    wf = dict(wf)
    wf.setdefault("apiVersion", API_VERSION)
    wf.setdefault("kind", "Workflow")
    meta = dict(wf.get("metadata") or {})
    phase = (wf.get("status") or {}).get("phase") or ""
    labels = dict(meta.get("labels") or {})
    if phase:
        labels[PHASE_LABEL] = phase
    labels[COMPLETED_LABEL] = "true" if phase in COMPLETED_PHASES else "false"
    meta["labels"] = labels
    meta.setdefault("namespace", "default")
    meta.setdefault("resourceVersion", "1")
    wf["metadata"] = meta
    status = wf.get("status")
    wf["status"] = _without_nulls(status) if isinstance(status, dict) else {}
    return wf


def _without_nulls(obj: Any) -> Any:
    """Leave out null fields (a running node's `finishedAt: null`): the generated Argo
    clients reject a null where the schema says date-time, as they do against Argo itself
    (argoproj/argo-workflows#9122); an absent field means the same and parses."""
    if isinstance(obj, dict):
        return {k: _without_nulls(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_without_nulls(v) for v in obj]
    return obj


def registry_for(store: Store, namespace: str, extra: dict | None = None):
    """Template lookup for lint and the engine: namespaced WorkflowTemplates in `namespace`."""
    def registry(kind: str, name: str) -> dict | None:
        if extra and (kind, name) in extra:
            return extra[(kind, name)]
        if kind not in TEMPLATE_KINDS:
            return None
        return store.get_template(kind, name, namespace)
    return registry


def lint(raw: dict, kind: str, namespace: str, store: Store) -> None:
    """400 InvalidArgument with every problem the linter finds."""
    from tiphys.spec import lint as linter
    from tiphys.spec.load import Manifest
    name = (raw.get("metadata") or {}).get("name") or (raw.get("metadata") or {}).get("generateName") or ""
    extra = {(kind, name): raw} if kind in TEMPLATE_KINDS and name else None
    issues = linter.lint_manifests([Manifest(kind=kind, name=name, raw=raw, file="<request>", index=0)],
                                   registry_for(store, namespace, extra))
    if issues:
        raise invalid("; ".join(f"{i.path}: {i.message}" if i.path else i.message for i in issues))


def with_kind(raw: Any, kind: str, field: str) -> dict:
    if not isinstance(raw, dict):
        raise invalid(f"{field} body not specified")
    obj = copy.deepcopy(raw)
    obj.setdefault("apiVersion", API_VERSION)
    obj.setdefault("kind", kind)
    if obj.get("kind") != kind:
        raise invalid(f"{field}: kind must be {kind}, not {obj.get('kind')!r}")
    if not isinstance(obj.get("metadata"), dict):
        obj["metadata"] = {}
    return obj


def check_name(name: str, field: str = "metadata.name") -> None:
    if not _DNS_NAME.match(name) or len(name) > 253:
        raise invalid(f"{field} {name!r}: a lowercase RFC 1123 subdomain must consist of lower case "
                      "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character")


def prepare_workflow(raw: Any, namespace: str, store: Store) -> dict:
    """The Workflow to create: kind/apiVersion, namespace, a name from generateName, uid,
    creationTimestamp; status dropped."""
    from tiphys.naming import generated_name
    wf = with_kind(raw, "Workflow", "workflow")
    meta = wf["metadata"]
    meta["namespace"] = namespace
    if not meta.get("name"):
        prefix = meta.get("generateName")
        if not prefix or not isinstance(prefix, str):
            raise invalid("metadata.name or metadata.generateName is required")
        meta["name"] = generated_name(prefix, lambda n: store.workflow_phase(n, namespace) is not None)
    check_name(str(meta["name"]))
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = now_iso()
    meta.pop("resourceVersion", None)
    wf.pop("status", None)
    return wf
