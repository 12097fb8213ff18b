"""Packing an output artifact and unpacking an input one, as Argo's executor does.

Packing (`pack`): `tgz` (Argo's default) and `zip` hold the path under its base name (a file
`/tmp/data.json` is the entry `data.json`; a folder `/tmp/out` is `out/...`); `none` stores
the file as is. Unpacking (`unpack`) follows Argo's load: `none` keeps the file, `tar` untars
(gzip or not), `zip` unzips, and with no archive stated a gzip tarball is detected and untarred,
anything else kept. An archive is extracted next to the destination; a single top-level entry
becomes the destination, else the extracted folder does. Extraction never writes outside it
(tarfile's `data` filter; zip members are checked).
"""
from __future__ import annotations

import os
import shutil
import tarfile
import zipfile
from pathlib import Path
from typing import Any

from tiphys.errors import InfrastructureError

FORMATS = ("tgz", "zip", "none")


def strategy(archive: Any) -> str | None:
    """The archive strategy of an artifact's `archive` field: tgz, zip, none, or None (not stated)."""
    if not isinstance(archive, dict) or not archive:
        return None
    if "none" in archive:
        return "none"
    if "zip" in archive:
        return "zip"
    return "tgz"


def file_name(name: str, path: str, fmt: str) -> str:
    """The object's file name under the repository's key prefix, as Argo names it."""
    if fmt == "zip":
        return f"{name}.zip"
    if fmt == "none":
        return os.path.basename(path.rstrip("/")) or name
    return f"{name}.tgz"


def pack(source: Path, dest: Path, fmt: str, level: int = 6) -> None:
    """Write `source` (file or folder) to the file `dest` in format tgz or zip."""
    arcname = source.name
    if fmt == "zip":
        with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
            if source.is_dir():
                for root, _dirs, names in os.walk(source):
                    for n in sorted(names):
                        full = Path(root) / n
                        zf.write(full, os.path.join(arcname, os.path.relpath(full, source)))
            else:
                zf.write(source, arcname)
        return
    with tarfile.open(dest, "w:gz", compresslevel=level) as tar:
        tar.add(source, arcname=arcname)


def _is_gzip_tar(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            if f.read(2) != b"\x1f\x8b":
                return False
        with tarfile.open(path, "r:gz") as tar:
            return tar.next() is not None
    except (OSError, tarfile.TarError, EOFError):
        return False


def unpack(downloaded: Path, dest: Path, fmt: str | None) -> None:
    """Put the downloaded object at `dest` as Argo's executor does (see the module docstring)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if fmt is None:
        fmt = "tgz" if downloaded.is_file() and _is_gzip_tar(downloaded) else "none"
    if fmt == "none" or downloaded.is_dir():
        _replace(downloaded, dest)
        return
    work = dest.with_name(dest.name + ".tmpdir")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        if fmt == "zip":
            with zipfile.ZipFile(downloaded) as zf:
                root = work.resolve()
                for member in zf.namelist():
                    if not (root / member).resolve().is_relative_to(root):
                        raise InfrastructureError(f"zip entry {member!r} leaves the artifact")
                zf.extractall(work)
        else:
            with tarfile.open(downloaded, "r:*") as tar:
                tar.extractall(work, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise InfrastructureError(f"cannot unpack the artifact ({fmt}): {exc}") from exc
    entries = list(work.iterdir())
    if len(entries) == 1:
        _replace(entries[0], dest)
        work.rmdir()
    else:
        _replace(work, dest)


def _replace(src: Path, dest: Path) -> None:
    if dest.is_dir() and not dest.is_symlink():
        shutil.rmtree(dest)
    elif dest.exists() or dest.is_symlink():
        dest.unlink()
    shutil.move(str(src), str(dest))


def chmod(path: Path, mode: int | None, recurse: bool = False) -> None:
    """An input artifact's `mode` (applied after loading, recursively with `recurseMode`)."""
    if mode is None:
        return
    os.chmod(path, mode)
    if recurse and path.is_dir():
        for root, dirs, names in os.walk(path):
            for n in dirs + names:
                os.chmod(os.path.join(root, n), mode)
