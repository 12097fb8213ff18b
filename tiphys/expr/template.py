"""Argo's `{{...}}` templating: simple tags, `{{=expr}}` tags and scope expansion.

Argo (util/template) replaces `{{name}}` with `scope[name]` and evaluates `{{=expr}}`
with expr-lang over the scope's dotted keys expanded into nested maps.  Tags whose
variables are not known yet (late variables such as `item`, `retries`,
`workflow.status`) stay verbatim so a later pass can fill them in.

Choices where Argo is silent or non-deterministic:
* a simple tag whose value is None renders as the empty string;
* an expression that evaluates to nil stays verbatim (Argo's allowUnresolved path);
* an `Absent` scope value (an output of a step/task that never ran) fails a simple tag and is
  nil to an expression;
* in `expand`, a leaf value wins over deeper keys (`workflow.creationTimestamp` stays the
  RFC 3339 string although `workflow.creationTimestamp.Y` exists), except a string leaf
  holding a JSON object/array rendering (`inputs.parameters`, `steps.X.outputs.parameters`),
  which yields to its children so `inputs.parameters.foo` keeps working.
"""
from __future__ import annotations

import json
import re
from typing import Any, Collection, Mapping

from tiphys.errors import ExpressionError
from tiphys.expr import gofmt
from tiphys.expr.exprlang import UnknownVariable, evaluate

_TAG = re.compile(r"\{\{(.*?)\}\}", re.S)
_LATE_MEMBERS = ("workflow.status", "workflow.failures")


class Absent:
    """A variable that exists but has no value: an output of a node that never ran (a
    Skipped or Omitted step/task) with no `valueFrom.default`. A simple tag naming it fails
    with `message`; an expression sees nil (so `??` can choose a fallback)."""

    def __init__(self, message: str):
        self.message = message

    def __repr__(self) -> str:
        return f"Absent({self.message!r})"


class AbsentValue(ExpressionError):
    """A simple tag named an Absent variable."""


class _Branch(dict):  # type: ignore[type-arg]
    """A map created by expansion (as opposed to a map value found in the scope)."""


def _yields_to_children(value: Any) -> bool:
    return isinstance(value, str) and value[:1] in ("{", "[")


def _insert(tree: dict[str, Any], parts: list[str], value: Any) -> None:
    node = tree
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, _Branch):
            if part in node and not _yields_to_children(child):
                return
            child = node[part] = _Branch()
        node = child
    node[parts[-1]] = value


def _plain(value: Any) -> Any:
    if isinstance(value, _Branch):
        return {k: _plain(v) for k, v in value.items()}
    return None if isinstance(value, Absent) else value


def expand(scope: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted keys expanded into nested dicts ("a.b": 1 -> {"a": {"b": 1}})."""
    tree: dict[str, Any] = {}
    for key in sorted((k for k in scope if isinstance(k, str)), key=lambda k: k.count(".")):
        _insert(tree, key.split("."), scope[key])
    return {k: _plain(v) for k, v in tree.items()}


def format_value(value: Any) -> str:
    """A scope value as inserted by a simple tag."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return gofmt.marshal(value)


def format_result(value: Any) -> str:
    """An expression result as Argo inserts it: JSON, with a JSON string's quotes removed."""
    if isinstance(value, str):
        return value
    text = gofmt.marshal(value)
    return str(json.loads(text)) if text.startswith('"') else text


def tags(text: str) -> list[tuple[str, str]]:
    """("simple", name) or ("expr", expression) for every tag in `text`, in order."""
    if "{{" not in text:
        return []
    out: list[tuple[str, str]] = []
    for match in _TAG.finditer(text):
        content = match.group(1)
        out.append(("expr", content[1:]) if content.startswith("=") else ("simple", content.strip()))
    return out


class _Renderer:
    def __init__(self, scope: Mapping[str, Any], strict: Collection[str]):
        self.scope, self.strict = scope, tuple(strict)
        self.env: dict[str, Any] | None = None

    def render(self, text: str) -> str:
        if "{{" not in text:
            return text
        return _TAG.sub(self.replace, text)

    def replace(self, match: re.Match[str]) -> str:
        content = match.group(1)
        if content.startswith("="):
            return self.expression(content[1:], match.group(0))
        name = content.strip()
        if name in self.scope:
            value = self.scope[name]
            if isinstance(value, Absent):
                raise AbsentValue(value.message)
            return format_value(value)
        if any(name.startswith(prefix) for prefix in self.strict):
            raise ExpressionError(f"failed to resolve {{{{{name}}}}}")
        return match.group(0)

    def expression(self, source: str, verbatim: str) -> str:
        if any(late in source and late not in self.scope for late in _LATE_MEMBERS):
            return verbatim
        if self.env is None:
            self.env = expand(self.scope)
        try:
            result = evaluate(source, self.env)
        except UnknownVariable:
            return verbatim
        return verbatim if result is None else format_result(result)

    def walk(self, obj: Any) -> Any:
        if isinstance(obj, str):
            return self.render(obj)
        if isinstance(obj, dict):
            return {self.walk(k): self.walk(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.walk(item) for item in obj]
        return obj


def render(text: str, scope: Mapping[str, Any], *, strict: Collection[str] = ()) -> str:
    """Replace the tags of `text` from `scope` (see the module docstring)."""
    return _Renderer(scope, strict).render(text)


def render_obj(obj: Any, scope: Mapping[str, Any], *, strict: Collection[str] = ()) -> Any:
    """`render` applied to every string and dict key of a nested dict/list structure."""
    return _Renderer(scope, strict).walk(obj)
