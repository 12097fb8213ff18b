"""Typed models of Argo's manifests, as TypedDicts over the plain JSON-like dicts.

Why TypedDicts and not classes: a manifest must round-trip every field Argo knows (and
Kubernetes fields Tiphys ignores) untouched, and the engine walks 100,000-node workflows;
TypedDicts give the type checker Argo's vocabulary at zero cost, while the dict keeps any
unknown field. Validation (types, references, cycles) is `lint`'s job, which reports every
problem with its field path; the engine then trusts the shape these models describe.
Field names mirror Argo's exactly (`workflow_types.go`).
"""
from __future__ import annotations

from typing import Any, TypedDict


class Parameter(TypedDict, total=False):
    name: str
    value: str
    default: str
    enum: list[str]
    description: str
    globalName: str
    valueFrom: dict[str, Any]      # path, default, expression, parameter, jsonPath, supplied, ...


class Artifact(TypedDict, total=False):
    name: str
    path: str
    mode: int
    from_: str                     # "from" in YAML (a Python keyword)
    fromExpression: str
    subPath: str
    optional: bool
    globalName: str
    archive: dict[str, Any]
    raw: dict[str, str]


class Arguments(TypedDict, total=False):
    parameters: list[Parameter]
    artifacts: list[Artifact]


class Inputs(TypedDict, total=False):
    parameters: list[Parameter]
    artifacts: list[Artifact]


class Outputs(TypedDict, total=False):
    parameters: list[Parameter]
    artifacts: list[Artifact]
    result: str
    exitCode: str


class Backoff(TypedDict, total=False):
    duration: str
    factor: int | str
    cap: str
    maxDuration: str


class RetryStrategy(TypedDict, total=False):
    limit: int | str
    retryPolicy: str               # Always | OnFailure | OnError | OnTransientError
    expression: str
    backoff: Backoff


class TemplateRef(TypedDict, total=False):
    name: str
    template: str
    clusterScope: bool


class LifecycleHook(TypedDict, total=False):
    template: str
    templateRef: TemplateRef
    arguments: Arguments
    expression: str


class ContinueOn(TypedDict, total=False):
    failed: bool
    error: bool


class Sequence(TypedDict, total=False):
    count: int | str
    start: int | str
    end: int | str
    format: str


class WorkflowStep(TypedDict, total=False):
    name: str
    template: str
    templateRef: TemplateRef
    inline: Template
    arguments: Arguments
    when: str
    withItems: list[Any]
    withParam: str
    withSequence: Sequence
    continueOn: ContinueOn
    hooks: dict[str, LifecycleHook]
    onExit: str


class DAGTask(WorkflowStep, total=False):
    depends: str
    dependencies: list[str]


class DAGTemplate(TypedDict, total=False):
    tasks: list[DAGTask]
    target: str
    failFast: bool


class Container(TypedDict, total=False):
    image: str
    command: list[str]
    args: list[str]
    env: list[dict[str, Any]]
    workingDir: str
    resources: dict[str, Any]
    volumeMounts: list[dict[str, Any]]


class ScriptTemplate(Container, total=False):
    source: str


class Template(TypedDict, total=False):
    name: str
    inputs: Inputs
    outputs: Outputs
    container: Container
    script: ScriptTemplate
    steps: list[list[WorkflowStep]]
    dag: DAGTemplate
    suspend: dict[str, Any]
    resource: dict[str, Any]
    http: dict[str, Any]
    data: dict[str, Any]
    containerSet: dict[str, Any]
    plugin: dict[str, Any]
    retryStrategy: RetryStrategy
    timeout: str
    activeDeadlineSeconds: int | str
    parallelism: int
    failFast: bool
    metadata: dict[str, Any]


class WorkflowSpec(TypedDict, total=False):
    entrypoint: str
    arguments: Arguments
    templates: list[Template]
    onExit: str
    hooks: dict[str, LifecycleHook]
    parallelism: int
    activeDeadlineSeconds: int
    templateDefaults: Template
    retryStrategy: RetryStrategy
    workflowTemplateRef: TemplateRef
    serviceAccountName: str
    priority: int


class ObjectMeta(TypedDict, total=False):
    name: str
    generateName: str
    namespace: str
    uid: str
    labels: dict[str, str]
    annotations: dict[str, str]
    creationTimestamp: str


class NodeStatus(TypedDict, total=False):
    id: str
    name: str
    displayName: str
    type: str                      # Pod, Steps, StepGroup, DAG, TaskGroup, Retry, Skipped, Suspend
    templateName: str
    templateScope: str
    phase: str                     # Pending, Running, Succeeded, Skipped, Failed, Error, Omitted
    boundaryID: str
    message: str
    startedAt: str | None
    finishedAt: str | None
    podName: str
    inputs: Inputs
    outputs: Outputs
    children: list[str]


class WorkflowStatus(TypedDict, total=False):
    phase: str
    startedAt: str | None
    finishedAt: str | None
    message: str
    progress: str
    nodes: dict[str, NodeStatus]
    outputs: Outputs


class Workflow(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: WorkflowSpec
    status: WorkflowStatus


class CronWorkflowSpec(TypedDict, total=False):
    schedules: list[str]
    schedule: str
    timezone: str
    concurrencyPolicy: str
    suspend: bool
    workflowSpec: WorkflowSpec
