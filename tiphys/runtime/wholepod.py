"""Whole pods for the executors that play them (`plays_pods = True`: `pod`, `kubernetes`).

Such an executor is handed, in `StepSpec.pod`, the very Pod `tiphys pods` prints
(tiphys/k8s/podspec.py: main wrapped by the helper, the helper's init container, the
template's sidecars and initContainers, its volumes, podSpecPatch), beside the StepSpec
build_spec made as for every executor (inputs placed in the step folder, the environment
with its secrets resolved, volumes resolved to host folders). The pod's own containers are
its business: the runtime composes no sidecar (runtime/sidecars.py) for it, and reads the
other containers' logs and failures back from `StepResult.containers`.

A containerSet is one Pod too (runtime/csetpod.py): the helper of each container honours its
`dependencies` and the set's retryStrategy as Argo's emissary does; runtime/containerset.py
composes the set itself only for the executors that do not play pods.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from tiphys.engine import actions as A
from tiphys.executors.base import StepSpec
from tiphys.k8s import podspec

if TYPE_CHECKING:
    from tiphys.runtime.runner import Runner


def plays_pods(executor: Any) -> bool:
    """Whether `executor` plays each step's whole Pod itself."""
    return bool(getattr(executor, "plays_pods", False))


def with_pod(runner: Runner, action: A.StartPod, spec: StepSpec) -> StepSpec:
    """`spec` with the Pod of `action` (SpecError on a bad podSpecPatch: the step ends in Error)."""
    node = ((runner.wf.get("status") or {}).get("nodes") or {}).get(action.node_id) or {}
    pod = podspec.build(runner.wf["metadata"], runner.spec, action, str(node.get("name") or action.node_id),
                        entrypoint=getattr(runner.executor, "entrypoint", None))
    return dataclasses.replace(spec, pod=pod)
