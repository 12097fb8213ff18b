"""Image references as Docker spells them, normalised (pure).

`busybox` is `docker.io/library/busybox:latest`; `localhost:5000/x/y:1` keeps its registry;
a digest (`name@sha256:...`) pins the manifest. The store keys images by `Reference.name`
(`registry/repository:tag`, the tag `latest` when none is given) and by digest.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from tiphys.errors import SpecError

DOCKER_HUB = "docker.io"
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_LOOPBACK = ("localhost", "127.", "[::1]", "::1")


@dataclass(frozen=True)
class Reference:
    registry: str            # docker.io, localhost:5000, ghcr.io
    repository: str          # library/busybox, argoproj/argosay
    tag: str | None          # None only when pinned by digest alone
    digest: str | None = None

    @property
    def name(self) -> str:
        """The store's key: registry/repository:tag (or @digest when there is no tag)."""
        if self.tag is not None:
            return f"{self.registry}/{self.repository}:{self.tag}"
        return f"{self.registry}/{self.repository}@{self.digest}"

    @property
    def short(self) -> str:
        """As a person writes it: busybox:latest, argoproj/argosay:v2, localhost:5000/x:1."""
        repo = self.repository
        if self.registry == DOCKER_HUB:
            repo = repo.removeprefix("library/")
        else:
            repo = f"{self.registry}/{repo}"
        return f"{repo}:{self.tag}" if self.tag is not None else f"{repo}@{self.digest}"

    @property
    def loopback(self) -> bool:
        return self.registry.startswith(_LOOPBACK)


def parse(text: str) -> Reference:
    """`text` as a Reference; SpecError naming the problem when it is not one."""
    ref = text.strip()
    if not ref:
        raise SpecError("image reference is empty")
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
        if not _DIGEST.match(digest):
            raise SpecError(f"image reference {text!r}: digest must be sha256:<64 hex digits>")
    tag = None
    slash, colon = ref.rfind("/"), ref.rfind(":")
    if colon > slash:
        ref, tag = ref[:colon], ref[colon + 1:]
        if not _TAG.match(tag):
            raise SpecError(f"image reference {text!r}: invalid tag {tag!r}")
    parts = ref.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        registry, parts = parts[0], parts[1:]
    else:
        registry = DOCKER_HUB
    if registry in ("index.docker.io", "registry-1.docker.io"):
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and len(parts) == 1:
        parts = ["library", *parts]
    for part in parts:
        if not _COMPONENT.match(part):
            raise SpecError(f"image reference {text!r}: invalid repository name component {part!r} "
                            "(lowercase letters, digits and . _ - separators)")
    if tag is None and digest is None:
        tag = "latest"
    return Reference(registry, "/".join(parts), tag, digest)
