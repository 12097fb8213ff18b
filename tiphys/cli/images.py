"""`tiphys image import|pull|list|rm`: the local image store the sandbox executor runs on.

Images go to the user store ($TIPHYS_IMAGES, default $TIPHYS_HOME/images); `--system` writes to
the store every TIPHYS_HOME shares ($TIPHYS_SYSTEM_IMAGES, default /var/lib/tiphys/images).
`list` shows both.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from tiphys.cli import home as state
from tiphys.images import store as image_store
from tiphys.images.store import Image, ImageStore


def _target(args: argparse.Namespace) -> ImageStore:
    if getattr(args, "system", False):
        return ImageStore(image_store.system_store_path())
    if not os.environ.get("TIPHYS_IMAGES"):
        state.home_dir()
    return ImageStore(image_store.user_store_path())


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)


def _row(img: Image) -> dict:
    return {"names": list(img.names), "id": img.id, "digest": img.digest, "size": img.size,
            "created": img.created, "store": str(img.store), "rootfs": str(img.rootfs),
            "config": {"entrypoint": list(img.config.entrypoint), "cmd": list(img.config.cmd),
                       "env": [f"{k}={v}" for k, v in img.config.env], "workingDir": img.config.working_dir,
                       "user": img.config.user}}


def cmd_import(args: argparse.Namespace) -> int:
    from tiphys.images.archive import import_archive
    img = import_archive(_target(args), args.name, Path(args.file))
    print(f"{', '.join(img.names)}  {img.id[:12]}  ({_size(img.size)}) in {img.store}")
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    from tiphys.images.registry import pull

    def progress(msg: str) -> None:
        if not args.quiet:
            print(f"{args.name}: {msg}", file=sys.stderr)
    img = pull(_target(args), args.name, progress=progress)
    print(f"{', '.join(img.names)}  {img.id[:12]}  {img.digest or ''}  ({_size(img.size)}) in {img.store}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from tiphys.images import reference
    rows = []
    for root in image_store.locations():
        if (root / "refs.json").exists():
            rows += ImageStore(root).images()
    if args.output == "json":
        state.out(json.dumps([_row(i) for i in rows], indent=2))
        return 0
    if args.output == "name":
        for img in rows:
            for name in img.names:
                state.out(reference.parse(name).short)
        return 0
    lines = [] if args.no_headers else [("NAME", "ID", "SIZE", "CREATED", "STORE")]
    for img in rows:
        for name in img.names:
            lines.append((reference.parse(name).short, img.id[:12], _size(img.size), img.created, str(img.store)))
    if lines:
        widths = [max(len(r[i]) for r in lines) for i in range(4)]
        for r in lines:
            state.out("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[4])
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    target = _target(args)
    for name in args.names:
        for removed in target.remove(name):
            print(f"removed {removed}")
    return 0
