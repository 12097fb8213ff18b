"""The Kubernetes Pod of a step, built as Argo's controller builds it (`workflowpod.go`;
ARGO-REFERENCE-2.md §6), with Tiphys' helper (helper.py) in place of Argo's emissary.

Pure: a Workflow's metadata and effective spec, the engine's StartPod (its template already
substituted, with the workflow's volumes and securityContext) and the node's name in, a Pod
object (plain dicts) out. `tiphys pods` prints these; the `pod` executor plays them with
`podman kube play`; the `kubernetes` executor creates them in a cluster.

What comes from where, as in Argo:
- name: the StartPod's (POD_NAMES v2); labels `workflows.argoproj.io/workflow`,
  `completed: "false"`, `on-exit` for exit handlers, then `spec.podMetadata`, then the
  template's `metadata` (the template wins); annotations node-name, node-id,
  `kubectl.kubernetes.io/default-container`, `pod-gc-strategy`;
- serviceAccountName, schedulerName, priorityClassName (`spec.podPriorityClassName`),
  nodeSelector, affinity, tolerations: the template's, else the workflow's, whole values;
  hostAliases concatenated; dnsPolicy, dnsConfig, hostNetwork, imagePullSecrets the workflow's;
- activeDeadlineSeconds: the template's, tightened by its `timeout`;
- `podSpecPatch`: the workflow's then the template's, merged as Kubernetes' strategic merge
  (merge.py), after the containers are built and before they are wrapped by the helper.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from tiphys.engine import actions as A
from tiphys.engine import containerset
from tiphys.errors import SpecError
from tiphys.k8s import helper
from tiphys.k8s.merge import strategic_merge

LABEL_WORKFLOW = "workflows.argoproj.io/workflow"
LABEL_COMPLETED = "workflows.argoproj.io/completed"
LABEL_ON_EXIT = "workflows.argoproj.io/on-exit"
ANN_NODE_NAME = "workflows.argoproj.io/node-name"
ANN_NODE_ID = "workflows.argoproj.io/node-id"
ANN_DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"
ANN_POD_GC = "workflows.argoproj.io/pod-gc-strategy"
VAR_RUN = "var-run-argo"
STAGING = "argo-staging"
INPUTS = "input-artifacts"
MAIN = "main"
NO_DEADLINE = "0001-01-01T00:00:00Z"
# what a template's container/script holds that is not a Kubernetes Container field
_NOT_CONTAINER = ("source", "mirrorVolumeMounts", "dependencies")

# an image's (ENTRYPOINT, CMD); None: unknown
Entrypoint = Callable[[str], "tuple[list[str], list[str]] | None"]


def is_pod(action: A.StartPod) -> bool:
    """Whether Argo runs this step as a pod of its own that Tiphys builds here (http and data
    steps run in the agent, resource steps in Tiphys' controller against its own store)."""
    t = action.template
    return any(k in t for k in ("container", "script", "containerSet"))


def build(meta: Mapping[str, Any], spec: Mapping[str, Any], action: A.StartPod, node_name: str, *,
          entrypoint: Entrypoint | None = None, helper_image: str = helper.HELPER_IMAGE) -> dict[str, Any]:
    """The Pod of `action` (see the module docstring). `entrypoint(image)` gives an image's
    (ENTRYPOINT, CMD) for a container without `command` (None: unknown, left unwrapped)."""
    tmpl = action.template
    wf_name = str(meta.get("name") or "")
    pod_spec: dict[str, Any] = {"restartPolicy": "Never"}
    _scheduling(pod_spec, tmpl, spec)
    if action.deadline is not None:
        pod_spec["activeDeadlineSeconds"] = max(1, math.ceil(action.deadline))
    volumes = [dict(v) for v in tmpl.get("volumes") or [] if isinstance(v, dict)]
    main_names, containers = _containers(tmpl, action)
    sidecars = [_container(s, tmpl, containers[0] if containers else None) for s in tmpl.get("sidecars") or []]
    inits = [_container(c, tmpl, containers[0] if containers else None) for c in tmpl.get("initContainers") or []]
    pod_spec["containers"] = containers + sidecars
    if inits:
        pod_spec["initContainers"] = inits
    if volumes:
        pod_spec["volumes"] = volumes
    pod_spec = _patched(pod_spec, spec.get("podSpecPatch"), "spec.podSpecPatch", action.pod_name, meta)
    pod_spec = _patched(pod_spec, tmpl.get("podSpecPatch"), "podSpecPatch", action.pod_name, meta)
    _instrument(pod_spec, tmpl, action, main_names, wf_name, entrypoint, helper_image)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": _metadata(meta, spec, tmpl, action, node_name, main_names),
           "spec": pod_spec}
    return json.loads(json.dumps(pod))     # no object shared between its parts (nor with the template)


def _metadata(meta: Mapping[str, Any], spec: Mapping[str, Any], tmpl: dict[str, Any], action: A.StartPod,
              node_name: str, main_names: list[str]) -> dict[str, Any]:
    wf_name = str(meta.get("name") or "")
    labels = {LABEL_WORKFLOW: wf_name, LABEL_COMPLETED: "false"}
    if ".onExit" in node_name or ".hooks." in node_name:
        labels[LABEL_ON_EXIT] = "true"
    default = MAIN if MAIN in main_names or not main_names else main_names[-1]
    annotations = {ANN_NODE_NAME: node_name, ANN_NODE_ID: action.node_id, ANN_DEFAULT_CONTAINER: default}
    gc = spec.get("podGC") or {}
    if isinstance(gc, dict) and gc.get("strategy"):
        annotations[ANN_POD_GC] = f"{gc['strategy']}/{gc.get('deleteDelayDuration') or '0s'}"
    for source in (spec.get("podMetadata"), tmpl.get("metadata")):
        if isinstance(source, dict):
            labels.update({str(k): str(v) for k, v in (source.get("labels") or {}).items()})
            annotations.update({str(k): str(v) for k, v in (source.get("annotations") or {}).items()})
    out: dict[str, Any] = {"name": action.pod_name, "namespace": str(meta.get("namespace") or "default"),
                           "labels": labels, "annotations": annotations}
    if meta.get("uid"):
        out["ownerReferences"] = [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "name": wf_name,
                                   "uid": str(meta["uid"]), "controller": True, "blockOwnerDeletion": True}]
    return out


def _scheduling(pod: dict[str, Any], tmpl: dict[str, Any], spec: Mapping[str, Any]) -> None:
    for key in ("serviceAccountName", "schedulerName", "nodeSelector", "affinity", "tolerations",
                "securityContext", "priorityClassName"):
        value = tmpl.get(key)
        if value in (None, "", [], {}):
            value = spec.get("podPriorityClassName" if key == "priorityClassName" else key)
        if value not in (None, "", [], {}):
            pod[key] = value
    if tmpl.get("automountServiceAccountToken") is False or spec.get("automountServiceAccountToken") is False:
        pod["automountServiceAccountToken"] = False
    aliases = [*(spec.get("hostAliases") or []), *(tmpl.get("hostAliases") or [])]
    if aliases:
        pod["hostAliases"] = aliases
    for key in ("dnsPolicy", "dnsConfig", "hostNetwork", "imagePullSecrets"):
        if spec.get(key) not in (None, "", [], {}):
            pod[key] = spec[key]


def _containers(tmpl: dict[str, Any], action: A.StartPod) -> tuple[list[str], list[dict[str, Any]]]:
    if "containerSet" in tmpl:
        cs = tmpl["containerSet"] or {}
        shared = [m for m in cs.get("volumeMounts") or [] if isinstance(m, dict)]   # every container's
        found = [_container({**c, "volumeMounts": [*(c.get("volumeMounts") or []), *shared] or None}, tmpl, None)
                 for c in cs.get("containers") or []]
        return [c["name"] for c in found], found
    body = dict(tmpl.get("container") or tmpl.get("script") or {})
    body["name"] = MAIN
    main = _container(body, tmpl, None)
    if "script" in tmpl and body.get("source") is not None:   # (no source: no script, as the executors run it)
        main["args"] = [*(main.get("args") or []), helper.SCRIPT]    # as Argo: the script's path ends the args
    return [MAIN], [main]


def _container(body: Mapping[str, Any], tmpl: dict[str, Any], main: dict[str, Any] | None) -> dict[str, Any]:
    out = {"name": body.get("name"), **{k: v for k, v in body.items() if k not in _NOT_CONTAINER and v is not None}}
    out["command"] = [_text(c) for c in out.get("command") or []] or None
    out["args"] = [_text(a) for a in out.get("args") or []] or None
    out["env"] = [_env(e) for e in out.get("env") or [] if isinstance(e, dict)] or None
    if body.get("mirrorVolumeMounts") and main is not None:
        own = {m.get("mountPath") for m in out.get("volumeMounts") or []}
        out["volumeMounts"] = [*(out.get("volumeMounts") or []),
                               *(m for m in main.get("volumeMounts") or [] if m.get("mountPath") not in own)] or None
    return {k: v for k, v in out.items() if v is not None}


def _env(e: dict[str, Any]) -> dict[str, Any]:
    if "value" in e:
        return {**e, "value": _text(e["value"])}
    return dict(e)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def _patched(pod: dict[str, Any], patch: Any, field: str, pod_name: str, meta: Mapping[str, Any]) -> dict[str, Any]:
    if patch in (None, ""):
        return pod
    if isinstance(patch, str):
        text = patch.replace("{{pod.name}}", pod_name).replace("{{workflow.name}}", str(meta.get("name") or ""))
        try:
            patch = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SpecError(f"{field}: invalid podSpecPatch: not YAML or JSON: {exc}", path=field) from None
    if not isinstance(patch, dict):
        raise SpecError(f"{field}: invalid podSpecPatch: must be a PodSpec (a map), got {type(patch).__name__}",
                        path=field)
    return strategic_merge(pod, patch)


def _instrument(pod: dict[str, Any], tmpl: dict[str, Any], action: A.StartPod, main_names: list[str],
                wf_name: str, entrypoint: Entrypoint | None, helper_image: str) -> None:
    """Give the pod the helper: the init container, the shared folders, each main container's
    command wrapped, and the ARGO_* environment Argo gives every container."""
    outputs = "".join(f"{i} {p}\n" for i, p in enumerate(output_paths(action)))
    run_mount = {"name": VAR_RUN, "mountPath": helper.RUN_DIR}
    staging = {"name": STAGING, "mountPath": helper.STAGING}
    volumes = pod.setdefault("volumes", [])
    volumes += [{"name": VAR_RUN, "emptyDir": {}}]
    script = "script" in tmpl
    if script:
        volumes.append({"name": STAGING, "emptyDir": {}})
    if action.inputs:
        volumes.append({"name": INPUTS, "emptyDir": {}})
    deadline = NO_DEADLINE
    sets = _set_order(tmpl)
    for c in pod["containers"]:
        name = c.get("name", "")
        env = [{"name": "ARGO_CONTAINER_NAME", "value": name}, {"name": "ARGO_NODE_ID", "value": action.node_id},
               {"name": "ARGO_WORKFLOW_NAME", "value": wf_name},
               {"name": "ARGO_INCLUDE_SCRIPT_OUTPUT", "value": "true" if name in main_names else "false"},
               {"name": "ARGO_DEADLINE", "value": deadline}]
        c["volumeMounts"] = [*(c.get("volumeMounts") or []), run_mount]
        if name in main_names:
            if script:
                c["volumeMounts"].append(staging)
            c["volumeMounts"] += [{"name": INPUTS, "mountPath": art.path, "subPath": input_key(i, art)}
                                  for i, art in enumerate(action.inputs)]
            command = command_of(c, entrypoint)
            if command is not None:
                c["command"] = helper.wrap(name, command)
                # a containerSet's outputs are its `main`'s
                env.append({"name": "TIPHYS_OUTPUTS", "value": outputs if name == MAIN or not sets else ""})
                env += _set_env(sets, name)
        c["env"] = env + (c.get("env") or [])
    init_env = [{"name": "TIPHYS_WRAPPER", "value": helper.WRAPPER}]
    if script:
        init_env.append({"name": "TIPHYS_SCRIPT", "value": str((tmpl.get("script") or {}).get("source") or "")})
    init = {"name": "init", "image": helper_image, "command": ["/bin/busybox", "sh", "-c", helper.INIT],
            "env": [{"name": "ARGO_CONTAINER_NAME", "value": "init"}, *init_env],
            "volumeMounts": [run_mount, *([staging] if script else [])]}
    pod["initContainers"] = [init, *(pod.get("initContainers") or [])]
    for c in pod["initContainers"][1:]:
        c["volumeMounts"] = [*(c.get("volumeMounts") or []), run_mount]


def _set_order(tmpl: dict[str, Any]) -> dict[str, Any]:
    """A containerSet's dependencies by container, and its retries ({} for other templates)."""
    if "containerSet" not in tmpl:
        return {}
    runs, delay = containerset.attempts(tmpl["containerSet"] or {})
    return {"deps": containerset.graph(tmpl), "runs": runs, "delay": delay}


def _set_env(sets: dict[str, Any], name: str) -> list[dict[str, str]]:
    """What the helper needs to run container `name` of a containerSet as Argo's emissary does
    (helper.py): the containers it waits for, its runs and the pause between them."""
    if not sets:
        return []
    env = [{"name": "TIPHYS_DEPENDENCIES", "value": " ".join(sets["deps"].get(name) or [])}]
    if sets["runs"] > 1:
        env += [{"name": "TIPHYS_RETRIES", "value": str(sets["runs"])},
                {"name": "TIPHYS_RETRY_DELAY", "value": f"{sets['delay']:g}" if sets["delay"] else ""}]
    return env


def command_of(c: dict[str, Any], entrypoint: Entrypoint | None) -> list[str] | None:
    """The command to wrap of container `c`, as Kubernetes runs it: its `command`, else the
    image's ENTRYPOINT, `args` (set here to the image's CMD when it has none and no
    `command`) following it; None when that cannot be known."""
    if c.get("command"):
        return list(c["command"])
    found = entrypoint(str(c.get("image") or "")) if entrypoint else None
    if found is None:
        return None
    if not c.get("args") and found[1]:
        c["args"] = list(found[1])
    return list(found[0])


def output_paths(action: A.StartPod) -> list[str]:
    """The paths the helper copies out after main, by index (outputs/INDEX)."""
    return list(dict.fromkeys([p for _, p in action.parameter_paths] + [a.path for a in action.artifacts]))


def input_key(index: int, art: A.InputArtifact) -> str:
    """Where input artifact `index` is placed in the `input-artifacts` volume."""
    return f"{index}-{art.name}"
