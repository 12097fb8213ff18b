"""A step's Pod as the `kubernetes` executor creates it, and a cluster pod's status read as Argo
reads it (`assessNodeStatus`, `inferFailedReason`, `getPendingReason` in Argo's operator.go).

Pure: Pod dicts in, Pod dicts or verdicts out.

On a cluster nobody can bind /var/run/argo to a host folder, so `for_cluster` adds to the Pod
podspec.build made:
- a `wait` container (the helper image's busybox, as Argo's wait container) that stays until
  the executor has read /var/run/argo (exit codes, stdout, outputs) through the exec API and
  created /var/run/argo/collected; then it exits;
- when the step has input artifacts, an init container `inputs` (after `init`) that waits until
  the executor has unpacked them into the `input-artifacts` volume (exec + tar) and put the
  marker `.ready` there, so main starts with them in place;
- the label `tiphys.io/executor: kubernetes`, which selects the pods the executor watches.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tiphys.k8s import helper, podspec

LABEL_EXECUTOR = "tiphys.io/executor"
SELECTOR = f"{LABEL_EXECUTOR}=kubernetes"
WAIT = "wait"
INPUTS_GATE = "inputs"
INPUTS_DIR = "/inputs"
READY = ".ready"
COLLECTED = f"{helper.RUN_DIR}/collected"

_WAIT_SCRIPT = f"trap 'exit 0' TERM\nwhile [ ! -e {COLLECTED} ]; do sleep 0.3; done\n"
_GATE_SCRIPT = (f"trap 'exit 1' TERM\nwhile [ ! -e {INPUTS_DIR}/{READY} ]; do sleep 0.2; done\n"
                f"rm -f {INPUTS_DIR}/{READY}\n")


def for_cluster(pod: Mapping[str, Any]) -> dict[str, Any]:
    """The Pod to create (see the module docstring); `pod` is left as it is."""
    out = copy.deepcopy(dict(pod))
    meta = out.setdefault("metadata", {})
    meta.setdefault("labels", {})[LABEL_EXECUTOR] = "kubernetes"
    spec = out.setdefault("spec", {})
    inits = spec.get("initContainers") or []
    image = next((c.get("image") for c in inits if c.get("name") == "init"), None) or helper.HELPER_IMAGE
    run_mount = {"name": podspec.VAR_RUN, "mountPath": helper.RUN_DIR}
    wait = {"name": WAIT, "image": image, "command": ["/bin/busybox", "sh", "-c", _WAIT_SCRIPT],
            "volumeMounts": [run_mount]}
    spec["containers"] = [wait, *(spec.get("containers") or [])]
    if any(v.get("name") == podspec.INPUTS for v in spec.get("volumes") or []):
        gate = {"name": INPUTS_GATE, "image": image, "command": ["/bin/busybox", "sh", "-c", _GATE_SCRIPT],
                "volumeMounts": [{"name": podspec.INPUTS, "mountPath": INPUTS_DIR}]}
        at = next((i + 1 for i, c in enumerate(inits) if c.get("name") == "init"), 0)
        spec["initContainers"] = [*inits[:at], gate, *inits[at:]]
    return out


def mains(pod: Mapping[str, Any]) -> list[str]:
    """The pod's main containers (those the helper wraps; `main` for a container or script step)."""
    found = []
    for c in (pod.get("spec") or {}).get("containers") or []:
        env = {e.get("name"): e.get("value") for e in c.get("env") or []}
        if env.get("ARGO_INCLUDE_SCRIPT_OUTPUT") == "true":
            found.append(str(c.get("name")))
    return found or [podspec.MAIN]


def default_container(pod: Mapping[str, Any]) -> str:
    """The main container whose result is the step's (`main`; a containerSet without one: the
    container of `kubectl.kubernetes.io/default-container`); the others are in
    StepResult.containers."""
    names = mains(pod)
    said = (((pod.get("metadata") or {}).get("annotations") or {}).get(podspec.ANN_DEFAULT_CONTAINER))
    return podspec.MAIN if podspec.MAIN in names else said if said in names else names[-1]


def statuses(pod: Mapping[str, Any], init: bool = False) -> dict[str, dict[str, Any]]:
    status = pod.get("status") or {}
    listed = status.get("initContainerStatuses" if init else "containerStatuses") or []
    return {str(s.get("name")): s for s in listed}


def terminated(status: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return ((status or {}).get("state") or {}).get("terminated")


def running(status: Mapping[str, Any] | None) -> bool:
    return ((status or {}).get("state") or {}).get("running") is not None


def phase(pod: Mapping[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def mains_ended(pod: Mapping[str, Any], names: list[str]) -> bool:
    found = statuses(pod)
    return all(terminated(found.get(n)) is not None for n in names)


def pending_reason(pod: Mapping[str, Any]) -> str:
    """Why a Pending pod waits (a container's waiting reason, or the scheduler's), as Argo puts
    it in the node's message."""
    for s in (pod.get("status") or {}).get("containerStatuses") or []:
        waiting = (s.get("state") or {}).get("waiting")
        if waiting:
            reason, message = waiting.get("reason") or "", waiting.get("message") or ""
            return f"{reason}: {message}" if message else reason
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("reason") == "Unschedulable":
            return f"Unschedulable: {cond['message']}" if cond.get("message") else "Unschedulable"
    return ""


@dataclass(frozen=True)
class Verdict:
    """How a pod that ended ends its node: `error` (Error), `message` (Failed with the pod's own
    message: evicted, its deadline), else main's exit code and OOM decide as for any executor."""
    exit_code: int | None = None
    oom_killed: bool = False
    error: str | None = None
    message: str | None = None


def _said(name: str, t: Mapping[str, Any]) -> str:
    text = f"{t.get('reason') or 'Error'} (exit code {t.get('exitCode')})"
    if t.get("message"):
        text += f": {t['message']}"
    return f"{name}: {text}"


def verdict(pod: Mapping[str, Any], names: list[str]) -> Verdict:
    """The verdict on a pod whose main containers ended or that itself ended (see Verdict)."""
    found = statuses(pod)
    main = next((found[n] for n in names if n in found and (terminated(found[n]) or {}).get("exitCode")),
                found.get(names[0]))
    ended = terminated(main)
    code = int(ended["exitCode"]) if ended and ended.get("exitCode") is not None else None
    oom = bool(ended and ended.get("reason") == "OOMKilled")
    status = pod.get("status") or {}
    if phase(pod) == "Failed":
        if status.get("message"):      # evicted, its activeDeadlineSeconds, node lost: Failed with it
            return Verdict(exit_code=code, oom_killed=oom, message=str(status["message"]))
        inits = status.get("initContainerStatuses") or []
        for s in [*inits, *(status.get("containerStatuses") or [])]:
            waiting = (s.get("state") or {}).get("waiting")
            if waiting:
                return Verdict(error=f"Pod failed before {s.get('name')} container starts due to "
                                     f"{waiting.get('reason') or ''}: {waiting.get('message') or ''}")
            t = terminated(s)
            if s in inits and t and t.get("exitCode"):
                return Verdict(error=_said(str(s.get("name")), t))
        if ended is None:
            return Verdict(message="pod failed: main container did not complete successfully")
    if ended is not None:
        return Verdict(exit_code=code, oom_killed=oom)
    if phase(pod) == "Succeeded":
        return Verdict(exit_code=0)
    name = (pod.get("metadata") or {}).get("name")
    return Verdict(error=f"Unexpected pod phase for {name}: {phase(pod)}")
