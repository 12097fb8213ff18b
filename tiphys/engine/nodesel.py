"""Argo's node field selectors (`--node-field-selector`): `key=value,key!=value` over a node.

Keys as Argo's: `id`, `name`, `displayName`, `templateName`, `phase`, `type`,
`templateRef.name`, `templateRef.template`, `inputs.parameters.<name>.value`.
Every term must hold (AND), as in Kubernetes field selectors.
"""
from __future__ import annotations

from typing import Any

from tiphys.errors import SpecError

KEYS = ("id", "name", "displayName", "templateName", "phase", "type", "boundaryID")


def parse(selector: str) -> list[tuple[str, bool, str]]:
    """`(key, equal, value)` terms; raises SpecError naming the bad term."""
    terms = []
    for raw in (selector or "").split(","):
        term = raw.strip()
        if not term:
            continue
        for op, equal in (("!=", False), ("==", True), ("=", True)):
            if op in term:
                key, _, value = term.partition(op)
                break
        else:
            raise SpecError(f"node field selector {selector!r}: term {term!r} has no '=' or '!='")
        key = key.strip()
        if not (key in KEYS or key.startswith(("templateRef.", "inputs.parameters."))):
            raise SpecError(f"node field selector {selector!r}: unknown field {key!r}")
        terms.append((key, equal, value.strip()))
    return terms


def field(node: dict[str, Any], key: str) -> str | None:
    if key in KEYS:
        value = node.get(key)
        return None if value is None else str(value)
    if key.startswith("templateRef."):
        return (node.get("templateRef") or {}).get(key.split(".", 1)[1])
    name = key[len("inputs.parameters."):].rsplit(".", 1)
    if len(name) != 2 or name[1] != "value":
        return None
    for p in (node.get("inputs") or {}).get("parameters") or []:
        if p.get("name") == name[0]:
            return None if p.get("value") is None else str(p.get("value"))
    return None


def matches(terms: list[tuple[str, bool, str]], node: dict[str, Any]) -> bool:
    return all((field(node, key) == value) == equal for key, equal, value in terms)
