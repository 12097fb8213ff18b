"""Checks of steps and dag templates: their steps/tasks, what each calls, hooks, the DAG.

Steps and tasks are named, unique, call an existing template (`resolve_holder`), and get
their loops, arguments and hooks checked; a dag's dependencies exist, form no cycle and
use `depends` correctly (`depends_task_names` parses that expression). Each step/task is
then walked for references with the steps/tasks it may see.
"""
from __future__ import annotations

import re
from collections import deque
from typing import Any, Callable, Iterable

from tiphys.spec.lintrefs import _Node, _Scope
from tiphys.spec.lintvalues import _FIELD_NAME, LOOP_FIELDS, _fmt_path, _q, _templated

DEPENDS_RESULTS = frozenset({"Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned",
                             "AnySucceeded", "AllFailed"})

_DEPENDS_TOKEN = re.compile(r"&&|\|\||[!()]|[^\s&|!()]+")
_ANCESTOR_SEARCH_LIMIT = 20000


def depends_task_names(expression: str) -> tuple[set[str], set[str], str | None]:
    """(task names, names used with .AnySucceeded/.AllFailed, syntax problem) of a `depends`."""
    names: set[str] = set()
    items_based: set[str] = set()
    depth = 0
    expect_operand = True
    for tok in _DEPENDS_TOKEN.findall(expression):
        if tok in ("&&", "||"):
            if expect_operand:
                return names, items_based, f"unexpected {_q(tok)}"
            expect_operand = True
        elif tok == "!":
            if not expect_operand:
                return names, items_based, "unexpected '!'"
        elif tok == "(":
            if not expect_operand:
                return names, items_based, "unexpected '('"
            depth += 1
        elif tok == ")":
            if expect_operand or depth == 0:
                return names, items_based, "unexpected ')'"
            depth -= 1
        else:
            if not expect_operand:
                return names, items_based, f"missing operator before {_q(tok)}"
            base, dot, result = tok.rpartition(".")
            if dot and result in DEPENDS_RESULTS:
                names.add(base)
                if result in ("AnySucceeded", "AllFailed"):
                    items_based.add(base)
            else:
                names.add(tok)
            expect_operand = False
    if depth:
        return names, items_based, "unclosed '('"
    if expect_operand and expression.strip():
        return names, items_based, "expression ends with an operator"
    return names, items_based, None


class FlowChecks:
    """Mixin of the linter (see lint._Linter): needs `issue`, `templates`, `catalog` and the other checks."""

    def resolve_holder(self, holder: dict, path: str, local: dict[str, dict] | None = None
                       ) -> tuple[dict | None, str, bool]:
        """(template, display name, ok) for a step/task/hook. ok=False after reporting."""
        local = self.templates if local is None else local
        kinds = [k for k in ("template", "templateRef", "inline") if holder.get(k) not in (None, "")]
        if not kinds:
            self.issue(path, "one of template, templateRef or inline is required")
            return None, "", False
        if len(kinds) > 1:
            self.issue(path, f"only one of template, templateRef or inline may be given (found {', '.join(kinds)})")
            return None, "", False
        k = kinds[0]
        if k == "template":
            name = holder["template"]
            if not isinstance(name, str):
                self.issue(path, "template must be a template name")
                return None, "", False
            if _templated(name):
                return None, name, True
            t = local.get(name)
            if t is None:
                self.issue(path, f"template {_q(name)} not found")
                return None, name, False
            return t, name, True
        if k == "templateRef":
            ref = holder["templateRef"]
            if not isinstance(ref, dict):
                self.issue(f"{path}.templateRef", "templateRef must be a mapping")
                return None, "", False
            rname, rtmpl = ref.get("name"), ref.get("template")
            if not rname:
                self.issue(f"{path}.templateRef", "templateRef.name is required")
                return None, "", False
            if not rtmpl:
                self.issue(f"{path}.templateRef", "templateRef.template is required")
                return None, "", False
            if _templated(rname) or _templated(rtmpl):
                return None, f"{rname}/{rtmpl}", True
            kind = "ClusterWorkflowTemplate" if ref.get("clusterScope") else "WorkflowTemplate"
            ts = self.catalog.templates(kind, str(rname))
            if ts is None:
                self.issue(f"{path}.templateRef", f"{kind} {_q(rname)} not found "
                                                  f"(template reference {rname}.{rtmpl})")
                return None, "", False
            t = ts.get(str(rtmpl))
            if t is None:
                self.issue(f"{path}.templateRef", f"template {_q(rtmpl)} not found in {kind} {_q(rname)}")
                return None, "", False
            return t, f"{rname}/{rtmpl}", True
        inline = holder["inline"]
        if not isinstance(inline, dict):
            self.issue(f"{path}.inline", "inline must be a template mapping")
            return None, "", False
        return inline, "inline", True

    def check_hooks(self, hooks: Any, path: str, node: _Node | None, wpath: list, scope: _Scope) -> None:
        if not isinstance(hooks, dict):
            self.issue(path, "hooks must be a mapping of hook name to hook")
            return
        hscope = scope.copy()
        hscope.hooks = True
        for hname, hook in hooks.items():
            hp = f"{path}.{hname}"
            if not isinstance(hook, dict):
                self.issue(hp, "a hook must be a mapping")
                continue
            if hname != "exit" and not hook.get("expression"):
                self.issue(hp, "expression required (only the 'exit' hook may omit it)")
            t, tname, ok = self.resolve_holder(hook, hp)
            if hook.get("arguments") is not None:
                self.check_arguments(hook.get("arguments"), f"{hp}.arguments", allow_empty=False)
            if t is not None and tname != "inline":
                self.check_call(t, tname, hook.get("arguments"), hp)
            wpath.append(hname)
            self.walk({k: v for k, v in hook.items() if k != "inline"}, hscope, wpath)
            wpath.pop()

    # -- steps -------------------------------------------------------------------------------
    def lint_steps(self, t: dict, tpath: list, scope: _Scope) -> None:
        p = _fmt_path(tpath)
        groups = t.get("steps")
        if not isinstance(groups, list):
            self.issue(f"{p}.steps", "steps must be a list of lists of steps")
            return
        nodes: dict[str, _Node] = {}
        entries: list[tuple[int, int, dict, _Node, dict | None, str]] = []
        for gi, group in enumerate(groups):
            if not isinstance(group, list):
                self.issue(f"{p}.steps[{gi}]", "steps must be a list of lists: each group is a list of "
                                               f"parallel steps, found a {type(group).__name__}")
                continue
            for si, step in enumerate(group):
                sp = f"{p}.steps[{gi}][{si}]"
                if not isinstance(step, dict):
                    self.issue(sp, "a step must be a mapping")
                    continue
                name = step.get("name")
                if not isinstance(name, str) or not name:
                    self.issue(f"{sp}.name", "step name is required")
                    continue
                sp = f"{p}.steps[{gi}].{name}"
                if not _FIELD_NAME.match(name):
                    self.issue(sp, f"step name {_q(name)} is invalid: it must consist of alpha-numeric "
                                   "characters or '-' and start with an alpha-numeric character")
                if name in nodes:
                    self.issue(sp, f"step name {_q(name)} is not unique")
                    continue
                called, cname, _ = self.resolve_holder(step, sp)
                node = _Node(name, called, any(step.get(k) is not None for k in LOOP_FIELDS), gi)
                nodes[name] = node
                entries.append((gi, si, step, node, called, cname))
        scope = scope.copy()
        scope.kind, scope.nodes = "steps", nodes
        for gi, si, step, node, called, cname in entries:
            sp = f"{p}.steps[{gi}].{node.name}"
            self.lint_node(step, sp, [*tpath, "steps", gi, node.name], node, called, cname, scope)
        oscope = scope.copy()
        oscope.all_visible = True
        if t.get("outputs") is not None:
            self.walk(t["outputs"], oscope, [*tpath, "outputs"])

    def lint_node(self, obj: dict, sp: str, wpath: list, node: _Node, called: dict | None, cname: str,
                  scope: _Scope) -> None:
        item = self.check_loops(obj, sp)
        if obj.get("arguments") is not None:
            self.check_arguments(obj["arguments"], f"{sp}.arguments", allow_empty=False)
        if called is not None:
            self.check_call(called, cname, obj.get("arguments"), sp)
        if obj.get("onExit") not in (None, "") and isinstance(obj["onExit"], str) \
                and not _templated(obj["onExit"]) and obj["onExit"] not in self.templates:
            self.issue(f"{sp}.onExit", f"onExit template {_q(obj['onExit'])} not found")
        nscope = scope.copy()
        nscope.current = node
        nscope.item = item
        for k, v in obj.items():
            if k == "hooks":
                self.check_hooks(v, f"{sp}.hooks", node, [*wpath, "hooks"], nscope)
                continue
            if k == "inline":
                if isinstance(v, dict):
                    self.lint_template(v, [*wpath, "inline"], f"{scope.tmpl}.{node.name}.inline", outer=nscope)
                continue
            if k in ("depends", "dependencies"):
                continue
            wpath.append(k)
            self.walk(v, nscope, wpath)
            wpath.pop()

    # -- dag ---------------------------------------------------------------------------------
    def lint_dag(self, t: dict, tpath: list, scope: _Scope) -> None:
        p = _fmt_path(tpath)
        dag = t.get("dag")
        if not isinstance(dag, dict):
            self.issue(f"{p}.dag", "dag must be a mapping with tasks")
            return
        tasks = dag.get("tasks")
        if not isinstance(tasks, list) or not tasks:
            self.issue(f"{p}.dag.tasks", "a dag must have at least one task")
            return
        nodes: dict[str, _Node] = {}
        entries: list[tuple[dict, _Node, dict | None, str, str]] = []
        uses_depends = any(isinstance(x, dict) and x.get("depends") not in (None, "") for x in tasks)
        uses_dependencies = any(isinstance(x, dict) and x.get("dependencies") for x in tasks)
        mixed: list[str] = []
        for i, task in enumerate(tasks):
            if not isinstance(task, dict):
                self.issue(f"{p}.dag.tasks[{i}]", "a task must be a mapping")
                continue
            name = task.get("name")
            if not isinstance(name, str) or not name:
                self.issue(f"{p}.dag.tasks[{i}].name", "task name is required")
                continue
            tp = f"{p}.tasks.{name}"
            if not _FIELD_NAME.match(name):
                self.issue(tp, f"task name {_q(name)} is invalid: it must consist of alpha-numeric "
                               "characters or '-' and start with an alpha-numeric character")
            elif (uses_depends or uses_dependencies) and name[0].isdigit():
                self.issue(tp, "task name cannot begin with a digit when using either 'depends' or 'dependencies'")
            if name in nodes:
                self.issue(tp, f"task name {_q(name)} is not unique")
                continue
            deps: list[str] = []
            dependencies, depends = task.get("dependencies"), task.get("depends")
            if dependencies is not None:
                if not isinstance(dependencies, list) or not all(isinstance(d, str) for d in dependencies):
                    self.issue(f"{tp}.dependencies", "dependencies must be a list of task names")
                else:
                    deps += dependencies
            items_based: set[str] = set()
            if depends not in (None, ""):
                if not isinstance(depends, str):
                    self.issue(f"{tp}.depends", "depends must be a string expression")
                else:
                    names, items_based, problem = depends_task_names(depends)
                    if problem:
                        self.issue(f"{tp}.depends", f"invalid depends expression {_q(depends)}: {problem}")
                    deps += sorted(names)
                    if task.get("dependencies"):
                        self.issue(tp, "cannot use both 'depends' and 'dependencies' in the same task")
                    if task.get("continueOn") is not None:
                        self.issue(tp, "cannot use 'continueOn' when using 'depends': use "
                                       "'dep-task.Failed'/'dep-task.Errored' instead")
            elif uses_depends and task.get("dependencies"):
                mixed.append(name)
            called, cname, _ = self.resolve_holder(task, tp)
            node = _Node(name, called, any(task.get(k) is not None for k in LOOP_FIELDS), 0,
                         tuple(dict.fromkeys(deps)))
            nodes[name] = node
            entries.append((task, node, called, cname, tp))
            node.group = len(entries)  # position, for messages only
            for d in items_based:
                self._items_based.append((tp, d))
        if mixed:
            self.issue(f"{p}.dag.tasks", "cannot use both 'depends' and 'dependencies' in the same DAG "
                                         f"template (tasks using dependencies: {', '.join(mixed[:10])}"
                                         f"{', ...' if len(mixed) > 10 else ''})")
        # dependencies exist
        for task, node, _, _, tp in entries:
            for d in node.deps:
                if d not in nodes:
                    self.issue(tp, f"dependency {_q(d)} not defined (no task named {_q(d)} in this dag)")
        for tp, d in self._items_based:
            dn = nodes.get(d)
            if dn is not None and not dn.looped:
                self.issue(tp, f"dependency {_q(d)} uses an items-based condition (.AnySucceeded/.AllFailed) "
                               "but that task has no withItems/withParam/withSequence")
        self._items_based.clear()
        cycle = _find_cycle(nodes)
        if cycle:
            self.issue(f"{p}.tasks", "dependency cycle detected: " + " -> ".join(cycle))
        target = dag.get("target")
        if isinstance(target, str) and target.strip():
            for name in target.split():
                if not _templated(name) and name not in nodes:
                    self.issue(f"{p}.dag.target", f"target {_q(name)} is not a task of this dag")
        elif target is not None and not isinstance(target, str):
            self.issue(f"{p}.dag.target", "target must be a string of space-separated task names")

        scope = scope.copy()
        scope.kind, scope.nodes = "tasks", nodes
        scope.ancestors = _ancestor_checker(nodes, acyclic=cycle is None)
        for task, node, called, cname, tp in entries:
            self.lint_node(task, tp, [*tpath, "tasks", node.name], node, called, cname, scope)
        wp = [*tpath, "dag"]
        for k, v in dag.items():
            if k in ("tasks", "target"):
                continue
            wp.append(k)
            self.walk(v, scope, wp)
            wp.pop()
        oscope = scope.copy()
        oscope.all_visible = True
        if t.get("outputs") is not None:
            self.walk(t["outputs"], oscope, [*tpath, "outputs"])


def _find_cycle(nodes: dict[str, _Node]) -> list[str] | None:
    """One dependency cycle as [a, b, ..., a], or None. Iterative, linear."""
    state: dict[str, int] = {}   # 1 = on stack, 2 = done
    for start in nodes:
        if start in state:
            continue
        stack: list[tuple[str, Iterable[str]]] = [(start, iter(nodes[start].deps))]
        state[start] = 1
        order = [start]
        while stack:
            name, it = stack[-1]
            advanced = False
            for d in it:
                if d not in nodes:
                    continue
                st = state.get(d)
                if st == 1:
                    return order[order.index(d):] + [d]
                if st is None:
                    state[d] = 1
                    order.append(d)
                    stack.append((d, iter(nodes[d].deps)))
                    advanced = True
                    break
            if not advanced:
                stack.pop()
                order.pop()
                state[name] = 2
    return None


def _ancestor_checker(nodes: dict[str, _Node], *, acyclic: bool) -> Callable[[str, str], bool]:
    def is_ancestor(task: str, other: str) -> bool:
        deps = nodes[task].deps
        if other in deps:
            return True
        seen = {task}
        queue = deque(d for d in deps if d in nodes)
        while queue:
            d = queue.popleft()
            if d == other:
                return True
            if d in seen:
                continue
            seen.add(d)
            if len(seen) > _ANCESTOR_SEARCH_LIMIT:
                return True   # too large to be sure: do not report
            queue.extend(x for x in nodes[d].deps if x in nodes and x not in seen)
        return False
    return is_ancestor
