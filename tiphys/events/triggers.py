"""Executing a Sensor's triggers (argoWorkflow, k8s, log) against Tiphys' controller, with
parameters, Argo Events' labels and `retryStrategy`.

`Actions` is how a trigger reaches the rest of the server: create a Workflow, act on one by
name (resubmit, resume, retry, suspend, terminate, stop, delete), submit from a template, save
or delete a stored object (WorkflowTemplate, CronWorkflow...)."""
from __future__ import annotations

import copy
import logging
import random
import time
from typing import Any, Protocol

from tiphys.events import params
from tiphys.cron.schedule import go_duration

log = logging.getLogger("tiphys.events")

SENSOR_LABEL = "events.argoproj.io/sensor"
TRIGGER_LABEL = "events.argoproj.io/trigger"
TIMESTAMP_LABEL = "events.argoproj.io/action-timestamp"
TRIGGER_TYPES = ("argoWorkflow", "k8s", "log")
ARGO_OPERATIONS = ("submit", "submit-from", "resubmit", "resume", "retry", "suspend", "terminate", "stop")
K8S_OPERATIONS = ("create", "update", "patch", "delete")


class TriggerError(Exception):
    pass


class Actions(Protocol):
    def create_workflow(self, wf: dict) -> dict: ...
    def workflow_op(self, namespace: str, name: str, op: str) -> None: ...
    def submit_from(self, namespace: str, kind: str, name: str, labels: dict) -> dict: ...
    def save_object(self, obj: dict, operation: str) -> dict: ...
    def delete_object(self, obj: dict) -> None: ...


def _labelled(obj: dict, sensor: str, trigger: str) -> dict:
    labels = obj.setdefault("metadata", {}).setdefault("labels", {})
    labels[SENSOR_LABEL] = sensor
    labels[TRIGGER_LABEL] = trigger
    labels[TIMESTAMP_LABEL] = str(int(time.time() * 1000))
    return obj


def _resource(body: dict, where: str) -> dict:
    source = body.get("source") or {}
    resource = source.get("resource")
    if not isinstance(resource, dict):
        kinds = [k for k in source if k != "resource"]
        raise TriggerError(f"{where}.source: only an inline `resource` is supported here"
                           + (f", not {kinds[0]!r}" if kinds else ""))
    return copy.deepcopy(resource)


def execute(trigger: dict, events: dict[str, dict], sensor: dict, actions: Actions) -> Any:
    """Run one trigger once (parameters applied); TriggerError on failure."""
    template = copy.deepcopy(trigger.get("template") or {})
    name = str(template.get("name") or "")
    sensor_meta = sensor.get("metadata") or {}
    sensor_name, ns = sensor_meta.get("name") or "", sensor_meta.get("namespace") or "default"
    try:
        params.apply(template, trigger.get("parameters"), events)     # trigger-level: on the template
    except Exception as exc:  # noqa: BLE001
        raise TriggerError(f"trigger {name!r}: {exc}") from None
    kinds = [k for k in TRIGGER_TYPES if k in template]
    if not kinds:
        others = [k for k in template if k not in ("name", "conditions", "conditionsReset")]
        raise TriggerError(f"trigger {name!r}: unsupported trigger type {others[0] if others else '(none)'!r}")
    kind = kinds[0]
    body = template[kind] or {}
    if kind == "log":
        log.info("sensor %s/%s trigger %s: %s", ns, sensor_name, name,
                 {d: e.get("context") for d, e in events.items()})
        return None
    resource = _resource(body, f"{kind}")
    try:
        params.apply(resource, body.get("parameters"), events)
    except Exception as exc:  # noqa: BLE001
        raise TriggerError(f"trigger {name!r}: {exc}") from None
    meta = resource.setdefault("metadata", {})
    meta["namespace"] = meta.get("namespace") or ns
    if kind == "argoWorkflow":
        op = body.get("operation") or "submit"
        if op == "submit":
            return actions.create_workflow(_labelled(resource, sensor_name, name))
        if op == "submit-from":
            ref = resource.get("kind") or "WorkflowTemplate"
            return actions.submit_from(meta["namespace"], ref, meta.get("name") or "",
                                       {SENSOR_LABEL: sensor_name, TRIGGER_LABEL: name})
        if op in ARGO_OPERATIONS:
            if not meta.get("name"):
                raise TriggerError(f"trigger {name!r}: operation {op!r} needs the workflow's metadata.name")
            return actions.workflow_op(meta["namespace"], meta["name"], op)
        raise TriggerError(f"trigger {name!r}: unknown argoWorkflow operation {op!r}")
    op = body.get("operation") or "create"
    if op == "create":
        if (resource.get("kind") or "Workflow") == "Workflow":
            return actions.create_workflow(_labelled(resource, sensor_name, name))
        return actions.save_object(_labelled(resource, sensor_name, name), "create")
    if op in ("update", "patch"):
        return actions.save_object(resource, op)
    if op == "delete":
        return actions.delete_object(resource)
    raise TriggerError(f"trigger {name!r}: unknown k8s operation {op!r}")


def _seconds(value: Any, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, (int, float)):
        return float(value) / 1e9          # Argo's Int64OrString: a bare number is nanoseconds
    text = str(value)
    return float(text) / 1e9 if text.isdigit() else go_duration(text)


def with_retries(trigger: dict, run: Any) -> Any:
    """`run()` under the trigger's retryStrategy. As in Argo Events (PR #4002), the retries
    happen only with `atLeastOnce: true`; otherwise one attempt."""
    strategy = trigger.get("retryStrategy") or {}
    steps = int(strategy.get("steps") or 1) if trigger.get("atLeastOnce") else 1
    delay = _seconds(strategy.get("duration"), 1.0)
    factor = float(strategy.get("factor") or 1.0)
    jitter = float(strategy.get("jitter") or 0.0)
    for attempt in range(max(1, steps)):
        try:
            return run()
        except TriggerError:
            if attempt + 1 >= steps:
                raise
        time.sleep(delay * (1 + random.random() * jitter))
        delay *= factor
    return None
