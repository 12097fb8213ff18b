"""Writing small image archives from folders: the test images of the suite, and a fallback
busybox image built from the host's busybox-static (no registry, no container engine).

`docker_archive` writes what `docker save` writes (manifest.json, config, one tar per layer);
`oci_archive` an OCI image layout (oci-layout, index.json, blobs/sha256, gzip layers).
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

BUSYBOX = "/bin/busybox"


def busybox_rootfs(dest: Path, busybox: str = BUSYBOX) -> Path:
    """A minimal root filesystem: the static busybox, its applets as symlinks, /etc/passwd."""
    for d in ("bin", "etc", "tmp", "root", "home/user", "usr/bin", "var"):
        (dest / d).mkdir(parents=True, exist_ok=True)
    os.chmod(dest / "tmp", 0o1777)
    shutil.copy2(busybox, dest / "bin" / "busybox")
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        link = dest / "bin" / applet
        if applet != "busybox" and not os.path.lexists(link):
            os.symlink("busybox", link)
    (dest / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                         "user:x:1000:1000:user:/home/user:/bin/sh\n")
    (dest / "etc" / "group").write_text("root:x:0:\nuser:x:1000:\n")
    if os.geteuid() == 0:
        os.chown(dest / "home" / "user", 1000, 1000)
    return dest


def layer_tar(files: Mapping[str, Any] | Path) -> bytes:
    """An uncompressed layer: from a folder, or from {path: bytes|str|None(dir)|("link", target)}."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        if isinstance(files, Path):
            for entry in sorted(files.rglob("*")):
                tar.add(entry, arcname=str(entry.relative_to(files)), recursive=False)
            return buf.getvalue()
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if content is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif isinstance(content, tuple):
                info.type, info.linkname = tarfile.SYMTYPE if content[0] == "link" else tarfile.LNKTYPE, content[1]
                tar.addfile(info)
            else:
                data = content.encode() if isinstance(content, str) else content
                info.size, info.mode = len(data), 0o755
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def image_config(*, entrypoint: Sequence[str] | None = None, cmd: Sequence[str] | None = None,
                 env: Sequence[str] = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",),
                 working_dir: str = "", user: str = "", layers: Sequence[bytes] = ()) -> dict[str, Any]:
    return {"architecture": "amd64", "os": "linux",
            "config": {"Entrypoint": list(entrypoint) if entrypoint else None,
                       "Cmd": list(cmd) if cmd else None, "Env": list(env),
                       "WorkingDir": working_dir, "User": user},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(b).hexdigest() for b in layers]}}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime = len(data), 1_700_000_000
    tar.addfile(info, io.BytesIO(data))


def docker_archive(path: Path, layers: Sequence[bytes], config: dict[str, Any], tags: Sequence[str]) -> Path:
    """A `docker save` archive of one image (uncompressed layers)."""
    cfg = json.dumps(config).encode()
    with tarfile.open(path, "w") as tar:
        _add(tar, f"{_sha(cfg)}.json", cfg)
        names = []
        for layer in layers:
            name = f"{_sha(layer)}/layer.tar"
            _add(tar, name, layer)
            names.append(name)
        _add(tar, "manifest.json", json.dumps([{"Config": f"{_sha(cfg)}.json", "RepoTags": list(tags),
                                                 "Layers": names}]).encode())
    return path


def manifest_for(layers: Sequence[bytes], config: dict[str, Any]) -> tuple[bytes, dict[str, bytes]]:
    """An OCI manifest (gzip layers) and the blobs it names, by digest."""
    cfg = json.dumps(config).encode()
    blobs = {"sha256:" + _sha(cfg): cfg}
    descs = []
    for layer in layers:
        gz = gzip.compress(layer, mtime=0)
        blobs["sha256:" + _sha(gz)] = gz
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                      "digest": "sha256:" + _sha(gz), "size": len(gz)})
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": "sha256:" + _sha(cfg), "size": len(cfg)},
                "layers": descs}
    return json.dumps(manifest).encode(), blobs


def oci_archive(path: Path, layers: Sequence[bytes], config: dict[str, Any], ref_name: str = "latest") -> Path:
    """An OCI image layout tar of one image, the manifest annotated with `ref_name`."""
    manifest, blobs = manifest_for(layers, config)
    blobs["sha256:" + _sha(manifest)] = manifest
    index = {"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + _sha(manifest),
         "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": ref_name},
         "platform": {"os": "linux", "architecture": "amd64"}}]}
    with tarfile.open(path, "w") as tar:
        _add(tar, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
        _add(tar, "index.json", json.dumps(index).encode())
        for digest, data in blobs.items():
            _add(tar, "blobs/sha256/" + digest.split(":")[1], data)
    return path
