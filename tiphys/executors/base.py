"""The one small interface between the runtime and whatever runs a step's process.

The engine decides *what* to run and builds a `StepSpec` (plain data); an executor only
acts on it. Executors translate their own failures into `StepResult.error` (infrastructure
trouble, Argo phase Error) and never let OSError and friends leak upward.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tiphys.executors.podgc import PodGC


@dataclass(frozen=True)
class InputFile:
    """A host file or folder to place at `path` inside the step before it starts."""

    source: Path
    path: str


@dataclass(frozen=True)
class Mount:
    """A volume mounted at `path` inside the step (container.volumeMounts + volumes).

    `source` is a host folder or file bound there (hostPath, an emptyDir folder of the
    step, a claim shared by one workflow's steps); None is a fresh in-memory folder
    (emptyDir with `medium: Memory`)."""

    path: str
    source: Path | None = None
    read_only: bool = False


@dataclass(frozen=True)
class StepSpec:
    key: str                                  # unique per attempt (the node id)
    image: str
    command: tuple[str, ...] = ()             # container.command (empty: image default)
    args: tuple[str, ...] = ()                # container.args
    env: tuple[tuple[str, str], ...] = ()
    working_dir: str | None = None
    script: str | None = None                 # script.source: written to a file whose path is appended to argv
    inputs: tuple[InputFile, ...] = ()
    output_paths: tuple[str, ...] = ()        # paths inside the step to collect after it exits
    memory_limit: int | None = None           # bytes
    cpu_limit: float | None = None            # cores
    workdir: Path = field(default=Path("."))  # host folder owned by this step: logs, collected outputs
    # Optional pod fields; executors that cannot honour one ignore it (the host executor does).
    mounts: tuple[Mount, ...] = ()            # volumeMounts resolved against volumes
    run_as_user: int | None = None            # securityContext.runAsUser
    run_as_group: int | None = None           # securityContext.runAsGroup
    memory_request: int | None = None         # bytes (resources.requests.memory)
    cpu_request: float | None = None          # cores (resources.requests.cpu)
    workflow: str = ""                        # the workflow's name (labels, shared volumes)
    workflow_uid: str = ""                    # its metadata.uid: one run of that name among others
    labels: tuple[tuple[str, str], ...] = ()  # the pod's labels (spec.podMetadata, the template's metadata)
    pod_gc: PodGC = PodGC()                   # when a kept container (docker) is removed
    tty: bool = False                         # container.tty: stdin is a terminal
    attempts: int = 1                         # containerSet retryStrategy: runs of the command in this step
    attempt_delay: float = 0.0                # seconds between them (retryloop.py)
    # The step's whole Kubernetes Pod (tiphys/k8s/podspec.py: main wrapped by the helper, the
    # helper's init container, the template's sidecars and initContainers, podSpecPatch), given
    # only to an executor with `plays_pods = True` (runtime/wholepod.py); None otherwise.
    pod: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class StepResult:
    exit_code: int | None                     # None when the process never ran
    stdout: Path                              # host file with the step's stdout
    stderr: Path                              # host file with the step's stderr
    outputs: dict[str, Path | None]           # each output path -> host copy (None: missing)
    oom_killed: bool = False
    stopped: bool = False                     # ended by StepHandle.stop()
    error: str | None = None                  # infrastructure failure message
    message: str | None = None                # the pod failed for a reason of its own (evicted, its deadline):
                                              # the node Failed with it, as Argo takes pod.status.message
    # an executor that plays whole pods: the pod's other containers (sidecars, and template
    # initContainers that failed), each as a result of its own (name, result), for their logs
    # and for a sidecar's failure (runtime/sidecars.py judges them as it judges its own)
    containers: tuple[tuple[str, "StepResult"], ...] = ()


class StepHandle(Protocol):
    async def wait(self) -> StepResult: ...
    async def stop(self, grace: float = 0.0) -> None: ...


class Executor(Protocol):
    """`start` runs one step. An executor may also say `plays_pods = True` (a class
    attribute): it is then handed each container/script step's whole Pod in `StepSpec.pod`
    and plays it all (sidecars and init containers included: the runtime does not compose
    them itself), reporting the other containers in `StepResult.containers`. It may offer
    `entrypoint(image) -> list[str] | None` (an image's ENTRYPOINT+CMD), so that a container
    without `command` is wrapped by the helper as well."""

    name: str

    async def start(self, spec: StepSpec) -> StepHandle: ...
