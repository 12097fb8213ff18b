"""What the engine asks the shell to do (actions) and what the shell reports back (events).

Plain data only: the engine builds these, the runtime acts on them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class InputArtifact:
    name: str
    path: str
    source: dict[str, Any] | None = None    # a stored artifact location ({"key": ..., "archive": ...})
    raw: str | None = None                  # raw.data
    sub_path: str | None = None
    mode: int | None = None


@dataclass(frozen=True)
class OutputArtifact:
    name: str
    path: str
    archive: str = "tgz"                    # "tgz" or "none"
    optional: bool = False
    key: str | None = None                  # the object key the template named (repositories.py)
    problem: str | None = None              # why its named repository cannot be used: saving it fails
    declared: dict[str, Any] = field(default_factory=dict, compare=False)   # the artifact as the template declares it


@dataclass(frozen=True)
class StartPod:
    """Run a step. An `http` or `data` template (agent.py) is a step the shell carries out
    itself: it makes the request or lists the artifact location, and answers with a
    PodExited whose `reply` holds what it got."""
    node_id: str
    pod_name: str
    template: dict[str, Any]                 # the template after substitution
    inputs: tuple[InputArtifact, ...] = ()
    parameter_paths: tuple[tuple[str, str], ...] = ()   # (parameter name, path)
    artifacts: tuple[OutputArtifact, ...] = ()
    deadline: float | None = None            # seconds after start, then the pod is stopped
    containers: tuple[tuple[str, str], ...] = ()   # containerSet: (container name, its Container node id)


@dataclass(frozen=True)
class StopPod:
    node_id: str
    message: str


@dataclass(frozen=True)
class SetTimer:
    key: str
    at: float                                # absolute time (same clock as `now`)


@dataclass(frozen=True)
class PodExited:
    node_id: str
    exit_code: int | None
    stdout: str = ""
    parameters: dict[str, str | None] = field(default_factory=dict)
    artifacts: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    oom_killed: bool = False
    deadline_exceeded: bool = False
    stopped: bool = False
    error: str | None = None
    unstarted: bool = False   # the pod could not even be created (Argo: executeTemplate returned an error)
    # containerSet: container name -> {"exitCode": int | None, "reason", "message", "error"}
    containers: dict[str, dict[str, Any]] = field(default_factory=dict)
    # an http/data step's answer: {"statusCode", "headers", "body"} (http), {"keys"} (data),
    # or {"error"} when the request or the listing failed
    reply: dict[str, Any] | None = None
    container_failure: str | None = None     # a sidecar that failed: "<name>: Error (exit code N)"
    termination_message: str | None = None   # why main failed, appended to the node's message
    pod_message: str | None = None           # a cluster pod's own failure (evicted...): the node Failed with it


@dataclass(frozen=True)
class TimerFired:
    key: str


@dataclass(frozen=True)
class StopRequested:
    message: str
    terminate: bool = True


@dataclass(frozen=True)
class SuspendRequested:
    """`argo suspend` (True) / the workflow part of `argo resume` (False): while suspended no
    new step starts; running steps go on."""
    suspended: bool = True


@dataclass(frozen=True)
class NodesResumed:
    """`argo resume`: suspend nodes matching `selector` (every one when empty) succeed."""
    selector: str = ""


@dataclass(frozen=True)
class NodesSet:
    """`argo node set`: give suspend nodes matching `selector` a phase, message and outputs."""
    selector: str
    phase: str | None = None
    message: str | None = None
    output_parameters: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PodStarted:
    """A daemon step's process started (and passed its readinessProbe, if any): its node turns
    daemoned; `ip` is where other steps reach it (`{{steps.x.ip}}`)."""
    node_id: str
    ip: str = ""


@dataclass(frozen=True)
class PodPending:
    """A step's pod is not admitted yet (a namespace's ResourceQuota is full): its node waits
    Pending with Kubernetes' `message`; an empty message says it was admitted (Running again)."""
    node_id: str
    message: str = ""


@dataclass(frozen=True)
class PodLost:
    """A step started before a controller restart whose process is gone."""
    node_id: str
    message: str


@dataclass(frozen=True)
class GiveUp:
    """The workflow can make no progress (engine/stuck.py): end it in Error with `message`."""
    message: str


@dataclass(frozen=True)
class LookupCache:
    """Read memoize entry `key` of cache ConfigMap `cache` (in `namespace`); answered by CacheResult."""
    node_id: str
    namespace: str
    cache: str
    key: str


@dataclass(frozen=True)
class SaveCache:
    """Store a memoized node's outputs as entry `key` of cache ConfigMap `cache`."""
    node_id: str
    namespace: str
    cache: str
    key: str
    outputs: dict[str, Any] | None = None


@dataclass(frozen=True)
class CacheResult:
    """The entry LookupCache asked for ({nodeID, outputs, creationTimestamp, ...}), None when
    absent; `error` when the cache could not be read (the node ends in Error)."""
    node_id: str
    entry: dict[str, Any] | None = None
    error: str | None = None


@dataclass(frozen=True)
class AcquireLock:
    """Take every lock in `locks` (all or none) for `holder` (`<ns>/<wf>` for the workflow,
    `<ns>/<wf>/<nodeID>` for a node); queued by higher `priority`, then older `created`.
    Answered by LockWaiting (maybe several times) and then LockAcquired."""
    holder: str
    locks: tuple[str, ...]
    priority: int = 0
    created: str = ""


@dataclass(frozen=True)
class ReleaseLock:
    holder: str


@dataclass(frozen=True)
class LockWaiting:
    """`holder` waits: `lock` is the one it cannot have, `message` Argo's waiting text."""
    holder: str
    lock: str
    message: str


@dataclass(frozen=True)
class LockAcquired:
    holder: str


Action = StartPod | StopPod | SetTimer | LookupCache | SaveCache | AcquireLock | ReleaseLock
Event = (PodExited | TimerFired | StopRequested | SuspendRequested | NodesResumed | NodesSet | PodLost | GiveUp
         | CacheResult | LockWaiting | LockAcquired | PodStarted | PodPending)
EVENT_TYPES = {cls.__name__: cls for cls in (PodExited, TimerFired, StopRequested, SuspendRequested, NodesResumed,
                                             NodesSet, PodLost, GiveUp, CacheResult, LockWaiting, LockAcquired,
                                             PodStarted, PodPending)}
