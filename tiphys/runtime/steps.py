"""Translating an engine `StartPod` into an executor `StepSpec`, and a finished step back
into a `PodExited` event (reading declared outputs, saving artifacts). The only place
where a pod's files are touched.

Secrets: `env[].valueFrom.secretKeyRef` and `envFrom[].secretRef` are resolved here, when
the step starts, from the workflow's namespace (`secret_lookup`); the template the engine
keeps (and the store saves) still holds the reference, never the value. A step given secret
values runs in a private folder under its workdir (so nobody follows its raw output live),
and every value is replaced by `***` in its logs, its `result` and its output parameters
before they leave this module. Artifacts are stored as the step wrote them.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from collections.abc import Mapping
from typing import Any

from tiphys.artifacts.repos import LOG_ARTIFACT, Repositories
from tiphys.engine import actions as A
from tiphys.engine.outputs import RESULT_LIMIT
from tiphys.errors import TiphysError
from tiphys.errors import SchemaError
from tiphys.executors.base import InputFile, Mount, StepResult, StepSpec
from tiphys.executors.podgc import PodGC
from tiphys.runtime import podsources, quantities


MASK = "***"
PRIVATE = "private"  # a step with secrets runs in workdir/private: no live log file where readers look
_masks: dict[Path, tuple[str, ...]] = {}  # the private folder of a running step -> values to mask


def secret_lookup(store: Any, home: Path, namespace: str) -> Any:
    """The secrets of `namespace` for build_spec; nothing is read or decrypted until a step
    refers to a secret."""
    from tiphys.secrets import SecretLookup, Vault
    return podsources.PodSources(SecretLookup(Vault(store, home), namespace), store, namespace)


def build_spec(action: A.StartPod, workdir: Path, repo: Repositories, secrets: Any = None, *,
               pod_labels: Mapping[str, str] | None = None, pod_gc: PodGC = PodGC(),
               workflow_uid: str = "") -> StepSpec:
    """`secrets` (a `tiphys.secrets.SecretLookup`) resolves secretKeyRef/secretRef; a
    missing secret or key raises SecretError (the step ends in Error), naming it.
    `workdir` is home/logs/<workflow>/<node>. `pod_labels` are the workflow's
    `podMetadata.labels` (the template's own `metadata.labels` win)."""
    tmpl = action.template
    labels = dict(pod_labels or {})
    own = (tmpl.get("metadata") or {}).get("labels")
    if isinstance(own, Mapping):
        labels.update({str(k): str(v) for k, v in own.items()})
    body = tmpl.get("container") or tmpl.get("script") or {}
    pod, in_volumes = _pod_fields(tmpl, body, workdir, secrets)
    env, hidden = _environment(body, secrets)
    hidden += in_volumes
    if hidden:
        workdir = workdir / PRIVATE
        workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(workdir, 0o700)
    limits = (body.get("resources") or {}).get("limits") or {}
    memory = int(quantities.parse(limits["memory"], "resources.limits.memory")) if limits.get("memory") else None
    cpu = quantities.parse(limits["cpu"], "resources.limits.cpu") if limits.get("cpu") else None
    workdir.mkdir(parents=True, exist_ok=True)
    placed = []
    for i, art in enumerate(action.inputs):
        host = workdir / "inputs" / f"{i}-{art.name}"
        if art.raw is not None:
            host.parent.mkdir(parents=True, exist_ok=True)
            host.write_text(art.raw)
        elif art.source is not None:
            repo.load(art.source, host, art.sub_path, art.mode)
            if not host.exists():   # an optional artifact that is not there
                continue
        else:
            continue
        placed.append(InputFile(host, art.path))
    paths = [p for _, p in action.parameter_paths] + [a.path for a in action.artifacts]
    if hidden:
        _masks[workdir.absolute()] = mask_list(hidden)
    return StepSpec(
        key=action.node_id, image=str(body.get("image", "")),
        command=tuple(_str(c) for c in body.get("command") or ()), args=tuple(_str(a) for a in body.get("args") or ()),
        env=env, working_dir=body.get("workingDir"), tty=bool(body.get("tty")), script=body.get("source") if "script" in tmpl else None,
        inputs=tuple(placed), output_paths=tuple(dict.fromkeys(paths)), memory_limit=memory, cpu_limit=cpu,
        workdir=workdir, labels=tuple(labels.items()), pod_gc=pod_gc, workflow_uid=workflow_uid, **pod)


def _pod_fields(tmpl: dict[str, Any], body: dict[str, Any], workdir: Path,
                sources: Any = None) -> tuple[dict[str, Any], list[str]]:
    """The optional pod fields of a StepSpec (honoured by the docker executor): volumeMounts
    resolved against the template's `volumes`, securityContext.runAsUser/runAsGroup (the
    container's over the template's), resources.requests, the workflow's name.

    Volumes as Kubernetes gives them to a pod: an emptyDir is a fresh folder of this step
    (`medium: Memory` a tmpfs), a hostPath the host's path, a persistentVolumeClaim one
    folder shared by every step of the workflow (workdir's parent is the workflow's folder), a
    configMap / secret volume a read-only folder of its keys (runtime/podsources.py). Also
    returns the secret values written to such folders."""
    hidden: list[str] = []
    volumes = {v.get("name"): v for v in tmpl.get("volumes") or [] if isinstance(v, dict)}
    mounts = []
    for i, vm in enumerate(body.get("volumeMounts") or []):
        where = f"volumeMounts[{i}]"
        name, path = vm.get("name"), vm.get("mountPath")
        vol = volumes.get(name)
        if not path:
            raise SchemaError("mountPath is required", path=where)
        if vol is None:
            raise SchemaError(f"no volume named {name!r} in the template's volumes", path=where)
        if "hostPath" in vol:
            source: Path | None = _host_path(vol["hostPath"] or {}, str(name), where)
        elif "emptyDir" in vol:
            source = None if (vol["emptyDir"] or {}).get("medium") == "Memory" else workdir / "volumes" / str(name)
        elif podsources.is_projected(vol):
            private = "secret" in vol and "configMap" not in vol
            base = workdir / PRIVATE if private else workdir
            if private:
                base.mkdir(parents=True, exist_ok=True)
                os.chmod(base, 0o700)
            source = base / "projected" / str(name)
            if not source.exists():
                hidden += podsources.materialize(vol, source, sources, f"volumes.{name}")
            mounts.append(Mount(str(path), source / str(vm["subPath"]) if vm.get("subPath") else source, True))
            continue
        elif "persistentVolumeClaim" in vol:
            claim = str((vol["persistentVolumeClaim"] or {}).get("claimName") or name)
            source = workdir.parent / "volumes" / claim
        else:
            raise SchemaError(f"volume {name!r}: only emptyDir, hostPath, persistentVolumeClaim, configMap "
                              "and secret are supported",
                              path=where)
        if source is not None and vm.get("subPath"):
            source = source / str(vm["subPath"])
        if source is not None and "hostPath" not in vol:
            source.mkdir(parents=True, exist_ok=True)
            if "emptyDir" in vol:
                source.chmod(0o777)         # as the kubelet makes an emptyDir: any user may write
        mounts.append(Mount(str(path), source, bool(vm.get("readOnly"))))
    security = {**(tmpl.get("securityContext") or {}), **(body.get("securityContext") or {})}
    requests = (body.get("resources") or {}).get("requests") or {}
    return dict(
        mounts=tuple(mounts), run_as_user=_int_or_none(security.get("runAsUser")),
        run_as_group=_int_or_none(security.get("runAsGroup")),
        memory_request=int(quantities.parse(requests["memory"], "resources.requests.memory"))
        if requests.get("memory") else None,
        cpu_request=quantities.parse(requests["cpu"], "resources.requests.cpu") if requests.get("cpu") else None,
        workflow=workdir.parent.name), hidden


def release_volumes(home: Path, wf: dict[str, Any], spec: dict[str, Any]) -> None:
    """At the workflow's end, delete the folders of its `volumeClaimTemplates` claims as Argo
    deletes those PVCs (`volumeClaimGC.strategy`): OnWorkflowSuccess, the default, only when
    it Succeeded (a Failed/Error workflow keeps them for a retry), OnWorkflowCompletion
    always. Kept folders go with the workflow's logs when the workflow is deleted. `spec` is
    the effective spec (a workflowTemplateRef's merged in)."""
    claims = [c for c in spec.get("volumeClaimTemplates") or [] if isinstance(c, dict)]
    if not claims:
        return
    strategy = (spec.get("volumeClaimGC") or {}).get("strategy") or "OnWorkflowSuccess"
    if strategy != "OnWorkflowCompletion" and (wf.get("status") or {}).get("phase") != "Succeeded":
        return
    name = wf["metadata"]["name"]
    folder = home / "logs" / name / "volumes"
    for claim in claims:
        claim_name = (claim.get("metadata") or {}).get("name")
        if claim_name:
            shutil.rmtree(folder / f"{name}-{claim_name}", ignore_errors=True)
    try:
        folder.rmdir()              # when nothing else (a claim not from the templates) is left
    except OSError:
        pass


def _host_path(host: dict[str, Any], name: str, where: str) -> Path:
    """A hostPath volume's folder or file, checked or created as its `type` says (Kubernetes:
    unset or DirectoryOrCreate makes a missing folder, FileOrCreate an empty file)."""
    path, kind = Path(str(host.get("path") or "")), str(host.get("type") or "")
    if not path.is_absolute():
        raise SchemaError(f"volume {name!r}: hostPath.path must be an absolute path, got {str(path)!r}", path=where)
    if kind in ("", "DirectoryOrCreate") and not path.exists():
        path.mkdir(parents=True, exist_ok=True)
    elif kind == "FileOrCreate" and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    elif kind == "Directory" and not path.is_dir():
        raise SchemaError(f"volume {name!r}: hostPath {path} is not a folder (type Directory)", path=where)
    elif kind == "File" and not path.is_file():
        raise SchemaError(f"volume {name!r}: hostPath {path} is not a file (type File)", path=where)
    return path


def _int_or_none(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SchemaError(f"expected an integer, got {value!r}", path="securityContext") from None


def collect(action: A.StartPod, result: StepResult, repo: Repositories, key_prefix: str,
            deadline_exceeded: bool, stdout: str, stderr: str = "") -> A.PodExited:
    """The event for a finished step; `stdout` (and `stderr`) is its log, already read (and
    masked) by read_logs; output parameters are masked here. Blocking (artifact uploads): the
    runner calls it in a worker thread."""
    masks = _masks_of(result)
    params: dict[str, str | None] = {}
    for name, path in action.parameter_paths:
        host = result.outputs.get(path)
        value = _read(host) if host is not None and host.is_file() else None
        params[name] = mask(value, masks) if value is not None and masks else value
    arts: dict[str, dict[str, Any] | None] = {}
    error = result.error
    for art in action.artifacts:
        host = result.outputs.get(art.path)
        if host is None or not host.exists():
            arts[art.name] = None
            continue
        if art.problem:   # it names a repository Tiphys cannot reach: Argo's upload would fail
            arts[art.name] = None
            error = error or f"failed to save outputs: {art.problem}"
            continue
        try:
            arts[art.name] = repo.save_output(action.pod_name, action.template,
                                              art.declared or {"name": art.name, "path": art.path}, host,
                                              art.key or f"{key_prefix}/{action.node_id}/{art.name}", art.archive,
                                              exact=bool(art.key))
        except TiphysError as exc:
            error = error or str(exc)
    if result.exit_code is not None and repo.archive_logs(action.template):
        try:
            arts[LOG_ARTIFACT] = _save_logs(action, repo, f"{key_prefix}/{action.node_id}/{LOG_ARTIFACT}",
                                            stdout + stderr, result)
        except TiphysError as exc:
            error = error or str(exc)
    return A.PodExited(node_id=action.node_id, exit_code=result.exit_code, stdout=stdout[-RESULT_LIMIT:],
                       parameters=params, artifacts=arts, oom_killed=result.oom_killed,
                       deadline_exceeded=deadline_exceeded, stopped=result.stopped and not deadline_exceeded,
                       error=error, pod_message=result.message)


def _save_logs(action: A.StartPod, repo: Repositories, key: str, text: str, result: StepResult) -> dict[str, Any]:
    log_file = result.stdout.parent / "main.log" if result.stdout is not None else None
    if log_file is None:
        raise TiphysError("the step's logs are not available to archive")
    log_file.write_text(text)
    return repo.save_logs(action.pod_name, action.template, log_file, key)


def read_logs(result: StepResult) -> tuple[str, str]:
    """stdout and stderr, with the step's secret values masked."""
    masks = _masks_of(result)
    return mask(_read(result.stdout) or "", masks), mask(_read(result.stderr) or "", masks)


def cleanup(workdir: Path) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
    _unmask(workdir)


def _unmask(workdir: Path) -> None:
    root = workdir.absolute()
    for key in [k for k in _masks if k == root or root in k.parents]:
        _masks.pop(key, None)


_cleaner: Any = None


def cleanup_later(workdir: Path) -> Any:
    """`cleanup` off the caller's thread (a sandboxed step's folder holds a root of some twenty
    mount points: removing it took a tenth of a 100-step chain's time on the event loop).
    Returns the concurrent Future of the removal."""
    global _cleaner
    if _cleaner is None:
        from concurrent.futures import ThreadPoolExecutor
        _cleaner = ThreadPoolExecutor(1, thread_name_prefix="tiphys-cleanup")
    _unmask(workdir)
    return _cleaner.submit(shutil.rmtree, workdir, True)


def mask(text: str, values: tuple[str, ...]) -> str:
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def mask_list(values: list[str]) -> tuple[str, ...]:
    """Values to mask, longest first (so a value containing another is masked whole); each
    line of a multi-line value too, as a log may show it one line at a time."""
    found = set()
    for value in values:
        if value:
            found.add(value)
            if "\n" in value:
                found.update(line for line in (x.strip() for x in value.splitlines()) if len(line) >= 4)
    return tuple(sorted(found, key=lambda v: (-len(v), v)))


def _masks_of(result: StepResult) -> tuple[str, ...]:
    if not _masks:      # no running step has a secret (the usual case): no path to walk and hash
        return ()
    path = Path(result.stdout).absolute()
    for folder in path.parents:
        if folder in _masks:
            return _masks[folder]
    return ()


def _environment(body: dict, secrets: Any) -> tuple[tuple[tuple[str, str], ...], list[str]]:
    """The step's environment (envFrom first, then env, as Kubernetes) and the secret values in it."""
    env: list[tuple[str, str]] = []
    hidden: list[str] = []
    for i, source in enumerate(body.get("envFrom") or []):
        if isinstance(source, dict) and isinstance(source.get("configMapRef"), dict):
            env += podsources.configmap_env(secrets, source, f"envFrom[{i}].configMapRef")
            continue
        ref = source.get("secretRef") if isinstance(source, dict) else None
        if not isinstance(ref, dict):
            continue
        name, optional = str(ref.get("name") or ""), bool(ref.get("optional"))
        data = _need(secrets, f"envFrom[{i}].secretRef").secret(name) if name else None
        if data is None:
            if optional:
                continue
            from tiphys.secrets import SecretError
            raise SecretError(f'secret "{name}" not found')
        prefix = str(source.get("prefix") or "")
        for key in sorted(data):
            env.append((prefix + key, data[key]))
            hidden.append(data[key])
    for i, e in enumerate(body.get("env") or []):
        if not isinstance(e, dict) or "name" not in e:
            continue
        from_map = (e.get("valueFrom") or {}).get("configMapKeyRef") if isinstance(e.get("valueFrom"), dict) else None
        if isinstance(from_map, dict):
            found = podsources.configmap_key(secrets, from_map, f"env[{i}].valueFrom.configMapKeyRef")
            if found is not None:
                env.append((str(e["name"]), found))
            continue
        ref = (e.get("valueFrom") or {}).get("secretKeyRef") if isinstance(e.get("valueFrom"), dict) else None
        if not isinstance(ref, dict):
            env.append((str(e["name"]), _str(e.get("value", ""))))
            continue
        value = _need(secrets, f"env[{i}].valueFrom.secretKeyRef").value(
            str(ref.get("name") or ""), str(ref.get("key") or ""), bool(ref.get("optional")))
        if value is not None:
            env.append((str(e["name"]), value))
            hidden.append(value)
    return tuple(env), hidden


def _need(secrets: Any, field: str) -> Any:
    if secrets is None:
        from tiphys.secrets import SecretError
        raise SecretError(f"{field}: secrets are not available to this run")
    return secrets


def _read(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(errors="replace")
    except OSError:
        return None


def _str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def setup_race(result: StepResult) -> bool:
    """Whether the step's sandbox failed to come up because a host mount changed while bwrap
    was binding it (the step itself never started)."""
    error = result.error or ""
    return error.startswith("sandbox setup failed") and any(
        what in error for what in ("Can't bind mount", "Unable to apply mount flags", "Can't remount"))
