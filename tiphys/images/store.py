"""The local image store: blobs by digest, one unpacked root filesystem per image, names.

Layout of a store folder:

    blobs/sha256/<hex>          config and layer blobs exactly as imported or pulled
    images/<id>/rootfs/         the unpacked root filesystem (read-only to steps)
    images/<id>/image.json      {id, config, layers, digest, size, created}
    refs.json                   {"docker.io/library/busybox:latest": "<id>", ...}
    .lock                       flock for every change

`<id>` is the hex sha256 of the image configuration (Docker's image id). An image is
unpacked into a temporary folder and renamed into place, so a half-unpacked root is never
seen. Where stores live (`locations`):

- the *user store* `$TIPHYS_IMAGES`, default `$TIPHYS_HOME/images` (default ~/.tiphys/images):
  `tiphys image import/pull` write here;
- the *system store* `$TIPHYS_SYSTEM_IMAGES`, default `/var/lib/tiphys/images`: shared by every
  TIPHYS_HOME (the setup scripts import the test images there); read-only to lookups.

A lookup tries the user store, then the system store.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tiphys.errors import InfrastructureError, NotFoundError
from tiphys.images import reference
from tiphys.images.config import ImageConfig
from tiphys.images.layers import apply_layer

SYSTEM_STORE = Path("/var/lib/tiphys/images")


def user_store_path(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    if env.get("TIPHYS_IMAGES"):
        return Path(env["TIPHYS_IMAGES"]).expanduser()
    home = Path(env.get("TIPHYS_HOME") or Path.home() / ".tiphys").expanduser()
    return home / "images"


def system_store_path(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    return Path(env.get("TIPHYS_SYSTEM_IMAGES") or SYSTEM_STORE)


def locations(env: dict[str, str] | None = None) -> list[Path]:
    """The stores a lookup searches, user store first (duplicates removed)."""
    found: list[Path] = []
    for p in (user_store_path(env), system_store_path(env)):
        if p not in found:
            found.append(p)
    return found


@dataclass(frozen=True)
class Image:
    id: str
    names: tuple[str, ...]
    rootfs: Path
    config: ImageConfig
    digest: str | None          # manifest digest when pulled from a registry
    size: int                   # bytes of the layer blobs
    created: str                # when it entered the store
    store: Path


class ImageStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    # -- paths

    def blob_path(self, digest: str) -> Path:
        algo, _, hexpart = digest.partition(":")
        if algo != "sha256" or len(hexpart) != 64:
            raise InfrastructureError(f"unsupported digest {digest!r} (only sha256)")
        return self.root / "blobs" / "sha256" / hexpart

    def _refs_file(self) -> Path:
        return self.root / "refs.json"

    def _refs(self) -> dict[str, str]:
        try:
            return json.loads(self._refs_file().read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise InfrastructureError(f"image store {self.root}: cannot read refs.json: {exc}") from exc

    def _write_refs(self, refs: dict[str, str]) -> None:
        tmp = self._refs_file().with_suffix(".tmp")
        tmp.write_text(json.dumps(refs, indent=1, sort_keys=True))
        os.replace(tmp, self._refs_file())

    @contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise InfrastructureError(f"cannot open image store {self.root}: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # -- blobs

    def put_blob(self, stream: IO[bytes], expected: str | None = None, *, limit: int | None = None) -> str:
        """Copy `stream` into the blob folder; its digest (checked against `expected`)."""
        blobs = self.root / "blobs" / "sha256"
        blobs.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(dir=blobs, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(1 << 20):
                    h.update(chunk)
                    out.write(chunk)
            digest = "sha256:" + h.hexdigest()
            if expected is not None and digest != expected:
                raise InfrastructureError(f"blob digest mismatch: expected {expected}, got {digest}")
            os.replace(tmp, self.blob_path(digest))
            return digest
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).exists()

    # -- images

    def add(self, names: Iterable[str], config_digest: str, layers: list[str], *,
            digest: str | None = None) -> Image:
        """Register an image whose blobs are already in the store; unpack it once."""
        config_bytes = self.blob_path(config_digest).read_bytes()
        try:
            config_doc = json.loads(config_bytes)
        except ValueError as exc:
            raise InfrastructureError(f"image config {config_digest} is not JSON: {exc}") from exc
        image_id = config_digest.split(":", 1)[1]
        final = self.root / "images" / image_id
        if not (final / "image.json").exists():
            self._unpack(final, config_doc, config_digest, layers, digest)
        with self._locked():
            refs = self._refs()
            replaced = set()
            for name in names:
                key = reference.parse(name).name
                if refs.get(key, image_id) != image_id:
                    replaced.add(refs[key])
                refs[key] = image_id
            self._write_refs(refs)
            for old in replaced - set(refs.values()):   # a name moved on: its old image is unnamed
                self._delete_image(old, refs)
        img = self._load(image_id)
        assert img is not None
        return img

    def _unpack(self, final: Path, config_doc: dict[str, Any], config_digest: str, layers: list[str],
                digest: str | None) -> None:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=".unpack-"))
        try:
            rootfs = tmp / "rootfs"
            rootfs.mkdir()
            os.chmod(rootfs, 0o755)
            for layer in layers:
                apply_layer(rootfs, self.blob_path(layer))
            os.chmod(tmp, 0o755)
            meta = {"id": final.name, "config": config_digest, "layers": layers, "digest": digest,
                    "size": sum(self.blob_path(d).stat().st_size for d in layers),
                    "created": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "image": config_doc}
            (tmp / "image.json").write_text(json.dumps(meta))
            with self._locked():
                if (final / "image.json").exists():
                    return
                if final.exists():
                    shutil.rmtree(final)
                os.rename(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def _load(self, image_id: str, names: tuple[str, ...] | None = None) -> Image | None:
        folder = self.root / "images" / image_id
        try:
            meta = json.loads((folder / "image.json").read_text())
        except (OSError, ValueError):
            return None
        if names is None:
            names = tuple(sorted(n for n, i in self._refs().items() if i == image_id))
        return Image(id=image_id, names=names, rootfs=folder / "rootfs",
                     config=ImageConfig.from_json(meta.get("image") or {}), digest=meta.get("digest"),
                     size=int(meta.get("size") or 0), created=str(meta.get("created") or ""), store=self.root)

    def lookup(self, image: str) -> Image | None:
        """The image `image` names (by name:tag, or by manifest digest when pinned), or None."""
        ref = reference.parse(image)
        refs = self._refs()
        if ref.tag is not None and ref.name in refs:
            found = self._load(refs[ref.name])
            if found is not None and (ref.digest is None or found.digest in (None, ref.digest)):
                return found
        if ref.digest is not None:
            for image_id in sorted(set(refs.values())):
                found = self._load(image_id)
                if found is not None and found.digest == ref.digest:
                    return found
        return None

    def images(self) -> list[Image]:
        by_id: dict[str, list[str]] = {}
        for name, image_id in self._refs().items():
            by_id.setdefault(image_id, []).append(name)
        found = [self._load(i, tuple(sorted(n))) for i, n in by_id.items()]
        return sorted((i for i in found if i is not None), key=lambda i: i.names)

    def remove(self, image: str) -> list[str]:
        """Forget the name `image`; delete the image and its blobs when nothing names them."""
        ref = reference.parse(image)
        with self._locked():
            refs = self._refs()
            if ref.name not in refs:
                raise NotFoundError(f"image {image!r} is not in the image store {self.root}")
            image_id = refs.pop(ref.name)
            self._write_refs(refs)
            removed = [ref.name]
            if image_id not in refs.values():
                self._delete_image(image_id, refs)
        return removed

    def prune(self) -> list[str]:
        """Delete every image no name points at (and its unused blobs); their ids."""
        with self._locked():
            refs = self._refs()
            folder = self.root / "images"
            unnamed = [p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")
                       and p.name not in refs.values()] if folder.is_dir() else []
            for image_id in unnamed:
                self._delete_image(image_id, refs)
        return unnamed

    def _delete_image(self, image_id: str, refs: dict[str, str]) -> None:
        folder = self.root / "images" / image_id
        try:
            meta = json.loads((folder / "image.json").read_text())
        except (OSError, ValueError):
            meta = {}
        # rename first: a step starting now either sees the whole image or none of it
        trash = folder.with_name(f".removing-{image_id}-{os.getpid()}")
        if folder.exists():
            os.rename(folder, trash)
            shutil.rmtree(trash, ignore_errors=True)
        still = set()
        for other in set(refs.values()):
            try:
                m = json.loads((self.root / "images" / other / "image.json").read_text())
            except (OSError, ValueError):
                continue
            still.update([m.get("config"), *(m.get("layers") or [])])
        for digest in [meta.get("config"), *(meta.get("layers") or [])]:
            if digest and digest not in still:
                try:
                    self.blob_path(digest).unlink()
                except (FileNotFoundError, InfrastructureError):
                    pass


def find(image: str, env: dict[str, str] | None = None) -> Image | None:
    """`image` from the first store (user, then system) that has it."""
    for root in locations(env):
        if (root / "refs.json").exists():
            found = ImageStore(root).lookup(image)
            if found is not None:
                return found
    return None
