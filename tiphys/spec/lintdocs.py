"""Document-level checks: the manifest itself, CronWorkflow fields and the WorkflowSpec.

Starts a manifest's lint (`DocumentChecks.run`): apiVersion and metadata, the cron
schedule, then the WorkflowSpec (templates list, workflowTemplateRef resolved through a
`_Catalog`, arguments, entrypoint/onExit calls, hooks, spec-wide fields) before handing
each template to the template checks. Argument lists and template calls are checked here
too, as the steps, tasks and hooks reuse them.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

from tiphys.errors import NotFoundError
from tiphys.spec.cron import cron_error
from tiphys.spec.load import ARGO_API_VERSION, Manifest
from tiphys.spec.lintrefs import _Scope
from tiphys.spec.lintshapes import METADATA, WORKFLOW_SPEC, WORKFLOW_SPEC_FIELDS, check_shape
from tiphys.spec.lintvalues import (
    _PARAM_NAME, _dict, _duration_problem, _has_location, _is_int_like, _list_of_dicts, _names, _q, _s, _templated,
    parameter_value_problems,
)

Registry = Callable[[str, str], "Mapping[str, Any] | None"]

POD_GC_STRATEGIES = frozenset({"", "OnPodCompletion", "OnPodSuccess", "OnWorkflowCompletion",
                               "OnWorkflowSuccess"})
LABEL_OPERATORS = frozenset({"In", "NotIn", "Exists", "DoesNotExist"})
CONCURRENCY_POLICIES = frozenset({"", "Allow", "Forbid", "Replace"})


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


class DocumentChecks:
    """Mixin of the linter (see lint._Linter): needs `m`, `catalog`, `issue` and the other checks."""

    # -- entry -------------------------------------------------------------------------------
    def run(self) -> None:
        m = self.m
        if m.api_version != ARGO_API_VERSION:
            self.issue("apiVersion", f"apiVersion must be {_q(ARGO_API_VERSION)}, not {_q(m.api_version)}")
        check_shape(m.raw.get("metadata"), METADATA, "metadata", self.issue)
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
        check_shape({k: v for k, v in spec.items() if k != "templates"}, WORKFLOW_SPEC, sp, self.issue)
        for key in spec:
            if key not in WORKFLOW_SPEC_FIELDS:
                self.issue(f"{sp}.{key}", f'unknown field "{sp}.{key}"')
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
                    self.issue(f"{sp}.workflowTemplateRef", f"{kind} {_q(ref['name'])} not found", at_run=True)
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
            if not isinstance(st, str) or st not in POD_GC_STRATEGIES:
                self.issue(f"{sp}.podGC.strategy", f"unknown podGC strategy {_q(st)}")
            delay = pod_gc.get("deleteDelayDuration")
            problem = _duration_problem(delay) if delay not in (None, "") else None
            if problem:
                self.issue(f"{sp}.podGC.deleteDelayDuration", problem)
            selector = pod_gc.get("labelSelector")
            for i, e in enumerate((selector or {}).get("matchExpressions") or [] if isinstance(selector, dict) else []):
                if not isinstance(e, dict) or e.get("operator") not in LABEL_OPERATORS:
                    self.issue(f"{sp}.podGC.labelSelector.matchExpressions[{i}].operator",
                               f"operator must be one of {', '.join(sorted(LABEL_OPERATORS))}")
        elif pod_gc is not None:
            self.issue(f"{sp}.podGC", "podGC must be a mapping")
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
            for where, problem in parameter_value_problems(p, pp):
                self.issue(where, problem)
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
