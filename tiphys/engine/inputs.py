"""Binding a call's arguments to a template's declared inputs (parameters and artifacts)."""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from tiphys.engine import artifacts, configmaps, repositories
from tiphys.errors import SpecError
from tiphys.expr import template as tpl

_TAG = re.compile(r"^\s*\{\{\s*([^{}=][^{}]*?)\s*\}\}\s*$")

Lookup = Callable[[str], Any]
_SOURCES = ("s3", "gcs", "http", "git", "artifactory", "hdfs", "oss", "azure")
KEYED = "keyed"     # an input artifact found by its key-only location, which may use the template's inputs
ABSENT = "absent"   # an argument parameter that named an absent output: its message (skipped.py)


def bind(tmpl: dict[str, Any], arguments: dict[str, Any], lookup_artifact: Lookup,
         render: Callable[[Any], Any], configmap: configmaps.Find | None = None) -> dict[str, Any]:
    """Return {"parameters": {name: value}, "artifacts": {name: artifact dict | None}}.

    `arguments` are already rendered in the caller's scope; the template's own input
    `value`s are rendered with `render` (they may use workflow variables)."""
    given = {p["name"]: p for p in arguments.get("parameters") or [] if isinstance(p, dict) and "name" in p}
    where = f"templates.{tmpl.get('name')}.inputs"
    for name, arg in list(given.items()):   # an argument read from a ConfigMap resolves (or errs) first
        if configmaps.reads_configmap(arg):
            given[name] = {**arg, "value": configmaps.value_of(arg, "arguments.parameters", find=configmap)}
    params: dict[str, str] = {}
    for decl in (tmpl.get("inputs") or {}).get("parameters") or []:
        name = decl["name"]
        arg = given.get(name)
        if arg is not None and "value" in arg:
            value = arg["value"]
        elif arg is not None and "default" in arg:
            value = arg["default"]
        elif "value" in decl:
            value = render(decl["value"])
        elif configmaps.reads_configmap(decl):
            value = configmaps.value_of(decl, where, render, configmap)
        elif "default" in decl:
            value = render(decl["default"])
        elif arg is not None and ABSENT in arg:
            raise SpecError(f"inputs.parameters.{name}: {arg[ABSENT]}")
        else:
            raise SpecError(f"inputs.parameters.{name} was not supplied", path=where)
        params[name] = tpl.format_value(value)
    # Argo's second pass: a default that names another input (`{{=inputs.parameters.a == ...}}`)
    # is resolved from the first pass's values
    first = {f"inputs.parameters.{k}": v for k, v in params.items()}
    for decl in (tmpl.get("inputs") or {}).get("parameters") or []:
        name = decl["name"]
        value = params[name] = tpl.render(params[name], first) if "{{" in params[name] else params[name]
        enum = decl.get("enum")
        if enum and value not in [tpl.format_value(e) for e in enum]:
            raise SpecError(f"inputs.parameters.{name}: value {value!r} is not in the enum {enum}",
                            path=f"templates.{tmpl.get('name')}.inputs")
    given_arts = {a["name"]: a for a in arguments.get("artifacts") or [] if isinstance(a, dict) and "name" in a}
    arts: dict[str, Any] = {}
    local = {f"inputs.parameters.{k}": v for k, v in params.items()}
    for decl in (tmpl.get("inputs") or {}).get("artifacts") or []:
        name = decl["name"]
        given_art = given_arts.get(name, {})
        if ABSENT in given_art:   # it named an absent output: the input's own source or optional stands in
            if not decl.get("optional") and not any(k in decl for k in ("from", "raw", *_SOURCES)):
                raise SpecError(f"inputs.artifacts.{name}: {given_art[ABSENT]}")
            given_art = {}
        if isinstance(decl.get("raw"), dict) and not given_art:
            # as Argo, a declared raw artifact's data sees the template's inputs and the globals
            decl = {**decl, "raw": render(tpl.render_obj(decl["raw"], local))}
        merged = {**decl, **given_art}
        arts[name] = resolve_artifact(merged, lookup_artifact, tmpl.get("name", ""))
    return {"parameters": params, "artifacts": arts}


def resolve_artifact(art: dict[str, Any], lookup: Lookup, where: str) -> dict[str, Any] | None:
    """An input artifact's source: a stored artifact (`from`), raw data, or None when optional."""
    if "from" in art:
        ref = art["from"]
        m = _TAG.match(ref) if isinstance(ref, str) else None
        found = lookup(m.group(1)) if m else _stored(ref)
        if not isinstance(found, dict):
            if art.get("optional"):
                return None
            raise SpecError(f"unable to resolve artifact {art['name']!r} from {ref!r}", path=f"templates.{where}.inputs.artifacts")
        location = {k: v for k, v in found.items() if k not in ("name", "path", "subPath", "mode")}
        return {**location, "subPath": art.get("subPath"), "mode": art.get("mode")}
    if "raw" in art:
        return {"raw": str((art["raw"] or {}).get("data", "")), "mode": art.get("mode")}
    found = artifacts.location(art)
    if found is not None:   # http, git, or an S3 location of its own: the runtime fetches it
        return found
    key, problem = repositories.location(art)
    if key is not None:   # key-only: that object of the (local) default repository
        archive = {"archive": art["archive"]} if "none" in (art.get("archive") or {}) else {}
        return {"local": {"key": key}, **archive, "subPath": art.get("subPath"), "mode": art.get("mode"), KEYED: True}
    if art.get("optional"):
        return None
    if problem:
        raise SpecError(problem, path=f"templates.{where}.inputs.artifacts")
    for kind in _SOURCES:
        if kind in art:
            raise SpecError(f"input artifact {art['name']!r}: {kind} artifacts are not supported by Tiphys yet",
                            path=f"templates.{where}.inputs.artifacts")
    raise SpecError(f"inputs.artifacts.{art['name']} was not supplied", path=f"templates.{where}.inputs.artifacts")


def _stored(ref: Any) -> dict[str, Any] | None:
    """A `from` whose tag was already substituted holds the artifact as JSON."""
    if isinstance(ref, dict):
        return ref
    if isinstance(ref, str) and ref.lstrip().startswith("{"):
        try:
            found = json.loads(ref)
        except ValueError:
            return None
        return found if isinstance(found, dict) else None
    return None
