"""Unpacking image layers (tar, gzip, zstd) into a root filesystem, whiteouts included.

Layers are applied in order onto one folder. A member never lands outside the root: `..`
is refused and symlinks met on the way are followed as the image would see them (absolute
targets re-rooted at the root). Whiteouts follow the OCI image spec: `.wh.NAME` removes NAME
of the lower layers, `.wh..wh..opq` empties its folder of whatever lower layers put there.
Owners are kept when running as root; device nodes are skipped (the sandbox brings /dev).
"""
from __future__ import annotations

import os
import posixpath
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from tiphys.errors import InfrastructureError

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
_GZIP, _ZSTD = b"\x1f\x8b", b"\x28\xb5\x2f\xfd"


class LayerError(InfrastructureError):
    """A layer cannot be unpacked (corrupt, unsupported compression, unsafe member)."""


@contextmanager
def _decompressed(path: Path) -> Iterator[IO[bytes]]:
    with open(path, "rb") as f:
        magic = f.read(4)
        f.seek(0)
        if not magic.startswith(_ZSTD):
            yield f
            return
        zstd = shutil.which("zstd")
        if zstd is None:
            raise LayerError(f"layer {path.name} is zstd-compressed and the zstd program is not "
                             "installed (apt-get install zstd)")
        proc = subprocess.Popen([zstd, "-dc"], stdin=f, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert proc.stdout is not None
            yield proc.stdout
        finally:
            proc.stdout.close()  # type: ignore[union-attr]
            proc.wait()


def _parts(name: str) -> list[str]:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise LayerError(f"layer member {name!r} climbs out of the root filesystem")
    return parts


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()


class _Root:
    def __init__(self, root: Path):
        self.root = root
        self.as_root = os.geteuid() == 0

    def parent(self, parts: list[str]) -> Path:
        """Host folder holding parts[-1], following symlinks inside the root; created if missing."""
        done: list[str] = []
        pending = list(parts[:-1])
        hops = 0
        while pending:
            part = pending.pop(0)
            if part == "..":
                if done:
                    done.pop()
                continue
            host = self.root.joinpath(*done, part)
            if host.is_symlink():
                hops += 1
                if hops > 40:
                    raise LayerError(f"too many symlinks under /{'/'.join(parts)}")
                target = os.readlink(host)
                if target.startswith("/"):
                    done = []
                pending = [p for p in target.split("/") if p not in ("", ".")] + pending
                continue
            if not host.exists():
                host.mkdir(mode=0o755)
            elif not host.is_dir():
                raise LayerError(f"/{'/'.join(parts)}: /{'/'.join(done + [part])} is not a folder")
            done.append(part)
        return self.root.joinpath(*done)

    def finish(self, target: Path, m: tarfile.TarInfo) -> None:
        if self.as_root:
            os.lchown(target, m.uid, m.gid)
        if not m.issym():
            os.chmod(target, m.mode & 0o7777)
        os.utime(target, (m.mtime, m.mtime), follow_symlinks=False)


def host_path(root: Path, path: str, *, follow: bool = False) -> Path:
    """Where `path`, as a process whose / is `root` sees it, lives on the host: the folders on
    the way are resolved inside the root (absolute symlinks re-rooted) and created when
    missing; with `follow` the last component is resolved (and created) as a folder too.
    Never a host path outside `root`, whatever symlinks the image holds."""
    parts = [p for p in posixpath.normpath("/" + path).split("/") if p]
    if not parts:
        return root
    r = _Root(root)
    return r.parent([*parts, "."]) if follow else r.parent(parts) / parts[-1]


def apply_layer(root: Path, layer: Path) -> None:
    """Apply the layer file `layer` (any compression) onto the root filesystem `root`."""
    r = _Root(root)
    written: set[tuple[str, ...]] = set()
    try:
        with _decompressed(layer) as stream, tarfile.open(fileobj=stream, mode="r|*") as tar:
            for m in tar:
                _apply_member(r, tar, m, written)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise LayerError(f"cannot unpack layer {layer.name}: {exc}") from exc


def _apply_member(r: _Root, tar: tarfile.TarFile, m: tarfile.TarInfo, written: set[tuple[str, ...]]) -> None:
    parts = _parts(m.name)
    if not parts:
        return
    base = parts[-1]
    if base.startswith(WHITEOUT):
        folder = r.parent(parts)
        if base == OPAQUE:
            for child in list(folder.iterdir()):
                if tuple(parts[:-1] + [child.name]) not in written:
                    _remove(child)
        else:
            _remove(folder / base[len(WHITEOUT):])
        return
    written.add(tuple(parts))
    target = r.parent(parts) / base
    if m.isdir():
        if target.is_symlink() or (os.path.lexists(target) and not target.is_dir()):
            target.unlink()
        target.mkdir(mode=0o755, exist_ok=True)
        r.finish(target, m)
        return
    if os.path.lexists(target):
        _remove(target)
    if m.isreg():
        src = tar.extractfile(m)
        assert src is not None
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
    elif m.issym():
        os.symlink(m.linkname, target)
    elif m.islnk():
        link_parts = _parts(m.linkname)
        source = r.parent(link_parts) / link_parts[-1] if link_parts else None
        if source is None or not os.path.lexists(source):
            raise LayerError(f"hard link {m.name} -> {m.linkname}: target missing")
        os.link(source, target, follow_symlinks=False)
        return
    elif m.isfifo():
        os.mkfifo(target)
    else:                      # character/block devices: the sandbox has its own /dev
        return
    r.finish(target, m)
