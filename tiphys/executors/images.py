"""Images are not pulled: what a known image would run, and the shims standing in for it.

`default_argv` emulates the ENTRYPOINT/CMD of the known image families (the host's tools
play their part); `install_shims` fills the folder put first on a step's PATH with the
programs those images provide and the host may lack (python, argosay, cowsay).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from tiphys.executors.argosay import SCRIPT as ARGOSAY_SCRIPT

KNOWN_IMAGES = ("busybox", "alpine", "ubuntu", "debian", "python", "bash",
                "argoproj/argosay", "docker/whalesay")


def parse_image(image: str) -> tuple[str, str]:
    """`docker.io/library/python:3.11@sha256:..` -> ("python", "3.11")."""
    ref = image.strip().split("@", 1)[0]
    name, tag = ref, ""
    slash, colon = ref.rfind("/"), ref.rfind(":")
    if colon > slash:
        name, tag = ref[:colon], ref[colon + 1:]
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    if len(parts) > 1 and parts[0] == "library":
        parts = parts[1:]
    return "/".join(parts).lower(), tag


def image_known(image: str) -> bool:
    return parse_image(image)[0] in KNOWN_IMAGES


def default_argv(image: str, args: tuple[str, ...], argosay: str) -> list[str] | None:
    """argv for a container without `command`: the image's ENTRYPOINT/CMD semantics.

    None when the image is unknown and there is nothing to run."""
    name, tag = parse_image(image)
    args_l = list(args)
    if name == "argoproj/argosay":
        if tag.startswith("v1"):                 # Ubuntu + cowsay, CMD cowsay, no ENTRYPOINT
            return args_l or ["cowsay"]
        return [argosay, *args_l]                # v2: ENTRYPOINT /argosay
    if name == "docker/whalesay":
        return args_l if args_l[:1] == ["cowsay"] else ["cowsay", *args_l]
    if name == "bash":                           # docker-entrypoint.sh prefixes bash for flags
        if not args_l or args_l[0].startswith("-"):
            return ["bash", *args_l]
        return args_l
    if name in KNOWN_IMAGES:
        return args_l or ["sh"]
    return args_l or None


def install_shims(d: Path, sandbox: bool) -> None:
    """Fill the (fresh) shim folder `d`; python is the host's, found on PATH only unsandboxed."""
    os.chmod(d, 0o755)
    (d / "argosay").write_text(ARGOSAY_SCRIPT)
    os.chmod(d / "argosay", 0o755)
    python = next((p for p in ("/usr/bin/python3", "/usr/local/bin/python3")
                   if os.access(p, os.X_OK)), None)
    if python is None and not sandbox:
        python = shutil.which("python3")
    if python:
        os.symlink(python, d / "python")
    if os.access("/usr/games/cowsay", os.X_OK):
        os.symlink("/usr/games/cowsay", d / "cowsay")
