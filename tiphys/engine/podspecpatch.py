"""`podSpecPatch` (workflow and template level) where it maps onto a step on one machine.

Argo merges the patch (JSON or YAML, substituted like the rest of the template) into the pod it
built, containers merged by name. Tiphys has no pod: what it can honour is the main
container's `resources`, `env` (by name), `image`, `command`, `args`, `workingDir` and
`securityContext`, and the pod's `activeDeadlineSeconds`. Every other field has no effect here;
`ignored` names them so the shell can say so (nothing is dropped silently).
"""
from __future__ import annotations

from typing import Any

import yaml

from tiphys.errors import SpecError

MAIN = "main"
CONTAINER_FIELDS = ("resources", "env", "image", "command", "args", "workingDir", "securityContext")


def _parse(text: Any, where: str) -> dict[str, Any]:
    if isinstance(text, dict):
        return text
    try:
        found = yaml.safe_load(str(text))
    except yaml.YAMLError as exc:
        raise SpecError(f"Failed to parse podSpecPatch: {str(exc).splitlines()[0]}", path=where) from None
    if not isinstance(found, dict):
        raise SpecError("Failed to parse podSpecPatch: it must be a PodSpec object", path=where)
    return found


def patches(spec: dict[str, Any], tmpl: dict[str, Any]) -> list[dict[str, Any]]:
    """The workflow's patch, then the template's (the later one wins), parsed."""
    found = []
    for owner, where in ((spec, "spec.podSpecPatch"), (tmpl, f"templates.{tmpl.get('name')}.podSpecPatch")):
        if owner.get("podSpecPatch") not in (None, ""):
            found.append(_parse(owner["podSpecPatch"], where))
    return found


def apply(spec: dict[str, Any], tmpl: dict[str, Any]) -> dict[str, Any]:
    """`tmpl` with the patches merged into its main container and deadline (a new dict if any)."""
    found = patches(spec, tmpl)
    if not found:
        return tmpl
    out = dict(tmpl)
    field = "container" if "container" in tmpl else "script" if "script" in tmpl else None
    for patch in found:
        main = next((c for c in patch.get("containers") or [] if isinstance(c, dict) and c.get("name") == MAIN), None)
        if main is not None and field is not None:
            out[field] = _merge_container(dict(out[field] or {}), main)
        if patch.get("activeDeadlineSeconds") not in (None, ""):
            out["activeDeadlineSeconds"] = patch["activeDeadlineSeconds"]
    return out


def ignored(spec: dict[str, Any], tmpl: dict[str, Any]) -> list[str]:
    """The patch fields that have no effect on a step on one machine."""
    names: list[str] = []
    for patch in patches(spec, tmpl):
        for key, value in patch.items():
            if key == "containers":
                for c in value or []:
                    if not isinstance(c, dict) or c.get("name") != MAIN:
                        names.append(f"containers[{c.get('name') if isinstance(c, dict) else '?'}]")
                        continue
                    names += [f"containers[main].{k}" for k in c if k not in ("name", *CONTAINER_FIELDS)]
            elif key != "activeDeadlineSeconds":
                names.append(key)
    return names


def _merge_container(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    for key in CONTAINER_FIELDS:
        if key not in patch:
            continue
        value = patch[key]
        if key == "env":
            by_name = {e.get("name"): e for e in base.get("env") or [] if isinstance(e, dict)}
            for e in value or []:
                if isinstance(e, dict):
                    by_name[e.get("name")] = e
            base["env"] = list(by_name.values())
        elif key in ("resources", "securityContext") and isinstance(value, dict):
            merged = dict(base.get(key) or {})
            for k, v in value.items():
                merged[k] = {**(merged.get(k) or {}), **v} if isinstance(v, dict) and isinstance(merged.get(k), dict) \
                    else v
            base[key] = merged
        else:
            base[key] = value
    return base
