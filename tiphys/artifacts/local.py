"""The local artifact repository: output artifacts kept under TIPHYS_HOME/artifacts.

An artifact is stored either archived (`<key>.tgz`, tar+gzip, Argo's default) or as a
plain copy (`archive: none`). Inside an archive the content is always named `data`, so a
file and a folder unpack the same way. Unpacking uses tarfile's `data` filter: nothing is
ever written outside the target.
"""
from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from tiphys.errors import InfrastructureError

PLAIN_AT = 4   # <namespace>/<workflow>/<node>/<artifact>/data: where a plain artifact's content is


class LocalRepository:
    def __init__(self, root: Path):
        self.root = root

    def save(self, source: Path, key: str, archive: str, exact: bool = False) -> dict[str, Any]:
        """Store `source` (file or folder) under `key`; returns the artifact's location fields.
        `exact`: the key is one a template named (`s3: {key: ...}`), used as it is (an archive
        gets no `.tgz` added) and so found again by an input naming the same key."""
        if exact:
            _inside(self.root, key)
        try:
            if archive == "none":
                dest = self.root / key / "data"
                dest.parent.mkdir(parents=True, exist_ok=True)
                if dest.exists():
                    shutil.rmtree(dest) if dest.is_dir() else dest.unlink()
                _copy(source, dest)
                return {"local": {"key": key}, "archive": {"none": {}}}
            stored = key if exact else f"{key}.tgz"
            dest = self.root / stored
            if dest.is_dir():
                shutil.rmtree(dest)
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(dest.name + ".tmp")
            with tarfile.open(tmp, "w:gz", compresslevel=6) as tar:
                tar.add(source, arcname="data")
            os.replace(tmp, dest)
            return {"local": {"key": stored}}
        except OSError as exc:
            raise InfrastructureError(f"could not save artifact {key}: {exc}") from exc

    def load(self, location: dict[str, Any], dest: Path, sub_path: str | None = None) -> None:
        """Materialise a stored artifact at `dest` (optionally only its `sub_path`)."""
        key = (location.get("local") or {}).get("key")
        if not key:
            raise InfrastructureError(f"artifact has no local location: {location}")
        stored = _inside(self.root, key)
        if not stored.exists():
            raise InfrastructureError(f"artifact key {key!r} not found in the artifact repository")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=self.root) as tmp:
                if stored.is_file() and _is_gzip(stored):
                    with tarfile.open(stored, "r:gz") as tar:
                        tar.extractall(tmp, filter="data")
                    data = Path(tmp) / "data"
                else:   # stored plain: `<key>/data`, or a file put there by hand
                    data = stored / "data" if stored.is_dir() else stored
                src = _inside(data, sub_path) if sub_path else data
                if not src.exists():
                    raise InfrastructureError(f"artifact {key}: sub-path {sub_path!r} does not exist")
                dest.parent.mkdir(parents=True, exist_ok=True)
                _copy(src, dest)
        except (OSError, tarfile.TarError) as exc:
            raise InfrastructureError(f"could not load artifact {key}: {exc}") from exc

    def list_keys(self, prefix: str) -> list[str]:
        """The object keys under `prefix`, sorted, as an object store lists them: an archived
        artifact is one object (`<key>.tgz`); one stored plain (`<key>/data`) is its files,
        named `<key>` for a file and `<key>/<path>` for those of a folder. Keys are the
        runner's `<namespace>/<workflow>/<node>/<artifact>`, so `data` is their 5th part."""
        root = self.root.resolve()
        base = (root / prefix.lstrip("/")).resolve() if prefix else root
        if not base.is_relative_to(root):
            raise InfrastructureError(f"artifact key {prefix!r} leaves the artifact repository")
        if base.is_file():
            return [base.relative_to(root).as_posix()]
        found = []
        try:
            for path in base.rglob("*"):
                if not path.is_file() or path.suffix == ".tmp":
                    continue
                parts = path.relative_to(root).parts
                if len(parts) > PLAIN_AT and parts[PLAIN_AT] == "data":   # <key>/data[/...]: stored plain
                    parts = parts[:PLAIN_AT] + parts[PLAIN_AT + 1:]
                found.append("/".join(parts))
        except OSError as exc:
            raise InfrastructureError(f"could not list artifacts under {prefix!r}: {exc}") from exc
        return sorted(found)

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self.root / prefix, ignore_errors=True)


def _inside(base: Path, sub: str) -> Path:
    target = (base / sub.lstrip("/")).resolve()
    if not target.is_relative_to(base.resolve()):
        raise InfrastructureError(f"sub-path {sub!r} leaves the artifact")
    return target


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _copy(src: Path, dest: Path) -> None:
    if src.is_dir():
        shutil.copytree(src, dest, symlinks=True, dirs_exist_ok=True)
    else:
        shutil.copy2(src, dest)
