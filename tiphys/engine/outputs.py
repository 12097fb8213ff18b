"""Turning a finished pod into a node phase, message and outputs (Argo's rules)."""
from __future__ import annotations

from collections import ChainMap
from typing import Any

from tiphys.engine import actions as A
from tiphys.engine import artifacts
from tiphys.engine import phases
from tiphys.errors import TiphysError
from tiphys.expr import exprlang, template as tpl

RESULT_LIMIT = 256 * 1024


def trim_result(stdout: str) -> str:
    text = stdout[-RESULT_LIMIT:]
    return text[:-1] if text.endswith("\n") else text


def for_pod(info: dict[str, Any], ev: A.PodExited, stopping: str | None) -> tuple[str, str | None, dict[str, Any]]:
    tmpl = info["template"]
    outs: dict[str, Any] = {}
    if ev.exit_code is not None:
        outs["exitCode"] = str(ev.exit_code)
    if ev.error:
        return phases.ERROR, ev.error, outs
    result = trim_result(ev.stdout)
    if info.get("result", True):      # only when the calling template names it (results.py)
        outs["result"] = result
    if ev.deadline_exceeded:
        return phases.FAILED, (info["deadline"] or (0, "Step exceeded its deadline"))[1], outs
    if ev.stopped:
        return phases.FAILED, stopping or "Stopped", outs
    if ev.pod_message:
        return phases.FAILED, ev.pod_message, outs
    phase, message = phases.SUCCEEDED, None
    if ev.oom_killed:
        phase, message = phases.FAILED, "OOMKilled (exit code 137)"
    elif ev.exit_code != 0:
        phase, message = phases.FAILED, f"Error (exit code {ev.exit_code})"
        if ev.termination_message:
            message += f": {ev.termination_message}"
    elif ev.container_failure:
        phase, message = phases.FAILED, ev.container_failure
    problems: list[str] = []
    params = _parameters(tmpl, ev, info["scope"], {**outs, "result": result}, problems)
    if params:
        outs["parameters"] = params
    arts = []
    for decl in (tmpl.get("outputs") or {}).get("artifacts") or []:
        if not decl.get("path"):
            continue
        loc = ev.artifacts.get(decl["name"])
        if loc is None:
            if not decl.get("optional"):
                problems.append(f"output artifact {decl['name']!r}: {decl['path']} does not exist")
            continue
        own = {"globalName": decl["globalName"]} if decl.get("globalName") else {}
        arts.append({"name": decl["name"], "path": decl["path"], **own, **loc})   # Argo keeps globalName
    arts += artifacts.undeclared(tmpl, ev.artifacts)
    if arts:
        outs["artifacts"] = arts
    if problems and phase == phases.SUCCEEDED:
        return phases.ERROR, "; ".join(problems), outs
    return phase, message, outs


def _parameters(tmpl: dict[str, Any], ev: A.PodExited, sc: Any, outs: dict[str, Any],
                problems: list[str]) -> list[dict[str, Any]]:
    found = []
    for decl in (tmpl.get("outputs") or {}).get("parameters") or []:
        name, vf = decl["name"], decl.get("valueFrom") or {}
        entry: dict[str, Any] = {"name": name}
        if decl.get("globalName"):
            entry["globalName"] = decl["globalName"]
        value: Any = None
        if "value" in decl:
            value = decl["value"]
        elif vf.get("path") or vf.get("jsonPath") or vf.get("jqFilter"):   # the last two: resource templates
            value = ev.parameters.get(name)
            if value is not None and value.endswith("\n"):
                value = value[:-1]
        elif "expression" in vf:
            try:
                env = tpl.expand(ChainMap({"outputs.result": outs.get("result", ""),
                                           "exitCode": outs.get("exitCode", "")}, sc))
                value = tpl.format_value(exprlang.evaluate(vf["expression"], env))
            except TiphysError as exc:
                problems.append(f"output parameter {name!r}: {exc}")
        if value is None and "default" in vf:
            value = str(vf["default"])
        if value is None:
            if vf.get("path"):
                problems.append(f"output parameter {name!r}: open {vf['path']}: no such file or directory")
            elif vf.get("jsonPath") or vf.get("jqFilter"):
                problems.append(f"output parameter {name!r}: {vf.get('jsonPath') or vf.get('jqFilter')} "
                                "found nothing in the resource")
            found.append(entry)
            continue
        entry["value"] = tpl.format_value(value)
        found.append(entry)
    return found


def for_template(tmpl: dict[str, Any], sc: Any) -> tuple[dict[str, Any], list[str]]:
    """Outputs of a steps/dag template, taken from its children after it finished."""
    outs: dict[str, Any] = {}
    problems: list[str] = []
    params = []
    for decl in (tmpl.get("outputs") or {}).get("parameters") or []:
        vf = _go_keys(decl.get("valueFrom") or {})
        entry: dict[str, Any] = {"name": decl["name"]}
        if decl.get("globalName"):
            entry["globalName"] = decl["globalName"]
        value: Any = None
        try:
            if "parameter" in vf:
                value = tpl.render(str(vf["parameter"]), sc)
                if "{{" in value:
                    value = None
            elif "expression" in vf:
                value = tpl.format_value(exprlang.evaluate(vf["expression"], tpl.expand(sc)))
            elif "value" in decl:
                value = tpl.render(str(decl["value"]), sc)
        except tpl.AbsentValue:
            value = None    # an output of a step/task that never ran: the default, if any, stands in
        except TiphysError as exc:
            problems.append(f"output parameter {decl['name']!r}: {exc}")
        if value is None and "default" in vf:
            value = str(vf["default"])
        if value is None:
            problems.append(f"unable to resolve output parameter {decl['name']!r}")
        else:
            entry["value"] = value
        params.append(entry)
    if params:
        outs["parameters"] = params
    arts = []
    for decl in (tmpl.get("outputs") or {}).get("artifacts") or []:
        ref = decl.get("from")
        found = None
        if isinstance(ref, str):
            key = ref.strip().removeprefix("{{").removesuffix("}}").strip()
            found = sc.get(key)
        elif decl.get("fromExpression"):
            try:
                found = exprlang.evaluate(decl["fromExpression"], tpl.expand(sc))
            except TiphysError as exc:
                problems.append(str(exc))
        if isinstance(found, dict):
            arts.append({**found, "name": decl["name"]})
        elif not decl.get("optional"):
            problems.append(f"unable to resolve output artifact {decl['name']!r}")
    if arts:
        outs["artifacts"] = arts
    return outs, problems


_VALUE_FROM = ("parameter", "expression", "default", "path", "jsonPath", "jqFilter", "event", "supplied",
               "configMapKeyRef")


def _go_keys(vf: dict[str, Any]) -> dict[str, Any]:
    """Argo decodes with Go's encoding/json, which matches field names whatever their case
    (`Parameter:` is `parameter`)."""
    if all(k in _VALUE_FROM for k in vf):
        return vf
    known = {k.lower(): k for k in _VALUE_FROM}
    return {known.get(k.lower(), k): v for k, v in vf.items()}
