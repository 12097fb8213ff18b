"""The table of kinds `tiphys apply -f` accepts: ONE registration point (`register`).

A `Kind` says how to apply, get, list and delete its objects in a store (`Context`), and
optionally how to do so through a Tiphys server (`remote_*`, given a tiphys.client Client).
Kinds without an Argo REST API of their own (ConfigMap, Secret) get generic routes from
tiphys/server/objects.py (`rest` is their resource name). Later work adds its kinds
(CronWorkflow, EventSource, Sensor...) by calling `register(Kind(...))` in its own module and
listing that module in `PLUGINS`, nothing else.
"""
from __future__ import annotations

import base64
import binascii
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tiphys.errors import SpecError

CLUSTER_WORKFLOW_TEMPLATE = "ClusterWorkflowTemplate"
WORKFLOW_TEMPLATE = "WorkflowTemplate"
HIDDEN = "<hidden>"     # what a Secret's value is shown as: values never leave the store in clear


@dataclass
class Context:
    """Where objects live: a store (tiphys.store) and TIPHYS_HOME (the secrets' key)."""
    store: Any
    home: Path


Apply = Callable[[Context, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Kind:
    kind: str                                  # as in manifests: "ConfigMap"
    names: tuple[str, ...]                     # CLI names: ("configmap", "configmaps", "cm")
    namespaced: bool
    apply: Apply                               # store the (namespace-filled) body; returns it as shown
    get: Callable[[Context, str, str], dict[str, Any] | None]
    delete: Callable[[Context, str, str], bool]
    list: Callable[[Context, str | None], list[dict[str, Any]]]
    rest: str | None = None                    # generic server routes /api/v1/<rest>/{namespace}
    remote_apply: Callable[[Any, dict[str, Any]], dict[str, Any]] | None = None
    remote_get: Callable[[Any, str, str], dict[str, Any]] | None = None
    remote_delete: Callable[[Any, str, str], None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


KINDS: dict[str, Kind] = {}
# modules that register more kinds when imported (e.g. "tiphys.objects.cron"); loaded on first lookup
PLUGINS: list[str] = ["tiphys.events.kinds",   # CronWorkflow, EventSource, Sensor, WorkflowEventBinding
                      "tiphys.k8s.kinds"]      # ResourceQuota, LimitRange, PriorityClass
_loaded = False


def register(kind: Kind) -> Kind:
    KINDS[kind.kind] = kind
    return kind


def _load_plugins() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in PLUGINS:
            importlib.import_module(module)


def of_manifest(kind: str, where: str = "") -> Kind:
    """The Kind of a manifest's `kind`; a clear refusal for any other."""
    _load_plugins()
    found = KINDS.get(kind)
    if found is None:
        known = ", ".join(sorted(KINDS))
        raise SpecError(f"kind {kind!r} cannot be applied (tiphys apply knows: {known}; "
                        "run a Workflow with tiphys run/submit)", file=where or None)
    return found


def by_name(name: str) -> Kind:
    """The Kind of a CLI name (`configmap`, `cm`, `secrets`...)."""
    _load_plugins()
    low = name.lower()
    for kind in KINDS.values():
        if low in kind.names or low == kind.kind.lower():
            return kind
    known = ", ".join(sorted(k.names[0] for k in KINDS.values()))
    raise SpecError(f"unknown kind {name!r} (known: {known})")


def namespace_of(body: dict[str, Any], kind: Kind, namespace: str | None) -> dict[str, Any]:
    """A copy of `body` with metadata.namespace set as kubectl does: the manifest's own, else
    `-n`, else `default`; both given and different is an error. Cluster-scoped kinds have none."""
    meta = dict(body.get("metadata") or {})
    if not isinstance(body.get("metadata") or {}, dict):
        raise SpecError("metadata must be a map", path="metadata")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise SpecError(f"a {kind.kind} needs metadata.name", path="metadata.name")
    from tiphys.secrets import check_name
    check_name(name, f"{kind.kind} name")
    if not kind.namespaced:
        meta.pop("namespace", None)
        return {**body, "metadata": meta}
    own = meta.get("namespace")
    if own and namespace and own != namespace:
        raise SpecError(f'the namespace from the provided object "{own}" does not match the namespace '
                        f'"{namespace}". You must pass \'--namespace={own}\' to perform this operation.')
    meta["namespace"] = own or namespace or "default"
    check_name(meta["namespace"], "namespace")
    return {**body, "metadata": meta}


# -- ConfigMap ---------------------------------------------------------------------------

def _cm_apply(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    if body.get("binaryData"):
        raise SpecError("ConfigMap binaryData is not supported (use data)", path="binaryData")
    data = body.get("data")
    if data is not None and not isinstance(data, dict):
        raise SpecError("ConfigMap data must be a map of strings", path="data")
    keep = {k: v for k, v in body.items() if k in ("apiVersion", "kind", "metadata", "data")}
    return ctx.store.save_configmap(keep)


CONFIGMAP = register(Kind(
    kind="ConfigMap", names=("configmap", "configmaps", "cm"), namespaced=True, rest="configmaps",
    apply=_cm_apply,
    get=lambda ctx, ns, name: ctx.store.get_configmap(ns, name),
    delete=lambda ctx, ns, name: ctx.store.delete_configmap(ns, name),
    list=lambda ctx, ns: ctx.store.list_configmaps(ns)))


# -- Secret ------------------------------------------------------------------------------

def secret_values(body: dict[str, Any]) -> dict[str, str]:
    """A Secret manifest's values: `data` (base64) overlaid with `stringData`, as Kubernetes."""
    values: dict[str, str] = {}
    for field_name in ("data", "stringData"):
        part = body.get(field_name) or {}
        if not isinstance(part, dict):
            raise SpecError(f"Secret {field_name} must be a map of strings", path=field_name)
        for key, value in part.items():
            if field_name == "data":
                try:
                    value = base64.b64decode(str(value), validate=True).decode()
                except (binascii.Error, ValueError):
                    raise SpecError(f"Secret data.{key}: not base64-encoded UTF-8 text "
                                    "(use stringData for plain text)", path=f"data.{key}") from None
            values[str(key)] = str(value)
    return values


def present_secret(namespace: str, name: str, keys: list[str]) -> dict[str, Any]:
    """How a Secret is shown everywhere: its key names, never its values."""
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
            "type": "Opaque", "data": {k: HIDDEN for k in keys}}


def _vault(ctx: Context) -> Any:
    from tiphys.secrets import Vault
    return Vault(ctx.store, ctx.home)


def _secret_apply(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    meta = body["metadata"]
    values = secret_values(body)
    _vault(ctx).create(meta["namespace"], meta["name"], values, replace=True)
    return present_secret(meta["namespace"], meta["name"], sorted(values))


def _secret_get(ctx: Context, ns: str, name: str) -> dict[str, Any] | None:
    keys = _vault(ctx).keys(ns, name)
    return None if keys is None else present_secret(ns, name, keys)


def _secret_delete(ctx: Context, ns: str, name: str) -> bool:
    return bool(ctx.store.delete_secret(ns, name))


def _secret_list(ctx: Context, ns: str | None) -> list[dict[str, Any]]:
    vault = _vault(ctx)
    return [present_secret(n, name, vault.keys(n, name) or []) for n, name in vault.names(ns)]


SECRET = register(Kind(
    kind="Secret", names=("secret", "secrets"), namespaced=True, rest="secrets",
    apply=_secret_apply, get=_secret_get, delete=_secret_delete, list=_secret_list))


# -- WorkflowTemplate / ClusterWorkflowTemplate --------------------------------------------

def _template_kind(kind: str, names: tuple[str, ...]) -> Kind:
    namespaced = kind == WORKFLOW_TEMPLATE

    def apply(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
        from tiphys.spec import lint
        from tiphys.spec.load import Manifest
        manifest = Manifest(kind=kind, name=body["metadata"]["name"], raw=body, file=f"{kind} {body['metadata']['name']}")
        issues = lint.lint_manifests([manifest], ctx.store.registry)
        if issues:
            raise SpecError("; ".join(str(i) for i in issues))
        return ctx.store.save_template(kind, body)

    def remote_apply(client: Any, body: dict[str, Any]) -> dict[str, Any]:
        from tiphys.client.errors import ServerNotFound
        ns = body["metadata"].get("namespace") if namespaced else None
        try:
            client.get_template(kind, ns, body["metadata"]["name"])
        except ServerNotFound:
            return {"action": "created", "object": client.create_template(kind, ns, body)}
        return {"action": "configured", "object": client.update_template(kind, ns, body["metadata"]["name"], body)}

    return register(Kind(
        kind=kind, names=names, namespaced=namespaced, apply=apply,
        get=lambda ctx, ns, name: ctx.store.get_template(kind, name, ns if namespaced else None),
        delete=lambda ctx, ns, name: ctx.store.delete_template(kind, name, ns if namespaced else None),
        list=lambda ctx, ns: ctx.store.list_templates(kind, ns if namespaced else None),
        remote_apply=remote_apply,
        remote_get=lambda client, ns, name: client.get_template(kind, ns if namespaced else None, name),
        remote_delete=lambda client, ns, name: client.delete_template(kind, ns if namespaced else None, name)))


WORKFLOW_TEMPLATE_KIND = _template_kind(WORKFLOW_TEMPLATE, ("workflowtemplate", "workflowtemplates", "wftmpl"))
CLUSTER_TEMPLATE_KIND = _template_kind(CLUSTER_WORKFLOW_TEMPLATE,
                                       ("clusterworkflowtemplate", "clusterworkflowtemplates", "cwftmpl"))
