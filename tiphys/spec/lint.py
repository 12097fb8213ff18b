"""Static checks of Argo manifests, in the spirit of `argo lint`, reporting every problem.

    lint_manifests(manifests, registry=None) -> list[LintIssue]
    lint_paths(paths, registry=None)         -> list[LintIssue]   files and directories

`registry(kind, name) -> dict | None` finds a WorkflowTemplate / ClusterWorkflowTemplate
that is not among the manifests (a whole manifest or just its spec). Manifests of other
kinds (ConfigMap, Sensor...) are ignored. Everything here is linear in the size of the
input (a 100,000-task DAG lints in seconds).
"""
from __future__ import annotations

import os
import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from tiphys.errors import NotFoundError, SpecError
from tiphys.spec.cron import cron_error
from tiphys.spec.load import ARGO_API_VERSION, ARGO_KINDS, Manifest, load_text_all, read_text

Registry = Callable[[str, str], "Mapping[str, Any] | None"]

TYPE_FIELDS = ("container", "script", "dag", "steps", "suspend", "resource", "http", "data",
               "containerSet", "plugin")
LOOP_FIELDS = ("withItems", "withParam", "withSequence")
RETRY_POLICIES = frozenset({"Always", "OnFailure", "OnError", "OnTransientError"})
POD_GC_STRATEGIES = frozenset({"", "OnPodCompletion", "OnPodSuccess", "OnWorkflowCompletion",
                               "OnWorkflowSuccess"})
CONCURRENCY_POLICIES = frozenset({"", "Allow", "Forbid", "Replace"})
RESOURCE_ACTIONS = frozenset({"get", "create", "apply", "delete", "replace", "patch"})
ARTIFACT_LOCATIONS = ("s3", "gcs", "azure", "oss", "hdfs", "artifactory", "git", "http", "raw",
                      "plugin", "from", "fromExpression")
DEPENDS_RESULTS = frozenset({"Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned",
                             "AnySucceeded", "AllFailed"})
NODE_ATTRS = frozenset({"id", "ip", "status", "exitCode", "startedAt", "finishedAt", "hostNodeName",
                        "outputs.result", "outputs.exitCode", "outputs.parameters", "outputs.artifacts"})
WF_VARS = frozenset({"name", "namespace", "uid", "status", "failures", "duration", "mainEntrypoint",
                     "serviceAccountName", "priority", "scheduledTime", "creationTimestamp",
                     "parameters", "parameters.json", "labels", "labels.json", "annotations",
                     "annotations.json", "outputs"})
WF_PREFIXES = ("creationTimestamp.", "labels.", "annotations.", "outputs.", "scheduledTime.",
               "duration.")

_TAG = re.compile(r"\{\{(.*?)\}\}", re.S)
_FIELD_NAME = re.compile(r"^[a-zA-Z0-9][-a-zA-Z0-9]*$")
_PARAM_NAME = re.compile(r"^[-a-zA-Z0-9_]+$")
_DURATION = re.compile(r"^[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d))+$")
_INT = re.compile(r"^\s*[-+]?\d+\s*$")
_DEPENDS_TOKEN = re.compile(r"&&|\|\||[!()]|[^\s&|!()]+")
_ANCESTOR_SEARCH_LIMIT = 20000


# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LintIssue:
    file: str
    index: int          # 0-based document position in the file (-1: the file itself)
    kind: str
    name: str
    path: str           # field path such as templates.main.tasks.build (may be "")
    message: str

    def __str__(self) -> str:
        head = self.file
        if self.index >= 0:
            head += f": document {self.index + 1}"
        if self.kind:
            head += f" ({self.kind} {self.name or '?'})"
        return f"{head}: {self.path}: {self.message}" if self.path else f"{head}: {self.message}"


# --------------------------------------------------------------------------------------------
# small helpers

def _templated(v: Any) -> bool:
    return isinstance(v, str) and "{{" in v


def _s(v: Any) -> str:
    """A scalar as Argo would see it as a string."""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _is_int_like(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return True
    return isinstance(v, str) and bool(_INT.match(v))


def _duration_problem(v: Any, *, allow_int: bool = True) -> str | None:
    if _templated(v):
        return None
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        return f"invalid duration {_q(v)}"
    if isinstance(v, int) or v.strip().isdigit():
        return None if allow_int else f"invalid duration {_q(v)}: a bare number is not allowed, add a unit (e.g. {v}s)"
    if _DURATION.match(v.strip()):
        return None
    return f"invalid duration {_q(v)} (expected e.g. 30s, 1m30s, 2h, 1d)"


def _list_of_dicts(v: Any) -> list[dict]:
    return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []


def _names(items: Any) -> set[str]:
    return {x["name"] for x in _list_of_dicts(items) if isinstance(x.get("name"), str)}


def _dict(v: Any) -> dict:
    return v if isinstance(v, dict) else {}


def _has_location(art: dict) -> bool:
    return any(art.get(k) not in (None, "") for k in ARTIFACT_LOCATIONS)


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


# --------------------------------------------------------------------------------------------
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


class _Catalog:
    """WorkflowTemplates / ClusterWorkflowTemplates: from the manifests, then the registry."""

    def __init__(self, manifests: Iterable[Manifest], registry: Registry | None):
        self.registry = registry
        self.specs: dict[tuple[str, str], dict | None] = {}
        for m in manifests:
            if m.kind in ("WorkflowTemplate", "ClusterWorkflowTemplate") and m.name:
                self.specs.setdefault((m.kind, m.name), m.spec)
        self._templates: dict[tuple[str, str], dict[str, dict]] = {}

    def spec(self, kind: str, name: str) -> dict | None:
        key = (kind, name)
        if key not in self.specs:
            found: Any = None
            if self.registry is not None:
                try:
                    found = self.registry(kind, name)
                except (NotFoundError, KeyError, LookupError):
                    found = None
            if isinstance(found, Mapping):
                found = found.get("spec") if isinstance(found.get("spec"), Mapping) else found
                found = dict(found)
            else:
                found = None
            self.specs[key] = found
        return self.specs[key]

    def templates(self, kind: str, name: str) -> dict[str, dict] | None:
        spec = self.spec(kind, name)
        if spec is None:
            return None
        key = (kind, name)
        if key not in self._templates:
            by_name: dict[str, dict] = {}
            for t in _list_of_dicts(spec.get("templates")):
                if isinstance(t.get("name"), str):
                    by_name.setdefault(t["name"], t)
            self._templates[key] = by_name
        return self._templates[key]


# --------------------------------------------------------------------------------------------
class _Linter:
    def __init__(self, m: Manifest, catalog: _Catalog, issues: list[LintIssue]):
        self.m, self.catalog, self.out = m, catalog, issues
        self.templates: dict[str, dict] = {}
        self.template_mode = m.kind in ("WorkflowTemplate", "ClusterWorkflowTemplate")
        self.wf_params: set[str] | None = set()    # None: do not check workflow.parameters.X
        self.template_defaults: dict = {}
        self._items_based: list[tuple[str, str]] = []

    # -- reporting ---------------------------------------------------------------------------
    def issue(self, path: Any, message: str) -> None:
        self.out.append(LintIssue(self.m.file, self.m.index, self.m.kind, self.m.name,
                                  _fmt_path(path), message))

    # -- entry -------------------------------------------------------------------------------
    def run(self) -> None:
        m = self.m
        if m.api_version != ARGO_API_VERSION:
            self.issue("apiVersion", f"apiVersion must be {_q(ARGO_API_VERSION)}, not {_q(m.api_version)}")
        meta = _dict(m.raw.get("metadata"))
        if not m.name:
            self.issue("metadata", "metadata.name or metadata.generateName is required")
        name = meta.get("name")
        limit = 52 if m.kind == "CronWorkflow" else 63
        if isinstance(name, str) and len(name) > limit:
            self.issue("metadata.name", f"name {_q(name)} must not be more than {limit} characters long "
                                        f"(currently {len(name)})")
        spec = m.raw.get("spec")
        if not isinstance(spec, dict):
            self.issue("spec", "spec is required and must be a mapping")
            return
        if m.kind == "CronWorkflow":
            self.lint_cron(spec)
            wf_spec = spec.get("workflowSpec")
            if not isinstance(wf_spec, dict):
                self.issue("spec.workflowSpec", "workflowSpec is required and must be a mapping")
                return
            self.lint_wfspec(wf_spec, "spec.workflowSpec")
        else:
            self.lint_wfspec(spec, "spec")

    # -- CronWorkflow ------------------------------------------------------------------------
    def lint_cron(self, spec: dict) -> None:
        schedules = spec.get("schedules")
        legacy = spec.get("schedule")
        found: list[tuple[str, Any]] = []
        if schedules is not None:
            if not isinstance(schedules, list):
                self.issue("spec.schedules", "schedules must be a list of cron expressions")
            else:
                found += [(f"spec.schedules[{i}]", s) for i, s in enumerate(schedules)]
        if legacy not in (None, ""):
            found.append(("spec.schedule", legacy))
        if not found:
            self.issue("spec.schedules", "cron workflow must have at least one schedule")
        for path, s in found:
            problem = cron_error(s)
            if problem:
                self.issue(path, f"cron schedule {_q(s)} is malformed: {problem}")
        tz = spec.get("timezone")
        if tz not in (None, "") and not _timezone_ok(tz):
            self.issue("spec.timezone", f"invalid timezone {_q(tz)}")
        cp = spec.get("concurrencyPolicy")
        if cp is not None and cp not in CONCURRENCY_POLICIES:
            self.issue("spec.concurrencyPolicy", f"{_q(cp)} is not a valid concurrencyPolicy "
                                                 "(Allow, Forbid or Replace)")
        sds = spec.get("startingDeadlineSeconds")
        if sds is not None and (not _is_int_like(sds) or int(sds) < 0):
            self.issue("spec.startingDeadlineSeconds", "startingDeadlineSeconds must be a positive integer")

    # -- WorkflowSpec ------------------------------------------------------------------------
    def lint_wfspec(self, spec: dict, sp: str) -> None:
        templates = spec.get("templates")
        if templates is not None and not isinstance(templates, list):
            self.issue(f"{sp}.templates", "templates must be a list")
            templates = []
        templates = templates or []
        own: dict[str, dict] = {}
        for i, t in enumerate(templates):
            if not isinstance(t, dict):
                self.issue(f"{sp}.templates[{i}]", "a template must be a mapping")
                continue
            name = t.get("name")
            if not isinstance(name, str) or not name:
                self.issue(f"{sp}.templates[{i}].name", "template name is required")
                continue
            if name in own:
                self.issue(f"templates.{name}", f"template name {_q(name)} is not unique")
                continue
            own[name] = t
        self.template_defaults = _dict(spec.get("templateDefaults"))

        # workflowTemplateRef
        ref = spec.get("workflowTemplateRef")
        ref_spec: dict | None = None
        if ref is not None:
            if not isinstance(ref, dict) or not isinstance(ref.get("name"), str) or not ref.get("name"):
                self.issue(f"{sp}.workflowTemplateRef", "workflowTemplateRef.name is required")
            else:
                kind = "ClusterWorkflowTemplate" if ref.get("clusterScope") else "WorkflowTemplate"
                ref_spec = self.catalog.spec(kind, ref["name"])
                if ref_spec is None:
                    self.issue(f"{sp}.workflowTemplateRef", f"{kind} {_q(ref['name'])} not found")
                if templates:
                    self.issue(f"{sp}.templates", "templates must not be set when workflowTemplateRef "
                                                  "is used (the referenced template supplies them)")
        self.templates = dict(own)
        if ref_spec is not None:
            for t in _list_of_dicts(ref_spec.get("templates")):
                if isinstance(t.get("name"), str):
                    self.templates.setdefault(t["name"], t)

        # arguments
        args = _dict(spec.get("arguments"))
        self.check_arguments(args, f"{sp}.arguments", allow_empty=True)
        merged_params = _list_of_dicts(args.get("parameters"))
        merged_arts = _list_of_dicts(args.get("artifacts"))
        if ref_spec is not None:
            ref_args = _dict(ref_spec.get("arguments"))
            given = _names(merged_params)
            merged_params = merged_params + [p for p in _list_of_dicts(ref_args.get("parameters"))
                                             if p.get("name") not in given]
            given_a = _names(merged_arts)
            merged_arts = merged_arts + [a for a in _list_of_dicts(ref_args.get("artifacts"))
                                         if a.get("name") not in given_a]
            # a value supplied here must still satisfy the template's enum
            enums = {p.get("name"): p.get("enum") for p in _list_of_dicts(ref_args.get("parameters"))
                     if isinstance(p.get("enum"), list)}
            for i, p in enumerate(_list_of_dicts(args.get("parameters"))):
                enum = enums.get(p.get("name"))
                v = p.get("value")
                if enum and v is not None and not _templated(v) and _s(v) not in {_s(e) for e in enum}:
                    self.issue(f"{sp}.arguments.parameters[{i}]",
                               f"value {_q(_s(v))} of parameter {_q(p.get('name'))} is not in its enum "
                               f"[{', '.join(_s(e) for e in enum)}]")
        self.wf_params = None if self.template_mode else _names(merged_params)
        wf_args = {"parameters": merged_params, "artifacts": merged_arts}
        gscope = _Scope("", set(), set(), set(), set())
        self.walk(args, gscope, [sp, "arguments"], global_only=True)

        # entrypoint / onExit
        entry = spec.get("entrypoint")
        if entry in (None, "") and ref_spec is not None:
            entry = ref_spec.get("entrypoint")
        if entry in (None, ""):
            if not self.template_mode and not (ref is not None and ref_spec is None):
                self.issue(f"{sp}.entrypoint", "spec.entrypoint is required")
        elif not isinstance(entry, str):
            self.issue(f"{sp}.entrypoint", "entrypoint must be a string")
        elif not _templated(entry):
            t = self.templates.get(entry)
            if t is None:
                self.issue(f"{sp}.entrypoint", f"entrypoint template {_q(entry)} not found")
            elif not self.template_mode:
                self.check_call(t, entry, wf_args, f"{sp}.entrypoint", workflow_args=True)
        on_exit = spec.get("onExit")
        if on_exit not in (None, ""):
            if not isinstance(on_exit, str):
                self.issue(f"{sp}.onExit", "onExit must be a template name")
            elif not _templated(on_exit):
                t = self.templates.get(on_exit)
                if t is None:
                    self.issue(f"{sp}.onExit", f"onExit template {_q(on_exit)} not found")
                elif not self.template_mode:
                    self.check_call(t, on_exit, wf_args, f"{sp}.onExit", workflow_args=True)
        hooks = spec.get("hooks")
        if hooks is not None:
            self.check_hooks(hooks, f"{sp}.hooks", None, [sp, "hooks"], gscope)

        # misc fields
        ads = spec.get("activeDeadlineSeconds")
        if ads is not None and not (_is_int_like(ads) or _templated(ads)):
            self.issue(f"{sp}.activeDeadlineSeconds", f"activeDeadlineSeconds must be an integer, not {_q(ads)}")
        pod_gc = spec.get("podGC")
        if isinstance(pod_gc, dict):
            st = pod_gc.get("strategy") or ""
            if st not in POD_GC_STRATEGIES:
                self.issue(f"{sp}.podGC.strategy", f"unknown podGC strategy {_q(st)}")
        if spec.get("retryStrategy") is not None:
            self.check_retry(spec["retryStrategy"], f"{sp}.retryStrategy")
        par = spec.get("parallelism")
        if par is not None and not (_is_int_like(par) or _templated(par)):
            self.issue(f"{sp}.parallelism", f"parallelism must be an integer, not {_q(par)}")

        for name, t in own.items():
            self.lint_template(t, ["templates", name], name)

    # -- arguments / calls -------------------------------------------------------------------
    def check_arguments(self, args: Any, path: str, *, allow_empty: bool) -> None:
        if not isinstance(args, dict):
            self.issue(path, "arguments must be a mapping")
            return
        params = args.get("parameters")
        if params is not None and not isinstance(params, list):
            self.issue(f"{path}.parameters", "parameters must be a list")
            params = []
        seen: set[str] = set()
        for i, p in enumerate(params or []):
            pp = f"{path}.parameters[{i}]"
            if not isinstance(p, dict):
                self.issue(pp, "a parameter must be a mapping")
                continue
            name = p.get("name")
            if not isinstance(name, str) or not name:
                self.issue(pp, "parameter name is required")
                continue
            if not _PARAM_NAME.match(name):
                self.issue(pp, f"parameter name {_q(name)} is invalid: use letters, digits, '_' or '-'")
            if name in seen:
                self.issue(pp, f"parameter name {_q(name)} is not unique")
            seen.add(name)
            value, vf = p.get("value"), p.get("valueFrom")
            if value is None and vf is None and not allow_empty:
                self.issue(pp, f"parameter {_q(name)}: value or valueFrom is required")
            if isinstance(vf, dict) and not any(k in vf for k in ("configMapKeyRef", "event", "supplied")):
                self.issue(f"{pp}.valueFrom", f"parameter {_q(name)}: valueFrom in arguments only allows "
                                              "default, configMapKeyRef and supplied")
            enum = p.get("enum")
            if enum is not None:
                if not isinstance(enum, list) or not enum:
                    self.issue(f"{pp}.enum", f"parameter {_q(name)}: enum must be a non-empty list")
                elif value is not None and not _templated(value) and _s(value) not in {_s(e) for e in enum}:
                    self.issue(pp, f"value {_q(_s(value))} of parameter {_q(name)} is not in its enum "
                                   f"[{', '.join(_s(e) for e in enum)}]")
        arts = args.get("artifacts")
        if arts is not None and not isinstance(arts, list):
            self.issue(f"{path}.artifacts", "artifacts must be a list")
            arts = []
        seen = set()
        for i, a in enumerate(arts or []):
            ap = f"{path}.artifacts[{i}]"
            if not isinstance(a, dict):
                self.issue(ap, "an artifact must be a mapping")
                continue
            name = a.get("name")
            if not isinstance(name, str) or not name:
                self.issue(ap, "artifact name is required")
                continue
            if name in seen:
                self.issue(ap, f"artifact name {_q(name)} is not unique")
            seen.add(name)
            if not _has_location(a):
                self.issue(ap, f"artifact {_q(name)}: from, fromExpression, an artifact location or key is required")
            if a.get("from") and a.get("fromExpression"):
                self.issue(ap, f"artifact {_q(name)} must not have both from and fromExpression")

    def check_call(self, t: dict, tname: str, args: Any, path: str, *, workflow_args: bool = False) -> None:
        """The called template's required inputs are supplied and enums respected."""
        args = _dict(args)
        given = {p["name"]: p for p in _list_of_dicts(args.get("parameters")) if isinstance(p.get("name"), str)}
        inputs = _dict(t.get("inputs"))
        where = "spec.arguments" if workflow_args else "arguments"
        for p in _list_of_dicts(inputs.get("parameters")):
            name = p.get("name")
            if not isinstance(name, str):
                continue
            arg = given.get(name)
            if arg is None:
                if p.get("value") is None and p.get("default") is None and p.get("valueFrom") is None:
                    self.issue(path, f"input parameter {_q(name)} of template {_q(tname)} is not supplied "
                                     f"(inputs.parameters.{name} was not supplied; add it to {where}.parameters)")
                continue
            enum = p.get("enum")
            v = arg.get("value")
            if isinstance(enum, list) and enum and v is not None and not _templated(v) \
                    and _s(v) not in {_s(e) for e in enum}:
                self.issue(path, f"value {_q(_s(v))} for input parameter {_q(name)} of template {_q(tname)} "
                                 f"is not in its enum [{', '.join(_s(e) for e in enum)}]")
        given_arts = _names(args.get("artifacts"))
        for a in _list_of_dicts(inputs.get("artifacts")):
            name = a.get("name")
            if not isinstance(name, str) or name in given_arts:
                continue
            if a.get("optional") is True or _has_location(a):
                continue
            self.issue(path, f"input artifact {_q(name)} of template {_q(tname)} is not supplied "
                             f"(inputs.artifacts.{name} was not supplied; add it to {where}.artifacts)")

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

    def check_retry(self, rs: Any, path: str) -> None:
        if not isinstance(rs, dict):
            self.issue(path, "retryStrategy must be a mapping")
            return
        pol = rs.get("retryPolicy")
        if pol not in (None, "") and pol not in RETRY_POLICIES:
            self.issue(f"{path}.retryPolicy", f"{_q(pol)} is not a valid retryPolicy "
                                              "(Always, OnFailure, OnError or OnTransientError)")
        lim = rs.get("limit")
        if lim is not None and not (_is_int_like(lim) or _templated(lim)):
            self.issue(f"{path}.limit", f"limit must be an integer or a {{{{...}}}} variable, not {_q(lim)}")
        backoff = rs.get("backoff")
        if backoff is not None:
            if not isinstance(backoff, dict):
                self.issue(f"{path}.backoff", "backoff must be a mapping")
            else:
                for key in ("duration", "maxDuration", "cap"):
                    if backoff.get(key) is not None:
                        problem = _duration_problem(backoff[key])
                        if problem:
                            self.issue(f"{path}.backoff.{key}", problem)
                f = backoff.get("factor")
                if f is not None and not (_is_int_like(f) or _templated(f)):
                    self.issue(f"{path}.backoff.factor", f"factor must be an integer, not {_q(f)}")

    # -- templates ---------------------------------------------------------------------------
    def lint_template(self, t: dict, tpath: list, tname: str, outer: _Scope | None = None) -> None:
        p = _fmt_path(tpath)
        if outer is None and (not _FIELD_NAME.match(tname) or len(tname) > 128):
            self.issue(p, f"template name {_q(tname)} is invalid: it must consist of alpha-numeric characters "
                          "or '-', start with an alpha-numeric character and be at most 128 long")
        found = [f for f in TYPE_FIELDS if t.get(f) is not None]
        if not found:
            self.issue(p, "template type unspecified: choose one of " + ", ".join(TYPE_FIELDS))
        elif len(found) > 1:
            self.issue(p, f"multiple template types specified ({', '.join(found)}): choose exactly one")
        ttype = found[0] if len(found) == 1 else None
        leaf = ttype not in ("steps", "dag")

        inputs = t.get("inputs")
        if inputs is not None and not isinstance(inputs, dict):
            self.issue(f"{p}.inputs", "inputs must be a mapping")
        inputs = _dict(inputs)
        in_params = self.check_named_list(inputs.get("parameters"), f"{p}.inputs.parameters", _PARAM_NAME)
        in_arts = self.check_named_list(inputs.get("artifacts"), f"{p}.inputs.artifacts", _PARAM_NAME)
        for a in _list_of_dicts(inputs.get("artifacts")):
            ap = f"{p}.inputs.artifacts.{a.get('name')}"
            if not leaf and a.get("path"):
                self.issue(ap, "path is only valid in container/script templates")
            if a.get("from"):
                self.issue(ap, "from is not valid in inputs (pass the artifact in the caller's arguments)")
            if isinstance(a.get("git"), dict) and not a["git"].get("repo"):
                self.issue(f"{ap}.git.repo", "git.repo is required")

        outputs = t.get("outputs")
        if outputs is not None and not isinstance(outputs, dict):
            self.issue(f"{p}.outputs", "outputs must be a mapping")
        outputs = _dict(outputs)
        out_params = self.check_named_list(outputs.get("parameters"), f"{p}.outputs.parameters", _PARAM_NAME)
        out_arts = self.check_named_list(outputs.get("artifacts"), f"{p}.outputs.artifacts", _PARAM_NAME)
        for op in _list_of_dicts(outputs.get("parameters")):
            self.check_output_param(op, ttype, f"{p}.outputs.parameters.{op.get('name')}")
        for a in _list_of_dicts(outputs.get("artifacts")):
            if not leaf and a.get("path"):
                self.issue(f"{p}.outputs.artifacts.{a.get('name')}",
                           "path is only valid in container/script templates")

        # durations and numbers
        timeout = t.get("timeout")
        if timeout not in (None, ""):
            if not leaf:
                self.issue(f"{p}.timeout", f"{ttype} template doesn't support timeout field")
            else:
                problem = _duration_problem(timeout, allow_int=False)
                if problem:
                    self.issue(f"{p}.timeout", problem)
        ads = t.get("activeDeadlineSeconds")
        if ads is not None:
            if not leaf:
                self.issue(f"{p}.activeDeadlineSeconds", "activeDeadlineSeconds is only valid for leaf templates")
            elif not (_templated(ads) or (_is_int_like(ads) and int(ads) >= 0)):
                self.issue(f"{p}.activeDeadlineSeconds",
                           f"activeDeadlineSeconds must be a positive integer or an argo variable, not {_q(ads)}")
        if t.get("parallelism") is not None:
            if leaf and ttype is not None:
                self.issue(f"{p}.parallelism", "parallelism is only valid for steps and dag templates")
            elif not (_is_int_like(t["parallelism"]) or _templated(t["parallelism"])):
                self.issue(f"{p}.parallelism", f"parallelism must be an integer, not {_q(t['parallelism'])}")
        if t.get("retryStrategy") is not None:
            self.check_retry(t["retryStrategy"], f"{p}.retryStrategy")
        suspend = t.get("suspend")
        if ttype == "suspend" and isinstance(suspend, dict) and suspend.get("duration") not in (None, ""):
            problem = _duration_problem(suspend["duration"])
            if problem:
                self.issue(f"{p}.suspend.duration", problem)
        self.check_type_body(t, ttype, p)

        # references
        scope = _Scope(tname, set(in_params), set(in_arts), set(out_params), set(out_arts))
        if outer is not None:   # inline template: the caller's step scope still applies
            scope.in_params |= outer.in_params
            scope.in_arts |= outer.in_arts
            for k in ("kind", "nodes", "current", "all_visible", "hooks", "item", "ancestors"):
                setattr(scope, k, getattr(outer, k))
        if ttype == "steps":
            self.lint_steps(t, tpath, scope)
        elif ttype == "dag":
            self.lint_dag(t, tpath, scope)
        skip = {"steps", "dag"} if ttype in ("steps", "dag") else set()
        if ttype in ("steps", "dag"):
            skip.add("outputs")
        wpath = list(tpath)
        for k, v in t.items():
            if k in skip:
                continue
            wpath.append(k)
            self.walk(v, scope, wpath)
            wpath.pop()

    def check_named_list(self, items: Any, path: str, rx: re.Pattern) -> list[str]:
        if items is None:
            return []
        if not isinstance(items, list):
            self.issue(path, "must be a list")
            return []
        names: list[str] = []
        seen: set[str] = set()
        for i, x in enumerate(items):
            if not isinstance(x, dict):
                self.issue(f"{path}[{i}]", "must be a mapping")
                continue
            n = x.get("name")
            if not isinstance(n, str) or not n:
                self.issue(f"{path}[{i}].name", "name is required")
                continue
            if not rx.match(n):
                self.issue(f"{path}[{i}].name", f"name {_q(n)} is invalid: use letters, digits, '_' or '-'")
            if n in seen:
                self.issue(f"{path}[{i}].name", f"name {_q(n)} is not unique")
            seen.add(n)
            names.append(n)
        return names

    def check_output_param(self, op: dict, ttype: str | None, path: str) -> None:
        value, vf = op.get("value"), op.get("valueFrom")
        if value is not None and vf is not None:
            self.issue(path, "has both valueFrom and value specified, choose one")
            return
        if value is not None:
            return
        if not isinstance(vf, dict):
            self.issue(path, "does not have valueFrom or value specified")
            return
        kinds = [k for k in ("path", "jqFilter", "jsonPath", "parameter", "expression") if vf.get(k)]
        if vf.get("supplied") is not None:
            kinds.append("supplied")
        if not kinds:
            self.issue(f"{path}.valueFrom", "valueFrom type unspecified: choose one of path, jqFilter, "
                                            "jsonPath, parameter, expression, supplied")
            return
        if len(kinds) > 1:
            self.issue(f"{path}.valueFrom", f"multiple valueFrom types specified ({', '.join(kinds)})")
            return
        if ttype in ("container", "script", "containerSet") and "path" not in kinds:
            self.issue(f"{path}.valueFrom", f"path must be specified for {ttype} templates")
        elif ttype == "resource" and not ({"jqFilter", "jsonPath"} & set(kinds)):
            self.issue(f"{path}.valueFrom", "jqFilter or jsonPath must be specified for resource templates")
        elif ttype in ("steps", "dag") and not ({"parameter", "expression"} & set(kinds)):
            self.issue(f"{path}.valueFrom", f"parameter or expression must be specified for {ttype} templates")

    def check_type_body(self, t: dict, ttype: str | None, p: str) -> None:
        defaults = self.template_defaults
        if ttype in ("container", "script"):
            body = t.get(ttype)
            if not isinstance(body, dict):
                self.issue(f"{p}.{ttype}", f"{ttype} must be a mapping")
            elif not body.get("image") and not _dict(defaults.get(ttype)).get("image"):
                self.issue(f"{p}.{ttype}.image", "image may not be empty")
            elif ttype == "script" and body.get("source") is None:
                self.issue(f"{p}.script.source", "source is required")
        elif ttype == "resource":
            r = t.get("resource")
            if not isinstance(r, dict):
                self.issue(f"{p}.resource", "resource must be a mapping")
                return
            action = r.get("action")
            if not _templated(action) and action not in RESOURCE_ACTIONS:
                self.issue(f"{p}.resource.action", "action must be one of: " + ", ".join(sorted(RESOURCE_ACTIONS)))
            if action not in ("get", "delete"):
                if not r.get("manifest") and not r.get("manifestFrom"):
                    self.issue(f"{p}.resource", "either manifest or manifestFrom must be specified")
                elif r.get("manifest") and r.get("manifestFrom"):
                    self.issue(f"{p}.resource", "manifest and manifestFrom must not both be specified")
        elif ttype == "containerSet":
            cs = t.get("containerSet")
            if not isinstance(cs, dict) or not isinstance(cs.get("containers"), list) or not cs["containers"]:
                self.issue(f"{p}.containerSet.containers", "containerSet needs at least one container")
        elif ttype == "http":
            h = t.get("http")
            if not isinstance(h, dict) or not h.get("url"):
                self.issue(f"{p}.http.url", "url is required")

    # -- loops -------------------------------------------------------------------------------
    def check_loops(self, obj: dict, path: str) -> tuple[bool, set[str] | None] | None:
        present = [k for k in LOOP_FIELDS if obj.get(k) is not None]
        if len(present) > 1:
            self.issue(path, "only one of withItems, withParam, withSequence can be specified "
                             f"(found {', '.join(present)})")
        if not present:
            return None
        keys: set[str] | None = set()
        if "withItems" in present:
            items = obj["withItems"]
            if not isinstance(items, list):
                self.issue(f"{path}.withItems", f"withItems must be a list, not {type(items).__name__}")
                keys = None
            else:
                for it in items:
                    if isinstance(it, dict):
                        if keys is not None:
                            keys.update(str(k) for k in it)
                    elif isinstance(it, list):
                        keys = None
        if "withParam" in present:
            wp = obj["withParam"]
            if not isinstance(wp, str):
                self.issue(f"{path}.withParam", "withParam must be a string (a JSON list or a {{...}} "
                                                "reference to one); use withItems for a literal list")
            keys = None
        if "withSequence" in present:
            seq = obj["withSequence"]
            if not isinstance(seq, dict):
                self.issue(f"{path}.withSequence", "withSequence must be a mapping with count or start/end")
            else:
                has_count, has_end = seq.get("count") is not None, seq.get("end") is not None
                if not has_count and not has_end:
                    self.issue(f"{path}.withSequence", "withSequence needs count or end")
                elif has_count and has_end:
                    self.issue(f"{path}.withSequence", "only one of count or end can be defined in withSequence")
                for k in ("count", "start", "end"):
                    v = seq.get(k)
                    if v is not None and not (_is_int_like(v) or _templated(v)):
                        self.issue(f"{path}.withSequence.{k}", f"{k} must be an integer, not {_q(v)}")
        return (True, keys)

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

    # -- references --------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
def _q(v: Any) -> str:
    return f'"{v}"'


def _declared(names: Iterable[str], what: str = "declared") -> str:
    names = sorted(names)
    if not names:
        return f" (none {what})" if what == "declared" else ""
    shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
    return f" ({what}: {shown})"


def _fmt_path(path: Any) -> str:
    if isinstance(path, str):
        return path
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _timezone_ok(tz: Any) -> bool:
    if not isinstance(tz, str):
        return False
    try:
        import zoneinfo
        if not zoneinfo.available_timezones():
            return True   # no tz database here: cannot tell
        zoneinfo.ZoneInfo(tz)
        return True
    except Exception:
        return False


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


# --------------------------------------------------------------------------------------------
def lint_manifests(manifests: Iterable[Manifest], registry: Registry | None = None) -> list[LintIssue]:
    """Every problem found in the Argo manifests; other kinds are ignored."""
    manifests = list(manifests)
    catalog = _Catalog(manifests, registry)
    issues: list[LintIssue] = []
    for m in manifests:
        if m.kind not in ARGO_KINDS:
            continue
        _Linter(m, catalog, issues).run()
    return issues


def _issue_from_error(e: SpecError) -> LintIssue:
    idx = e.document - 1 if isinstance(e.document, int) else -1
    return LintIssue(e.file or "<stdin>", idx, "", "", e.path or "", e.message)


def _expand_paths(paths: Iterable[str | os.PathLike]) -> tuple[list[str], list[LintIssue]]:
    files: list[str] = []
    problems: list[LintIssue] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for n in sorted(names):
                    if n.endswith((".yaml", ".yml", ".json")):
                        files.append(os.path.join(root, n))
        elif path.exists():
            files.append(str(path))
        else:
            problems.append(LintIssue(str(p), -1, "", "", "", "no such file or directory"))
    return files, problems


def lint_paths(paths: Iterable[str | os.PathLike], registry: Registry | None = None) -> list[LintIssue]:
    """Lint files and directories (recursing into *.yaml, *.yml, *.json) together, so a
    Workflow may use a WorkflowTemplate from another file of the same call."""
    files, issues = _expand_paths(paths)
    manifests: list[Manifest] = []
    for f in files:
        try:
            text = read_text(f)
        except SpecError as e:
            issues.append(_issue_from_error(e))
            continue
        found, errors = load_text_all(text, f)
        manifests += found
        issues += [_issue_from_error(e) for e in errors]
    issues += lint_manifests(manifests, registry)
    return issues
