"""The JSON type of each field Argo decodes: a mapping, a list, a string, a number.

Argo refuses a manifest whose field has the wrong type (a decode error), so lint does too,
with the field's path; the engine then never meets a label that is a string or a volume list
that is a number. `SHAPES` names the fields by where they sit; `check_shape` walks a value
against one entry.
"""
from __future__ import annotations

from typing import Any, Callable

MAP, LIST, STR, NUM, BOOL = "a mapping", "a list", "a string", "a number", "true or false"
LIST_IF = "a list, checked elsewhere"    # a list whose items are checked; other lint checks report a non-list
# a shape: one of the names above; a dict of field -> shape (a mapping with those fields);
# or (MAP or LIST, shape of each value / item)
Shape = Any

_META = {"labels": (MAP, STR), "annotations": (MAP, STR), "name": STR, "namespace": STR, "generateName": STR}
_VOLUME = {"name": STR, "persistentVolumeClaim": MAP, "emptyDir": MAP, "hostPath": MAP,
           "configMap": MAP, "secret": MAP}
_ENV = {"name": STR, "valueFrom": MAP}
_MOUNT = {"name": STR, "mountPath": STR, "subPath": STR, "readOnly": BOOL}
_CONTAINER = {"name": STR, "image": STR, "command": (LIST, STR), "args": (LIST, STR), "workingDir": STR,
              "env": (LIST, _ENV), "envFrom": (LIST, MAP), "volumeMounts": (LIST, _MOUNT),
              "resources": MAP, "ports": (LIST, MAP), "securityContext": MAP, "source": STR,
              "imagePullPolicy": STR}
_PARAM = {"name": STR, "valueFrom": MAP, "enum": LIST, "description": STR, "globalName": STR}
_ART = {"name": STR, "path": STR, "from": STR, "globalName": STR, "optional": BOOL, "archive": MAP,
        "s3": MAP, "git": MAP, "http": MAP, "raw": MAP, "gcs": MAP, "artifactory": MAP, "hdfs": MAP,
        "oss": MAP, "azure": MAP}
_IO = {"parameters": (LIST, _PARAM), "artifacts": (LIST, _ART)}
_ARGS = {"parameters": (LIST_IF, _PARAM), "artifacts": (LIST_IF, _ART)}
_HOOK = {"template": STR, "expression": STR, "arguments": _ARGS, "templateRef": MAP}
_STEP = {"name": STR, "template": STR, "arguments": _ARGS, "templateRef": MAP, "inline": MAP,
         "hooks": (MAP, _HOOK), "continueOn": MAP, "onExit": STR,
         "withSequence": MAP, "dependencies": (LIST, STR)}
_TEMPLATE = {
    "name": STR, "inputs": _IO, "outputs": _IO, "metadata": _META,
    "container": _CONTAINER, "script": _CONTAINER, "steps": (LIST, (LIST_IF, _STEP)),
    "dag": {"tasks": (LIST, _STEP), "target": STR, "failFast": BOOL},
    "suspend": MAP, "resource": MAP, "http": MAP, "data": MAP, "containerSet": MAP, "plugin": MAP,
    "retryStrategy": MAP, "volumes": (LIST, _VOLUME), "initContainers": (LIST, _CONTAINER),
    "sidecars": (LIST, _CONTAINER), "nodeSelector": MAP, "affinity": MAP, "tolerations": (LIST, MAP),
    "securityContext": MAP, "memoize": MAP, "synchronization": MAP, "hooks": (MAP, _HOOK),
    "podSpecPatch": STR, "serviceAccountName": STR, "priorityClassName": STR, "daemon": BOOL,
    "failFast": BOOL, "executor": MAP, "metrics": MAP, "archiveLocation": MAP, "env": (LIST, MAP),
}
WORKFLOW_SPEC = {
    "entrypoint": STR, "arguments": _ARGS, "templates": (LIST, MAP), "onExit": STR,
    "hooks": (MAP, _HOOK), "volumes": (LIST, _VOLUME), "volumeClaimTemplates": (LIST, {"metadata": _META}),
    "templateDefaults": MAP, "podGC": MAP, "podMetadata": _META, "workflowMetadata": MAP,
    "ttlStrategy": MAP, "retryStrategy": MAP, "nodeSelector": MAP, "tolerations": (LIST, MAP),
    "securityContext": MAP, "synchronization": MAP, "volumeClaimGC": MAP, "workflowTemplateRef": MAP,
    "imagePullSecrets": (LIST, MAP), "hostAliases": (LIST, MAP), "affinity": MAP, "metrics": MAP,
    "serviceAccountName": STR, "podSpecPatch": STR, "suspend": BOOL, "artifactRepositoryRef": MAP,
    "executor": MAP, "dnsConfig": MAP, "podDisruptionBudget": MAP, "archiveLogs": BOOL,
}
# every field of Argo's WorkflowSpec (workflow_types.go): Argo decodes a manifest strictly, so
# any other key under spec (a typo such as `entrypoints`) is refused as an unknown field
WORKFLOW_SPEC_FIELDS = frozenset((
    "templates", "entrypoint", "arguments", "serviceAccountName", "automountServiceAccountToken",
    "executor", "volumes", "volumeClaimTemplates", "parallelism", "artifactRepositoryRef", "suspend",
    "nodeSelector", "affinity", "tolerations", "imagePullSecrets", "hostNetwork", "dnsPolicy", "dnsConfig",
    "onExit", "ttlStrategy", "activeDeadlineSeconds", "priority", "schedulerName", "podGC",
    "podPriorityClassName", "podPriority", "hostAliases", "securityContext", "podSpecPatch",
    "podDisruptionBudget", "metrics", "shutdown", "workflowTemplateRef", "synchronization", "volumeClaimGC",
    "retryStrategy", "podMetadata", "templateDefaults", "archiveLogs", "hooks", "workflowMetadata",
    "artifactGC", "podResources", "resourceClaims", "executorPlugins"))
TEMPLATE = _TEMPLATE
METADATA = _META

_IS = {MAP: lambda v: isinstance(v, dict), LIST: lambda v: isinstance(v, list), STR: lambda v: isinstance(v, str),
       NUM: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
       BOOL: lambda v: isinstance(v, bool) or v in ("true", "false")}
_SCALAR_STR = (str, int, float, bool)   # a string field Argo's decoder accepts only as a string;
# numbers and bools there are taken as text by Kubernetes clients (YAML `tag: 1`), so lint lets them by


def check_shape(value: Any, shape: Shape, path: str, issue: Callable[[str, str], None]) -> None:
    """Report each place where `value` does not have `shape` (None, an absent field, is fine)."""
    if value is None:
        return
    fields = shape if isinstance(shape, dict) else None
    outer, item = (MAP, None) if fields is not None else (shape, None) if isinstance(shape, str) else shape
    if outer == LIST_IF:
        if not isinstance(value, list):
            return
        ok = True
    elif outer == STR:
        ok = isinstance(value, _SCALAR_STR)
    else:
        ok = _IS[outer](value)
    if not ok:
        issue(path, f"must be {outer}, not {_kind(value)}")
        return
    if fields is not None:
        for key, sub in fields.items():
            check_shape(value.get(key), sub, f"{path}.{key}", issue)
    elif item is not None:
        pairs = value.items() if isinstance(value, dict) else enumerate(value)
        for key, v in pairs:
            check_shape(v, item, f"{path}.{key}" if isinstance(value, dict) else f"{path}[{key}]", issue)


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, (int, float)):
        return "a number"
    return "a string" if isinstance(value, str) else type(value).__name__
