"""Checks of `{{...}}` references against what is in scope where they appear.

A `_Scope` says what a tag may name at one place of a template (its inputs and outputs,
the steps/tasks around it, `item` inside a loop); `_Node` is a step or task as references
see it. `ReferenceChecks.walk` visits every string of a subtree and reports each tag that
names something undeclared, not yet available, or unknown.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from tiphys.spec.lintvalues import _declared, _dict, _names, _q

NODE_ATTRS = frozenset({"id", "ip", "status", "exitCode", "startedAt", "finishedAt", "hostNodeName",
                        "outputs.result", "outputs.exitCode", "outputs.parameters", "outputs.artifacts"})
WF_VARS = frozenset({"name", "namespace", "uid", "status", "failures", "duration", "mainEntrypoint",
                     "serviceAccountName", "priority", "scheduledTime", "creationTimestamp",
                     "parameters", "parameters.json", "labels", "labels.json", "annotations",
                     "annotations.json", "outputs"})
WF_PREFIXES = ("creationTimestamp.", "labels.", "annotations.", "outputs.", "scheduledTime.",
               "duration.")

_TAG = re.compile(r"\{\{(.*?)\}\}", re.S)


def _expr_balance_problem(expr: str) -> str | None:
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    quote: str | None = None
    i, n = 0, len(expr)
    while i < n:
        c = expr[i]
        if quote:
            if c == "\\" and quote != "`":
                i += 2
                continue
            if c == quote:
                quote = None
        elif c in "'\"`":
            quote = c
        elif c in "([{":
            stack.append(c)
        elif c in ")]}":
            if not stack or stack[-1] != pairs[c]:
                return f"unbalanced {_q(c)}"
            stack.pop()
        i += 1
    if quote:
        return f"unterminated string (missing {quote})"
    if stack:
        return f"unclosed {_q(stack[-1])}"
    return None


class _Node:
    """A step or task as seen by references: its resolved template and position."""
    __slots__ = ("name", "template", "looped", "group", "deps")

    def __init__(self, name: str, template: dict | None, looped: bool, group: int = 0,
                 deps: tuple[str, ...] = ()):
        self.name, self.template, self.looped, self.group, self.deps = name, template, looped, group, deps


class _Scope:
    """What `{{...}}` tags may name at one place of a template."""
    __slots__ = ("tmpl", "in_params", "in_arts", "out_params", "out_arts", "kind", "nodes",
                 "current", "all_visible", "hooks", "item", "ancestors")

    def __init__(self, tmpl: str, in_params: set[str], in_arts: set[str], out_params: set[str],
                 out_arts: set[str]):
        self.tmpl = tmpl
        self.in_params, self.in_arts = in_params, in_arts
        self.out_params, self.out_arts = out_params, out_arts
        self.kind: str | None = None          # "steps" | "tasks" | None
        self.nodes: dict[str, _Node] = {}
        self.current: _Node | None = None     # the step/task being checked
        self.all_visible = False              # template outputs see every step/task
        self.hooks = False
        self.item: tuple[bool, set[str] | None] | None = None  # (loop?, allowed item keys or None=any)
        self.ancestors: Callable[[str, str], bool] | None = None

    def copy(self) -> "_Scope":
        s = _Scope(self.tmpl, self.in_params, self.in_arts, self.out_params, self.out_arts)
        for k in ("kind", "nodes", "current", "all_visible", "hooks", "item", "ancestors"):
            setattr(s, k, getattr(self, k))
        return s


class ReferenceChecks:
    """Mixin of the linter (see lint._Linter): needs `issue` and `wf_params`."""

    def walk(self, obj: Any, scope: _Scope, path: list, *, global_only: bool = False) -> None:
        if isinstance(obj, str):
            if "{{" in obj:
                for m in _TAG.finditer(obj):
                    problem = self.check_tag(m.group(1), scope, global_only)
                    if problem:
                        self.issue(path, problem)
        elif isinstance(obj, dict):
            for k, v in obj.items():
                if isinstance(v, (str, dict, list)):
                    path.append(k)
                    self.walk(v, scope, path, global_only=global_only)
                    path.pop()
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                if isinstance(v, (str, dict, list)):
                    path.append(i)
                    self.walk(v, scope, path, global_only=global_only)
                    path.pop()

    def check_tag(self, raw: str, scope: _Scope, global_only: bool) -> str | None:
        tag = raw.strip()
        if tag.startswith("="):
            problem = _expr_balance_problem(tag[1:])
            return f"expression {{{{{tag}}}}}: {problem}" if problem else None
        root, _, rest = tag.partition(".")
        bad = f"failed to resolve {{{{{tag}}}}}"
        if root == "workflow":
            return self.check_workflow_var(rest, bad)
        if root in ("cronworkflow", "retries", "lastRetry", "node"):
            return None
        if global_only:
            if root in ("inputs", "steps", "tasks", "item", "pod"):
                return f"{bad}: only workflow.* variables are available here"
            return None
        if root == "inputs":
            if rest == "parameters":
                return None
            if rest.startswith("parameters."):
                name = rest[len("parameters."):]
                if name in scope.in_params:
                    return None
                head = name.split(".", 1)[0]
                hint = (f" ({_q(head)} is declared, but parameters have no fields: use an expression "
                        f"such as {{{{=jsonpath(inputs.parameters['{head}'], '$.{name.split('.', 1)[1]}')}}}})"
                        if head in scope.in_params and "." in name else "")
                return (f"{bad}: input parameter {_q(name)} is not declared in template "
                        f"{_q(scope.tmpl)}{hint}" + _declared(scope.in_params))
            if rest.startswith("artifacts."):
                name = rest[len("artifacts."):]
                if name.endswith(".path"):
                    name = name[:-5]
                if name in scope.in_arts:
                    return None
                return f"{bad}: input artifact {_q(name)} is not declared in template {_q(scope.tmpl)}" + \
                    _declared(scope.in_arts)
            if rest == "artifacts":
                return None
            return f"{bad}: unknown inputs variable"
        if root == "outputs":
            for kind, declared in (("parameters.", scope.out_params), ("artifacts.", scope.out_arts)):
                if rest.startswith(kind) and rest.endswith(".path"):
                    name = rest[len(kind):-5]
                    if name not in declared:
                        return (f"{bad}: output {kind[:-2]} {_q(name)} is not declared in template "
                                f"{_q(scope.tmpl)}" + _declared(declared))
            return None
        if root in ("steps", "tasks"):
            return self.check_node_ref(root, rest, scope, bad)
        if root == "item":
            if scope.item is None:
                return f"{bad}: item is only available in a step or task with withItems, withParam or withSequence"
            keys = scope.item[1]
            if rest and keys is not None:
                key = rest.split(".", 1)[0]
                if key not in keys:
                    return f"{bad}: withItems entries have no key {_q(key)}" + _declared(keys, "keys")
            return None
        if root == "pod":
            return None if rest == "name" else f"{bad}: only pod.name is available"
        return None

    def check_workflow_var(self, rest: str, bad: str) -> str | None:
        if rest in WF_VARS or rest.startswith(WF_PREFIXES):
            return None
        if rest.startswith("parameters."):
            name = rest[len("parameters."):]
            if self.wf_params is None or name in self.wf_params:
                return None
            return f"{bad}: workflow parameter {_q(name)} is not declared in spec.arguments.parameters" + \
                _declared(self.wf_params)
        return f"{bad}: unknown workflow variable"

    def check_node_ref(self, root: str, rest: str, scope: _Scope, bad: str) -> str | None:
        what = "step" if root == "steps" else "task"
        if rest == "name":
            return None
        if scope.kind != root:
            kind = {"steps": "a steps", "tasks": "a dag"}[root]
            return f"{bad}: {root}.* variables are only available inside {kind} template"
        name, _, attr = rest.partition(".")
        node = scope.nodes.get(name)
        if node is None:
            return f"{bad}: no {what} named {_q(name)} in template {_q(scope.tmpl)}"
        cur = scope.current
        if not scope.all_visible and cur is not None and attr != "status":
            if node is cur:
                if not scope.hooks:
                    return f"{bad}: a {what} cannot use its own outputs (only in its hooks)"
            elif root == "steps":
                if node.group == cur.group:
                    return (f"{bad}: step {_q(name)} runs in parallel with {_q(cur.name)} (same step group), "
                            "its outputs are not available yet")
                if node.group > cur.group:
                    return f"{bad}: step {_q(name)} runs after {_q(cur.name)}, its outputs are not available yet"
            elif scope.ancestors is not None and not scope.ancestors(cur.name, name):
                return (f"{bad}: task {_q(name)} is not a dependency of {_q(cur.name)}; "
                        f"add it to depends/dependencies")
        if not attr:
            return f"{bad}: incomplete reference, use e.g. {root}.{name}.outputs.result"
        if attr in NODE_ATTRS:
            return None
        tmpl = node.template
        for kind in ("parameters", "artifacts"):
            prefix = f"outputs.{kind}."
            if attr.startswith(prefix):
                if tmpl is None:
                    return None
                pname = attr[len(prefix):]
                declared = _names(_dict(tmpl.get("outputs")).get(kind))
                if pname in declared:
                    return None
                return (f"{bad}: {what} {_q(name)} has no output {kind[:-1]} {_q(pname)}" + _declared(declared))
        return f"{bad}: unknown {what} attribute {_q(attr)}"
