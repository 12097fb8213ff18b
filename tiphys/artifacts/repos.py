"""`Repositories`: what the runtime saves output artifacts to and loads input artifacts from,
for one workflow. It holds the workflow's resolved repository (repository.py): an S3 one
(s3.py) or Tiphys' local one (local.py), and loads `http`/`git` inputs (fetch.py).

Outputs to S3 are keyed as Argo keys them: an artifact's own `s3.key` verbatim, else
`<keyFormat>/<file>` (keyFormat default `{{workflow.name}}/{{pod.name}}`, file `<name>.tgz`,
`<name>.zip`, or the path's base name with `archive: none`). The location recorded on the node
is the artifact as declared plus `s3: {key}` (bucket and credentials stay in the repository).
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tiphys.artifacts import archive, fetch
from tiphys.artifacts.local import LocalRepository, _inside
from tiphys.artifacts.s3 import S3, merge
from tiphys.errors import InfrastructureError, NotFoundError, SpecError

DEFAULT_KEY_FORMAT = "{{workflow.name}}/{{pod.name}}"
LOG_ARTIFACT = "main-logs"
SecretValue = Callable[[str, str], str]
_RECORD_SKIP = ("name", "path", "from", "fromExpression", "globalName")


def _no_secrets(name: str, key: str) -> str:
    raise SpecError(f"secret {name!r} is needed but no secrets are available here")


class Repositories:
    def __init__(self, home: Path, ref: dict[str, Any] | None, wf_meta: dict[str, Any],
                 secret: SecretValue = _no_secrets, spec: dict[str, Any] | None = None):
        self.local = LocalRepository(Path(home) / "artifacts")
        self.ref = ref
        self.repo: dict[str, Any] = (ref or {}).get("artifactRepository") or {}
        self.meta, self.secret, self.spec = wf_meta, secret, spec or {}
        kinds = [k for k in self.repo if k != "archiveLogs"]
        if kinds and kinds != ["s3"]:
            raise SpecError(f"artifact repository kind {kinds[0]!r} is not supported by Tiphys (use s3)")
        self._s3: dict[str, S3] = {}

    # -- which store --------------------------------------------------------------------------
    def s3_for(self, own: dict[str, Any] | None) -> S3 | None:
        cfg = merge(self.repo.get("s3"), own)
        if not cfg.get("bucket"):
            return None
        cache = repr(sorted((k, repr(v)) for k, v in cfg.items() if k != "key"))
        if cache not in self._s3:
            self._s3[cache] = S3(cfg, self.secret)
        return self._s3[cache]

    def key_format(self, pod_name: str, template: dict[str, Any]) -> str:
        """The repository's keyFormat for a pod, substituted as Argo does at pod build."""
        from tiphys.expr import template as tpl
        s3cfg = self.repo.get("s3") or {}
        fmt = str(s3cfg.get("keyFormat") or s3cfg.get("keyPrefix") or DEFAULT_KEY_FORMAT)
        meta = self.meta
        scope: dict[str, Any] = {"workflow.name": meta.get("name", ""), "workflow.namespace": meta.get("namespace", ""),
                                 "workflow.uid": meta.get("uid", ""), "pod.name": pod_name}
        created = meta.get("creationTimestamp")
        if created:
            scope["workflow.creationTimestamp"] = created
            try:
                when = dt.datetime.strptime(str(created), "%Y-%m-%dT%H:%M:%SZ")
                for letter in "YmdHMSyBbjaAUpZz":
                    scope[f"workflow.creationTimestamp.{letter}"] = when.strftime(f"%{letter}")
            except ValueError:
                pass
        for p in (template.get("inputs") or {}).get("parameters") or []:
            if isinstance(p, dict) and "name" in p and "value" in p:
                scope[f"inputs.parameters.{p['name']}"] = p["value"]
        for key, value in (meta.get("labels") or {}).items():
            scope[f"workflow.labels.{key}"] = value
        for key, value in (meta.get("annotations") or {}).items():
            scope[f"workflow.annotations.{key}"] = value
        key = tpl.render(fmt, scope, strict=("workflow.", "pod.", "inputs."))
        if "{{" in key:
            raise SpecError(f"artifact repository keyFormat {fmt!r}: cannot resolve {key!r}")
        return key.strip("/")

    # -- outputs ------------------------------------------------------------------------------
    def save_output(self, pod_name: str, template: dict[str, Any], declared: dict[str, Any], host: Path,
                    local_key: str, local_archive: str, exact: bool = False) -> dict[str, Any]:
        """Store one output artifact; returns the location fields to record on the node.
        `exact`: `local_key` is a key the template named (key-only), used as it is locally."""
        own = declared.get("s3") if isinstance(declared.get("s3"), dict) else {}
        store = self.s3_for(own)
        if store is None:
            return self.local.save(host, local_key, local_archive, exact=exact)
        fmt = archive.strategy(declared.get("archive")) or "tgz"
        key = str(own.get("key") or "").lstrip("/")
        if not key:
            key = f"{self.key_format(pod_name, template)}/{archive.file_name(declared['name'], declared['path'], fmt)}"
        if fmt == "none":
            if host.is_dir():
                store.put_tree(host, key)
            else:
                store.put_file(host, key)
        else:
            with tempfile.TemporaryDirectory(prefix="tiphys-art-") as tmp:
                packed = Path(tmp) / "packed"
                level = ((declared.get("archive") or {}).get("tar") or {}).get("compressionLevel")
                archive.pack(host, packed, fmt, 6 if level is None else int(level))
                store.put_file(packed, key)
        record = {k: v for k, v in declared.items() if k not in _RECORD_SKIP and k != "s3"}
        record["s3"] = {**{k: v for k, v in own.items() if k != "key"}, "key": key}
        return record

    def archive_logs(self, template: dict[str, Any]) -> bool:
        """Argo: a repository's archiveLogs cannot be turned off; else the template's
        archiveLocation.archiveLogs, else spec.archiveLogs."""
        if self.repo.get("archiveLogs"):
            return True
        own = (template.get("archiveLocation") or {}).get("archiveLogs")
        if own is not None:
            return bool(own)
        return bool(self.spec.get("archiveLogs"))

    def save_logs(self, pod_name: str, template: dict[str, Any], logs_file: Path, local_key: str) -> dict[str, Any]:
        """The step's combined log as artifact `main-logs` (`<keyFormat>/main.log`, never compressed)."""
        store = self.s3_for(None)
        if store is None:
            return self.local.save(logs_file, local_key, "none")
        key = f"{self.key_format(pod_name, template)}/main.log"
        store.put_file(logs_file, key)
        return {"s3": {"key": key}}

    # -- inputs -------------------------------------------------------------------------------
    def load(self, location: dict[str, Any], dest: Path, sub_path: str | None = None,
             mode: int | None = None, recurse_mode: bool = False) -> None:
        """Materialise an input artifact at `dest` (its `sub_path` only, when given)."""
        if "local" in location and self.s3_for(None) is not None:
            # a key-only input (repositories.py gives it as the default repository's key): with
            # an S3 repository, that key is in S3, as in Argo
            location = {**location, "s3": {"key": location["local"].get("key")}}
            location.pop("local")
        if "local" in location:
            self.local.load(location, dest, sub_path)
            archive.chmod(dest, mode, recurse_mode)
            return
        try:
            self._fetch(location, dest, sub_path)
        except NotFoundError:
            if location.get("optional"):
                return      # an optional input that does not exist: skipped, as in Argo
            raise
        archive.chmod(dest, mode, recurse_mode)

    def _fetch(self, location: dict[str, Any], dest: Path, sub_path: str | None) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".tiphys-in-", dir=dest.parent) as tmp:
            got = Path(tmp) / "download"
            fmt = archive.strategy(location.get("archive"))
            if isinstance(location.get("s3"), dict):
                store = self.s3_for(location["s3"])
                key = str(location["s3"].get("key") or "")
                if store is None:
                    raise SpecError(f"input artifact s3 key {key!r}: no S3 artifact repository is configured "
                                    "(spec.artifactRepositoryRef, an artifact-repositories ConfigMap, or "
                                    "artifactRepository in $TIPHYS_HOME/config.yaml)")
                if not key:
                    raise SpecError("an s3 input artifact needs a key")
                store.get(key, got)
            elif isinstance(location.get("http"), dict):
                fetch.http(location["http"], got, self.secret)
            elif isinstance(location.get("git"), dict):
                fetch.git(location["git"], got, self.secret)
                fmt = "none"
            else:
                kind = next((k for k in location if k not in ("archive", "optional", "mode")), "?")
                raise SpecError(f"{kind} artifacts are not supported by Tiphys")
            unpacked = Path(tmp) / "unpacked"
            archive.unpack(got, unpacked, fmt)
            src = _inside(unpacked, sub_path) if sub_path else unpacked
            if not src.exists():
                raise InfrastructureError(f"artifact sub-path {sub_path!r} does not exist")
            if dest.exists() and not dest.is_dir():
                dest.unlink()
            elif dest.is_dir():
                shutil.rmtree(dest)
            shutil.move(str(src), str(dest))

    def list_keys(self, prefix: str) -> list[str]:
        return self.local.list_keys(prefix)

    # -- garbage collection -------------------------------------------------------------------
    def delete(self, location: dict[str, Any]) -> None:
        if "local" in location:
            key = str(location["local"].get("key") or "")
            if key:
                target = (self.local.root / key)
                if target.is_file():
                    os.unlink(target)
                else:
                    shutil.rmtree(target, ignore_errors=True)
            return
        if isinstance(location.get("s3"), dict):
            store = self.s3_for(location["s3"])
            if store is not None and location["s3"].get("key"):
                store.delete(str(location["s3"]["key"]))
