"""Importing an image archive into the store: `docker save` / `podman save` (docker-archive,
with its manifest.json) and OCI image layouts (`oci-layout` + index.json, e.g. `podman save
--format oci-archive` or `skopeo copy ... oci-archive:`). The archive may be gzip-compressed.
"""
from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

from tiphys.errors import SpecError
from tiphys.images import reference
from tiphys.images.store import Image, ImageStore

INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")
REF_NAME = "org.opencontainers.image.ref.name"


class ArchiveError(SpecError):
    """The file is not an image archive Tiphys can read."""


def _json(tar: tarfile.TarFile, name: str, file: str) -> Any:
    try:
        member = tar.getmember(name)
        f = tar.extractfile(member)
        if f is None:
            raise KeyError(name)
        return json.loads(f.read())
    except KeyError:
        raise ArchiveError(f"{name} is missing from the archive", file=file) from None
    except ValueError as exc:
        raise ArchiveError(f"{name} is not valid JSON: {exc}", file=file) from None


def _copy(store: ImageStore, tar: tarfile.TarFile, name: str, file: str, expected: str | None = None) -> str:
    try:
        f = tar.extractfile(tar.getmember(name))
    except KeyError:
        f = None
    if f is None:
        raise ArchiveError(f"{name} is missing from the archive", file=file)
    return store.put_blob(f, expected)


def import_archive(store: ImageStore, name: str, file: Path) -> Image:
    """Import the image of `file` into `store` under `name` (other tags in it are kept too)."""
    wanted = reference.parse(name)
    path = str(file)
    if not file.is_file():
        raise ArchiveError("no such file", file=path)
    try:
        tar = tarfile.open(file, "r:*")
    except (tarfile.TarError, OSError) as exc:
        raise ArchiveError(f"not a tar archive: {exc}", file=path) from None
    with tar:
        names = set(tar.getnames())
        names |= {n.removeprefix("./") for n in names}
        if "manifest.json" in names:
            return _docker_archive(store, tar, wanted, path)
        if "index.json" in names:
            return _oci_layout(store, tar, wanted, path)
    raise ArchiveError("neither a docker-archive (manifest.json) nor an OCI layout (index.json)", file=path)


def _member(tar: tarfile.TarFile, name: str) -> str:
    names = tar.getnames()
    return name if name in names else "./" + name


def _docker_archive(store: ImageStore, tar: tarfile.TarFile, wanted: reference.Reference, path: str) -> Image:
    entries = _json(tar, _member(tar, "manifest.json"), path)
    if not isinstance(entries, list) or not entries:
        raise ArchiveError("manifest.json lists no image", file=path)

    def tags(entry: dict) -> list[str]:
        return [reference.parse(t).name for t in entry.get("RepoTags") or []]

    chosen = [e for e in entries if wanted.name in tags(e)]
    if not chosen:
        if len(entries) > 1:
            listed = ", ".join(t for e in entries for t in e.get("RepoTags") or []) or "untagged images"
            raise ArchiveError(f"holds {len(entries)} images and none is tagged {wanted.short} "
                               f"(found: {listed})", file=path)
        chosen = entries
    entry = chosen[0]
    if not entry.get("Config") or not isinstance(entry.get("Layers"), list):
        raise ArchiveError("manifest.json entry lacks Config or Layers", file=path)
    config = _copy(store, tar, _member(tar, entry["Config"]), path)
    layers = [_copy(store, tar, _member(tar, layer), path) for layer in entry["Layers"]]
    return store.add([wanted.name, *tags(entry)], config, layers)


def _blob_name(digest: str) -> str:
    algo, _, hexpart = digest.partition(":")
    return f"blobs/{algo}/{hexpart}"


def _oci_layout(store: ImageStore, tar: tarfile.TarFile, wanted: reference.Reference, path: str) -> Image:
    index = _json(tar, _member(tar, "index.json"), path)
    candidates = list(index.get("manifests") or [])
    if not candidates:
        raise ArchiveError("index.json lists no manifest", file=path)
    named = [m for m in candidates if (m.get("annotations") or {}).get(REF_NAME) in
             (wanted.tag, wanted.name, wanted.short, f"{wanted.registry}/{wanted.repository}:{wanted.tag}")]
    if named:
        candidates = named
    elif len(candidates) > 1:
        found = ", ".join((m.get("annotations") or {}).get(REF_NAME, m.get("digest", "?")) for m in candidates)
        raise ArchiveError(f"holds {len(candidates)} manifests and none is named {wanted.short} "
                           f"(found: {found})", file=path)
    desc = candidates[0]
    for _ in range(4):                   # an index may point at a further index
        doc = _json(tar, _member(tar, _blob_name(desc["digest"])), path)
        if desc.get("mediaType") in INDEX_TYPES or doc.get("mediaType") in INDEX_TYPES or "manifests" in doc:
            from tiphys.images.registry import pick_platform
            desc = pick_platform(doc.get("manifests") or [], path)
            continue
        break
    else:
        raise ArchiveError("image indexes nested too deeply", file=path)
    config = doc.get("config") or {}
    layers = doc.get("layers")
    if not config.get("digest") or not isinstance(layers, list):
        raise ArchiveError(f"manifest {desc['digest']} lacks config or layers", file=path)
    cfg = _copy(store, tar, _member(tar, _blob_name(config["digest"])), path, config["digest"])
    digests = [_copy(store, tar, _member(tar, _blob_name(layer["digest"])), path, layer["digest"])
               for layer in layers]
    return store.add([wanted.name], cfg, digests, digest=desc["digest"])
