"""The built Pod of a step (StepSpec.pod) made playable by `podman kube play` on this machine
(executor `pod`, see pod.py for what changes and why). Pure apart from creating the step's
host folders that the pod binds.
"""
from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from tiphys.executors.base import StepSpec
from tiphys.k8s import helper, podspec

RUN = "run"            # the step folder's /var/run/argo
STAGING = "staging"    # its /argo/staging (a script's source)
_CD = 'B=/var/run/argo/busybox; $B mkdir -p "$1" && cd "$1" || exit 64; shift; exec "$@"'
_KEEP_ENV = ("ARGO_", "TIPHYS_")       # the helper's environment, kept beside the StepSpec's


def images(pod: dict[str, Any]) -> list[str]:
    """Every image the pod runs."""
    spec = pod["spec"]
    return list(dict.fromkeys(str(c.get("image") or "") for c in [*spec.get("initContainers", []),
                                                                  *spec["containers"]]))


def localize(spec: StepSpec, name: str, workdir: Path,
             entrypoint: podspec.Entrypoint) -> dict[str, Any]:
    """The Pod of `spec` to play as `name`, its folders under `workdir` (created here).
    ValueError names a missing input or volume source."""
    pod = copy.deepcopy(dict(spec.pod)) if spec.pod is not None else of_spec(spec, entrypoint)
    pod["metadata"] = {k: v for k, v in pod["metadata"].items() if k in ("labels", "annotations")}
    pod["metadata"]["name"] = name
    pod["metadata"]["annotations"] = {k: v for k, v in (pod["metadata"].get("annotations") or {}).items()
                                      if len(str(v)) <= 63}   # podman 4 refuses longer values (Kubernetes does not)
    body = pod["spec"]
    containers = [*body.get("initContainers", []), *body["containers"]]
    main = next((c for c in body["containers"] if c.get("name") == podspec.MAIN), body["containers"][0])
    volumes = _volumes(spec, name, workdir, body, main, containers)
    body["volumes"] = volumes
    for c in containers:
        c["imagePullPolicy"] = "Never"
    for c in body["containers"]:
        _wrap(c, entrypoint)
    env = [e for e in main.get("env") or [] if str(e.get("name", "")).startswith(_KEEP_ENV)]
    main["env"] = env + [{"name": k, "value": v} for k, v in spec.env]
    if spec.attempts > 1 and not any(e.get("name") == "TIPHYS_RETRIES" for e in env):   # runs in place (helper.py)
        main["env"] += [{"name": "TIPHYS_RETRIES", "value": str(spec.attempts)},
                        {"name": "TIPHYS_RETRY_DELAY", "value": f"{spec.attempt_delay:g}" if spec.attempt_delay else ""}]
    main.pop("envFrom", None)
    return pod


def _wrap(c: dict[str, Any], entrypoint: podspec.Entrypoint) -> None:
    """Wrap a container the helper does not (a sidecar) so that signals reach its program, and
    create its workingDir first."""
    command = list(c.get("command") or [])
    if command[:1] != [helper.BUSYBOX]:    # as podspec wraps main: the command, else the image's
        found = podspec.command_of(c, entrypoint)
        if found is None:
            return
        command = helper.wrap(str(c.get("name")), found)
        c["env"] = [*(c.get("env") or []), {"name": "TIPHYS_OUTPUTS", "value": ""}]
    if c.get("workingDir"):
        command = [helper.BUSYBOX, "sh", "-c", _CD, "sh", str(c.pop("workingDir")), *command]
    c["command"] = command


def _volumes(spec: StepSpec, name: str, workdir: Path, body: dict[str, Any], main: dict[str, Any],
             containers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pod's volumes bound to this machine's folders (see pod.py)."""
    for item in spec.inputs:
        if not os.path.lexists(item.source):
            raise ValueError(f"input source {item.source} for {item.path} does not exist")
    run = workdir / RUN
    run.mkdir(parents=True, exist_ok=True)
    os.chmod(run, 0o777)
    hosts: dict[str, Path | None] = {podspec.VAR_RUN: run}
    if any(v.get("name") == podspec.STAGING for v in body.get("volumes") or []):
        (workdir / STAGING).mkdir(exist_ok=True)
        os.chmod(workdir / STAGING, 0o777)     # the init container may run as the pod's user
        hosts[podspec.STAGING] = workdir / STAGING
    by_path = {m.path: m for m in spec.mounts}
    for vm in main.get("volumeMounts") or []:      # where the runtime put main's volumes
        mount = by_path.get(str(vm.get("mountPath")))
        vol = str(vm.get("name"))
        if mount is None or vol in hosts or vol == podspec.INPUTS:
            continue
        if mount.source is None:
            hosts[vol] = None
            continue
        source = Path(mount.source).absolute()
        for _ in PurePosixPath(str(vm.get("subPath") or ".")).parts if vm.get("subPath") else ():
            source = source.parent
        if not source.exists():
            raise ValueError(f"volume source {source} for {vm.get('mountPath')} does not exist")
        hosts[vol] = source
    cwd = spec.working_dir or "/"
    placed = {str(PurePosixPath(cwd, item.path)): Path(item.source).absolute() for item in spec.inputs}
    out: list[dict[str, Any]] = []
    for vol in body.get("volumes") or []:
        vname = str(vol.get("name"))
        if vname == podspec.INPUTS:
            continue
        if hosts.get(vname) is not None:
            host = hosts[vname]
            out.append({"name": vname, "hostPath": {"path": str(host), "type": "Directory" if host.is_dir() else "File"}})  # type: ignore[union-attr]
        elif "hostPath" in vol:
            out.append(vol)
        else:   # a podman volume of this pod: named after it, as podman names the volume after it
            out.append({"name": vname, "emptyDir": dict(vol.get("emptyDir") or {})})
            _rename(containers, vname, f"{name}-{vname}")
            out[-1]["name"] = f"{name}-{vname}"
    for c in containers:
        mounts = []
        for vm in c.get("volumeMounts") or []:
            vname = str(vm.get("name"))
            if vname == podspec.INPUTS:
                source = placed.get(str(vm.get("mountPath")))
                if source is None:
                    continue            # an optional input that is not there
                mounts.append(_bind(out, c, vm, source))
            elif vm.get("subPath") and hosts.get(vname) is not None:
                source = hosts[vname] / str(vm["subPath"])    # type: ignore[operator]
                if not source.exists():
                    source.mkdir(parents=True, exist_ok=True)   # as a kubelet makes a missing subPath
                mounts.append(_bind(out, c, vm, source))
            else:
                mounts.append(vm)
        c["volumeMounts"] = mounts
    return out


def _bind(volumes: list[dict[str, Any]], c: dict[str, Any], vm: dict[str, Any], source: Path) -> dict[str, Any]:
    """A volume of its own for one file or folder bound at `vm`'s path."""
    vname = f"bind-{len(volumes)}"
    volumes.append({"name": vname, "hostPath": {"path": str(source),
                                                "type": "Directory" if source.is_dir() else "File"}})
    return {"name": vname, "mountPath": str(vm.get("mountPath")), **({"readOnly": True} if vm.get("readOnly") else {})}


def _rename(containers: list[dict[str, Any]], old: str, new: str) -> None:
    for c in containers:
        for vm in c.get("volumeMounts") or []:
            if vm.get("name") == old:
                vm["name"] = new


def of_spec(spec: StepSpec, entrypoint: podspec.Entrypoint) -> dict[str, Any]:
    """The Pod podspec.build makes of a template holding just what `spec` says, for a StepSpec
    handed to the executor without its Pod (the executor contract's steps, say)."""
    from tiphys.engine import actions as A
    body: dict[str, Any] = {"image": spec.image, "command": list(spec.command) or None, "args": list(spec.args) or None,
                            "workingDir": spec.working_dir, "tty": spec.tty or None,
                            "env": [{"name": k, "value": v} for k, v in spec.env] or None}
    limits = {k: v for k, v in (("memory", spec.memory_limit), ("cpu", _cores(spec.cpu_limit))) if v}
    requests = {k: v for k, v in (("memory", spec.memory_request), ("cpu", _cores(spec.cpu_request))) if v}
    if limits or requests:
        body["resources"] = {k: v for k, v in (("limits", limits), ("requests", requests)) if v}
    security = {k: v for k, v in (("runAsUser", spec.run_as_user), ("runAsGroup", spec.run_as_group)) if v is not None}
    if security:
        body["securityContext"] = security
    tmpl: dict[str, Any] = {"volumes": [{"name": f"v{i}", **({"hostPath": {"path": str(Path(m.source).absolute())}}
                                                              if m.source is not None else
                                                              {"emptyDir": {"medium": "Memory"}})}
                                        for i, m in enumerate(spec.mounts)]}
    body["volumeMounts"] = [{"name": f"v{i}", "mountPath": m.path, **({"readOnly": True} if m.read_only else {})}
                            for i, m in enumerate(spec.mounts)] or None
    body = {k: v for k, v in body.items() if v is not None}
    if spec.script is not None:
        tmpl["script"] = {**body, "source": spec.script}
    else:
        tmpl["container"] = body
    cwd = spec.working_dir or "/"
    action = A.StartPod(spec.key, _name(spec.key), tmpl,
                        inputs=tuple(A.InputArtifact(Path(i.source).name, str(PurePosixPath(cwd, i.path)), raw="")
                                     for i in spec.inputs),
                        parameter_paths=tuple((f"p{i}", p) for i, p in enumerate(spec.output_paths)))
    meta = {"name": spec.workflow or "tiphys", "namespace": "default"}
    return podspec.build(meta, {}, action, spec.key, entrypoint=entrypoint)


def _cores(n: float | None) -> str | None:
    return f"{int(round(n * 1000))}m" if n else None


def _name(key: str) -> str:
    import re
    return re.sub(r"[^a-z0-9-]+", "-", key.lower()).strip("-")[:63] or "step"
