"""Checks of one template: its type, inputs/outputs, fields, type body, retries and loops.

`TemplateChecks.lint_template` validates a template on its own, then hands steps and dag
templates to the flow checks and walks the rest of the template for `{{...}}`
references in the template's scope.
"""
from __future__ import annotations

import re
from typing import Any

from tiphys.spec.lintrefs import _Scope
from tiphys.spec.lintshapes import TEMPLATE, check_shape
from tiphys.spec.lintvalues import (
    _FIELD_NAME, _PARAM_NAME, LOOP_FIELDS, _dict, _duration_problem, _fmt_path, _is_int_like,
    _list_of_dicts, _q, _templated, parameter_value_problems,
)

TYPE_FIELDS = ("container", "script", "dag", "steps", "suspend", "resource", "http", "data",
               "containerSet", "plugin")
RETRY_POLICIES = frozenset({"Always", "OnFailure", "OnError", "OnTransientError"})
RESOURCE_ACTIONS = frozenset({"get", "create", "apply", "delete", "replace", "patch"})
_PLACEHOLDER_TAG = re.compile(r"\{\{.*?\}\}", re.S)


class TemplateChecks:
    """Mixin of the linter (see lint._Linter): needs `issue`, `template_defaults` and the other checks."""

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
        check_shape({k: v for k, v in t.items() if k not in ("inputs", "outputs")}, TEMPLATE, p, self.issue)
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
        for ip in _list_of_dicts(inputs.get("parameters")):
            for where, problem in parameter_value_problems(ip, f"{p}.inputs.parameters.{ip.get('name')}"):
                self.issue(where, problem)
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
        # Argo checks output names after substituting the template's inputs (placeholders)
        out_params = self.check_named_list(outputs.get("parameters"), f"{p}.outputs.parameters", _PARAM_NAME,
                                           substituted=True)
        out_arts = self.check_named_list(outputs.get("artifacts"), f"{p}.outputs.artifacts", _PARAM_NAME,
                                         substituted=True)
        for op in _list_of_dicts(outputs.get("parameters")):
            for where, problem in parameter_value_problems(op, f"{p}.outputs.parameters.{op.get('name')}"):
                self.issue(where, problem)
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

    def check_named_list(self, items: Any, path: str, rx: re.Pattern, substituted: bool = False) -> list[str]:
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
            if not rx.match(_PLACEHOLDER_TAG.sub("placeholder", n) if substituted else n):
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
        vf = {k[:1].lower() + k[1:]: v for k, v in vf.items()}   # Go's json matches `Parameter` too
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
        elif ttype == "resource":
            r = t.get("resource")
            if not isinstance(r, dict):
                self.issue(f"{p}.resource", "resource must be a mapping")
                return
            action = r.get("action")
            if not _templated(action) and (not isinstance(action, str) or action not in RESOURCE_ACTIONS):
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
