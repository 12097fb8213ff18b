"""What a CronWorkflow decides, without I/O: the Workflow a tick creates (Argo's name,
labels, annotations, owner reference), the `when` and `stopStrategy` conditions, the missed
run to catch up after downtime, and the status fields Argo keeps
(`workflow/cron/operator.go`, ARGO-REFERENCE-2 §1)."""
from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

from tiphys.cron.schedule import Schedule, parse, with_timezone
from tiphys.errors import ExpressionError, SpecError

API_VERSION = "argoproj.io/v1alpha1"
CRON_LABEL = "workflows.argoproj.io/cron-workflow"
SCHEDULED_TIME = "workflows.argoproj.io/scheduled-time"
LAST_USED_SCHEDULE = "cronworkflows.argoproj.io/last-used-schedule"
COMPLETED = "cronworkflows.argoproj.io/completed"
COPIED_LABELS = ("workflows.argoproj.io/creator", "workflows.argoproj.io/creator-email",
                 "workflows.argoproj.io/creator-preferred-username", "workflows.argoproj.io/controller-instanceid")
POLICIES = ("Allow", "Forbid", "Replace")
DEFAULT_SUCCESS_HISTORY, DEFAULT_FAILED_HISTORY = 3, 1


def rfc3339(t: dt.datetime) -> str:
    """Go's time.RFC3339 in t's zone (`Z` for UTC)."""
    text = t.replace(microsecond=0).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def parse_time(text: Any) -> dt.datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def schedule_texts(cron: dict) -> list[str]:
    """`spec.schedules`, or the older single `spec.schedule` (as `argo convert` rewrites it)."""
    spec = cron.get("spec") or {}
    found = [s for s in (spec.get("schedules") or []) if isinstance(s, str) and s.strip()]
    legacy = spec.get("schedule")
    if not found and isinstance(legacy, str) and legacy.strip():
        found = [legacy]
    return found


def schedules(cron: dict) -> list[Schedule]:
    """Every schedule parsed in the cron's timezone; SpecError on the first bad one."""
    spec = cron.get("spec") or {}
    texts = schedule_texts(cron)
    if not texts:
        raise SpecError("cron workflow must have at least one schedule")
    return [parse(s) for s in with_timezone(texts, spec.get("timezone") or None)]


def last_used(cron: dict) -> str:
    """The last-used-schedule annotation: comma-joined schedules with their CRON_TZ prefix."""
    return ",".join(with_timezone(schedule_texts(cron), (cron.get("spec") or {}).get("timezone") or None))


def validate(cron: dict) -> None:
    """The CronWorkflow-level checks Argo's controller makes before each run (SpecError)."""
    meta = cron.get("metadata") or {}
    spec = cron.get("spec") or {}
    if len(str(meta.get("name") or "")) > 52:
        raise SpecError("cron workflow name must not be more than 52 characters long")
    schedules(cron)
    policy = spec.get("concurrencyPolicy") or "Allow"
    if policy not in POLICIES:
        raise SpecError(f"{policy!r} is not a valid concurrencyPolicy")
    sds = spec.get("startingDeadlineSeconds")
    if sds is not None and (not isinstance(sds, int) or sds < 0):
        raise SpecError("startingDeadlineSeconds must be a positive integer")
    if not isinstance(spec.get("workflowSpec"), dict):
        raise SpecError("workflowSpec is required")


def history_limits(cron: dict) -> tuple[int, int]:
    spec = cron.get("spec") or {}
    ok, bad = spec.get("successfulJobsHistoryLimit"), spec.get("failedJobsHistoryLimit")
    ok = ok if isinstance(ok, int) and ok >= 0 else DEFAULT_SUCCESS_HISTORY
    bad = bad if isinstance(bad, int) and bad >= 0 else DEFAULT_FAILED_HISTORY
    return ok, bad


def new_workflow(cron: dict, scheduled: dt.datetime | None, *, manual: bool = False,
                 now: dt.datetime | None = None) -> dict:
    """The Workflow a tick at `scheduled` creates (`<cron>-<unix seconds>`), or a manual
    `submit --from cronwf/NAME` (`generateName: <cron>-`, scheduled time = now)."""
    meta = cron.get("metadata") or {}
    spec = cron.get("spec") or {}
    name, ns = meta["name"], meta.get("namespace") or "default"
    wf_meta_spec = spec.get("workflowMetadata") or {}
    labels = {CRON_LABEL: name}
    for key in COPIED_LABELS:
        if key in (meta.get("labels") or {}):
            labels[key] = meta["labels"][key]
    labels.update(wf_meta_spec.get("labels") or {})
    at = scheduled if scheduled is not None else (now or dt.datetime.now(dt.timezone.utc))
    annotations = {SCHEDULED_TIME: rfc3339(at)}
    annotations.update(wf_meta_spec.get("annotations") or {})
    wf_meta: dict[str, Any] = {"namespace": ns, "labels": labels, "annotations": annotations}
    if manual:
        wf_meta["generateName"] = f"{name}-"
    else:
        wf_meta["name"] = f"{name}-{int(at.timestamp())}"
    if wf_meta_spec.get("finalizers"):
        wf_meta["finalizers"] = list(wf_meta_spec["finalizers"])
    wf_meta["ownerReferences"] = [{"apiVersion": API_VERSION, "kind": "CronWorkflow", "name": name,
                                   "uid": meta.get("uid") or "", "controller": True, "blockOwnerDeletion": True}]
    return {"apiVersion": API_VERSION, "kind": "Workflow", "metadata": wf_meta,
            "spec": copy.deepcopy(spec.get("workflowSpec") or {})}


def _env(cron: dict) -> dict:
    meta = cron.get("metadata") or {}
    status = cron.get("status") or {}
    labels = meta.get("labels") or {}
    return {"name": meta.get("name"), "namespace": meta.get("namespace") or "default", "labels": labels,
            # Argo's env holds the labels under `annotations` too (upstream bug kept, §1.1)
            "annotations": labels, "failed": status.get("failed") or 0, "succeeded": status.get("succeeded") or 0,
            "lastScheduledTime": parse_time(status.get("lastScheduledTime"))}


def should_run(cron: dict, now: dt.datetime) -> bool:
    """`spec.when`: substituted with `cronworkflow.*`, then read with govaluate."""
    from tiphys.expr import govaluate, template
    when = (cron.get("spec") or {}).get("when")
    if not when:
        return True
    env = _env(cron)
    last = env["lastScheduledTime"]
    scope = {f"cronworkflow.{k}": v for k, v in env.items() if k not in ("labels", "annotations")}
    scope["cronworkflow.lastScheduledTime"] = last
    scope["cronworkflow.labels.json"] = json.dumps(env["labels"])
    scope["cronworkflow.annotations.json"] = json.dumps(env["labels"])
    for key, value in env["labels"].items():
        scope[f"cronworkflow.labels.{key}"] = value
    from tiphys.expr.exprfuncs import clock_at
    with clock_at(now):
        text = template.render(when, scope)
    return govaluate.evaluate_when(text)


def should_stop(cron: dict, now: dt.datetime) -> bool:
    """`spec.stopStrategy.expression` (expr-lang) over `cronworkflow`."""
    from tiphys.expr import exprlang
    from tiphys.expr.exprfuncs import clock_at
    expression = ((cron.get("spec") or {}).get("stopStrategy") or {}).get("expression")
    if not expression:
        return False
    env = _env(cron)
    with clock_at(now):
        result = exprlang.evaluate(expression, {"cronworkflow": env})
    if not isinstance(result, bool):
        raise ExpressionError(f"stopStrategy expression {expression!r} did not return a boolean")
    return result


def missed_run(cron: dict, now: dt.datetime) -> dt.datetime | None:
    """The latest scheduled time missed since `lastScheduledTime`, when it is still within
    `startingDeadlineSeconds` (only the latest is run, issue #9632); None otherwise, or when the
    schedules changed since (the last-used-schedule annotation differs)."""
    spec = cron.get("spec") or {}
    deadline = spec.get("startingDeadlineSeconds")
    last = parse_time((cron.get("status") or {}).get("lastScheduledTime"))
    if not deadline or last is None:
        return None
    used = ((cron.get("metadata") or {}).get("annotations") or {}).get(LAST_USED_SCHEDULE)
    if used is not None and used != last_used(cron):
        return None
    latest = None
    for sched in schedules(cron):
        t = sched.next(last)
        while t < now:
            if latest is None or t > latest:
                latest = t
            t = sched.next(t)
    if latest is not None and now < latest + dt.timedelta(seconds=int(deadline)):
        return latest
    return None


def condition(status: dict, kind: str, message: str | None) -> None:
    """Set (message) or clear (None) the condition of `kind` (SpecError, SubmissionError)."""
    conds = [c for c in (status.get("conditions") or []) if c.get("type") != kind]
    if message is not None:
        conds.append({"type": kind, "status": "True", "message": message,
                      "lastTransitionTime": rfc3339(dt.datetime.now(dt.timezone.utc))})
    if conds:
        status["conditions"] = conds
    else:
        status.pop("conditions", None)


def active_ref(wf: dict) -> dict:
    meta = wf["metadata"]
    return {"kind": "Workflow", "apiVersion": API_VERSION, "name": meta["name"],
            "namespace": meta.get("namespace") or "default", "uid": meta.get("uid") or "",
            "resourceVersion": meta.get("resourceVersion") or "1"}
