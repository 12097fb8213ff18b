"""Lint of the event kinds Tiphys' server runs: EventSource and Sensor (Argo Events,
argoproj.io/v1alpha1) and WorkflowEventBinding — unknown fields, event source types and
trigger types as located errors, and the references a Sensor makes to itself (conditions
naming dependencies, parameters naming them)."""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

EVENT_KINDS = frozenset({"EventSource", "Sensor", "WorkflowEventBinding"})

SOURCE_TYPES = ("webhook", "github", "calendar")
ARGO_EVENTS_SOURCES = frozenset({
    "amqp", "azureEventsHub", "azureQueueStorage", "azureServiceBus", "bitbucket", "bitbucketserver", "calendar",
    "emitter", "file", "generic", "gerrit", "github", "gitlab", "hdfs", "kafka", "minio", "mqtt", "nats", "nsq",
    "pubSub", "pulsar", "redis", "redisStream", "resource", "sftp", "slack", "sns", "sqs", "storageGrid",
    "stripe", "webhook"})
SOURCE_SPEC = frozenset({"template", "service", "eventBusName", "replicas"}) | ARGO_EVENTS_SOURCES
WEBHOOK = frozenset({"endpoint", "method", "port", "url", "serverCertSecret", "serverKeySecret", "authSecret",
                     "metadata", "maxPayloadSize", "filter"})
GITHUB = frozenset({"id", "webhook", "owner", "repository", "events", "apiToken", "webhookSecret", "insecure",
                    "active", "contentType", "githubBaseURL", "githubUploadURL", "deleteHookOnFinish", "metadata",
                    "repositories", "organizations", "githubApp", "filter", "payloadEnrichment"})
CALENDAR = frozenset({"schedule", "interval", "exclusionDates", "timezone", "metadata", "persistence", "filter"})

SENSOR_SPEC = frozenset({"template", "dependencies", "triggers", "errorOnFailedRound", "eventBusName", "replicas",
                         "revisionHistoryLimit", "loggingFields", "logging"})
DEPENDENCY = frozenset({"name", "eventSourceName", "eventName", "filters", "filtersLogicalOperator", "transform"})
FILTERS = frozenset({"time", "context", "data", "exprs", "dataLogicalOperator", "exprLogicalOperator", "script"})
TRIGGER = frozenset({"template", "parameters", "policy", "retryStrategy", "rateLimit", "atLeastOnce", "dlqTrigger"})
TRIGGER_TYPES = ("argoWorkflow", "k8s", "log")
ARGO_EVENTS_TRIGGERS = frozenset({"k8s", "argoWorkflow", "http", "awsLambda", "custom", "kafka", "nats", "slack",
                                  "openWhisk", "log", "azureEventHubs", "pulsar", "email", "azureServiceBus"})
TRIGGER_TEMPLATE = frozenset({"name", "conditions", "conditionsReset"}) | ARGO_EVENTS_TRIGGERS
ARGO_WORKFLOW = frozenset({"source", "operation", "parameters", "args"})
K8S = frozenset({"source", "operation", "parameters", "patchStrategy", "liveObject"})
LOG = frozenset({"intervalSeconds"})
PARAMETER = frozenset({"src", "dest", "operation"})
PARAM_SRC = frozenset({"dependencyName", "contextKey", "contextTemplate", "dataKey", "dataTemplate", "value",
                       "useRawData"})
ARGO_OPS = ("submit", "submit-from", "resubmit", "resume", "retry", "suspend", "terminate", "stop")
K8S_OPS = ("create", "update", "patch", "delete")
BINDING_SPEC = frozenset({"event", "submit"})
BINDING_SUBMIT = frozenset({"workflowTemplateRef", "metadata", "arguments"})

Issue = Callable[[str, str], None]


def _fields(obj: Any, allowed: frozenset, path: str, issue: Issue) -> dict:
    if obj is None:
        return {}
    if not isinstance(obj, dict):
        issue(path, "must be a mapping")
        return {}
    for k in obj:
        if k not in allowed:
            issue(f"{path}.{k}", f"unknown field {k!r}")
    return obj


def _list(obj: Any, path: str, issue: Issue) -> list:
    if obj is None:
        return []
    if not isinstance(obj, list):
        issue(path, "must be a list")
        return []
    return obj


def lint_event_kind(kind: str, raw: dict, issue: Issue) -> None:
    """Report every problem of one EventSource / Sensor / WorkflowEventBinding via issue(path, message)."""
    spec = raw.get("spec")
    if not isinstance(spec, dict):
        issue("spec", "spec is required and must be a mapping")
        return
    {"EventSource": _source, "Sensor": _sensor, "WorkflowEventBinding": _binding}[kind](spec, issue)


def _source(spec: dict, issue: Issue) -> None:
    _fields(spec, SOURCE_SPEC, "spec", issue)
    found = False
    for kind in sorted(ARGO_EVENTS_SOURCES & set(spec)):
        if kind not in SOURCE_TYPES:
            issue(f"spec.{kind}", f"event source type {kind!r} is not supported (supported: "
                                  f"{', '.join(SOURCE_TYPES)})")
            continue
        events = spec[kind]
        if not isinstance(events, dict) or not events:
            issue(f"spec.{kind}", "must map event names to their configuration")
            continue
        for name, cfg in events.items():
            found = True
            path = f"spec.{kind}.{name}"
            if kind == "webhook":
                cfg = _fields(cfg, WEBHOOK, path, issue)
                _hook(cfg, path, issue)
            elif kind == "github":
                cfg = _fields(cfg, GITHUB, path, issue)
                _hook(_fields(cfg.get("webhook"), WEBHOOK, f"{path}.webhook", issue), f"{path}.webhook", issue)
            else:
                cfg = _fields(cfg, CALENDAR, path, issue)
                if not cfg.get("schedule") and not cfg.get("interval"):
                    issue(path, "a calendar needs a schedule or an interval")
    if not found and not (ARGO_EVENTS_SOURCES & set(spec)) - set(SOURCE_TYPES):
        issue("spec", "no event source defined")


def _hook(cfg: dict, path: str, issue: Issue) -> None:
    port = cfg.get("port")
    if not str(port or "").isdigit() or not 0 < int(str(port)) < 65536:
        issue(f"{path}.port", f"port must be a number between 1 and 65535, not {port!r}")
    endpoint = cfg.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint.startswith("/"):
        issue(f"{path}.endpoint", "endpoint must be a path starting with /")


def _sensor(spec: dict, issue: Issue) -> None:
    _fields(spec, SENSOR_SPEC, "spec", issue)
    names: list[str] = []
    deps = _list(spec.get("dependencies"), "spec.dependencies", issue)
    if not deps:
        issue("spec.dependencies", "a sensor needs at least one dependency")
    for i, dep in enumerate(deps):
        path = f"spec.dependencies[{i}]"
        dep = _fields(dep, DEPENDENCY, path, issue)
        for req in ("name", "eventSourceName", "eventName"):
            if not isinstance(dep.get(req), str) or not dep.get(req):
                issue(f"{path}.{req}", f"{req} is required")
        if isinstance(dep.get("name"), str):
            if dep["name"] in names:
                issue(f"{path}.name", f"dependency name {dep['name']!r} is not unique")
            names.append(dep["name"])
        f = _fields(dep.get("filters"), FILTERS, f"{path}.filters", issue)
        if f.get("script"):
            issue(f"{path}.filters.script", "Lua script filters are not supported")
        if dep.get("transform"):
            issue(f"{path}.transform", "transform (jq / Lua) is not supported")
        op = dep.get("filtersLogicalOperator")
        if op not in (None, "", "and", "or"):
            issue(f"{path}.filtersLogicalOperator", f"must be 'and' or 'or', not {op!r}")
    triggers = _list(spec.get("triggers"), "spec.triggers", issue)
    if not triggers:
        issue("spec.triggers", "a sensor needs at least one trigger")
    for i, trig in enumerate(triggers):
        path = f"spec.triggers[{i}]"
        trig = _fields(trig, TRIGGER, path, issue)
        _params(trig.get("parameters"), f"{path}.parameters", names, issue)
        tmpl = _fields(trig.get("template"), TRIGGER_TEMPLATE, f"{path}.template", issue)
        if not tmpl.get("name"):
            issue(f"{path}.template.name", "trigger name is required")
        cond = tmpl.get("conditions")
        if isinstance(cond, str):
            for word in re.findall(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", cond):
                if word not in names:
                    issue(f"{path}.template.conditions", f"dependency {word!r} is not defined")
        kinds = [k for k in ARGO_EVENTS_TRIGGERS if k in tmpl]
        if len(kinds) != 1:
            issue(f"{path}.template", "a trigger template needs exactly one trigger type"
                  + (f", found {', '.join(sorted(kinds))}" if kinds else ""))
        for k in kinds:
            tp = f"{path}.template.{k}"
            if k not in TRIGGER_TYPES:
                issue(tp, f"trigger type {k!r} is not supported (supported: {', '.join(TRIGGER_TYPES)})")
                continue
            body = _fields(tmpl[k], {"argoWorkflow": ARGO_WORKFLOW, "k8s": K8S, "log": LOG}[k], tp, issue)
            if k == "log":
                continue
            ops = ARGO_OPS if k == "argoWorkflow" else K8S_OPS
            if body.get("operation") not in (None, "", *ops):
                issue(f"{tp}.operation", f"unknown operation {body.get('operation')!r} (one of {', '.join(ops)})")
            source = body.get("source")
            if not isinstance(source, dict) or not isinstance(source.get("resource"), dict):
                issue(f"{tp}.source", "source.resource (the object inline) is required")
            _params(body.get("parameters"), f"{tp}.parameters", names, issue)


def _params(params: Any, path: str, names: list[str], issue: Issue) -> None:
    for j, p in enumerate(_list(params, path, issue)):
        pp = f"{path}[{j}]"
        p = _fields(p, PARAMETER, pp, issue)
        src = _fields(p.get("src"), PARAM_SRC, f"{pp}.src", issue)
        dep = src.get("dependencyName")
        if dep is not None and dep not in names:
            issue(f"{pp}.src.dependencyName", f"dependency {dep!r} is not defined")
        if not isinstance(p.get("dest"), str) or not p.get("dest"):
            issue(f"{pp}.dest", "dest is required")
        if p.get("operation") not in (None, "", "overwrite", "append", "prepend"):
            issue(f"{pp}.operation", f"unknown operation {p.get('operation')!r}")


def _binding(spec: dict, issue: Issue) -> None:
    _fields(spec, BINDING_SPEC, "spec", issue)
    event = _fields(spec.get("event"), frozenset({"selector"}), "spec.event", issue)
    if not isinstance(event.get("selector"), str) or not event["selector"].strip():
        issue("spec.event.selector", "selector is required")
    submit = _fields(spec.get("submit"), BINDING_SUBMIT, "spec.submit", issue)
    if submit:
        ref = submit.get("workflowTemplateRef")
        if not isinstance(ref, dict) or not ref.get("name"):
            issue("spec.submit.workflowTemplateRef", "workflowTemplateRef.name is required")
        params = ((submit.get("arguments") or {}).get("parameters")) or []
        for j, p in enumerate(_list(params, "spec.submit.arguments.parameters", issue)):
            if not isinstance(p, dict) or not (p.get("valueFrom") or {}).get("event"):
                issue(f"spec.submit.arguments.parameters[{j}].valueFrom.event", "valueFrom.event is required")
