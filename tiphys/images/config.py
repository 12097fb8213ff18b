"""What an image says about running it: ENTRYPOINT, CMD, ENV, WorkingDir, User (pure).

`argv` applies Kubernetes' rules for a container: `command` replaces ENTRYPOINT (and drops
CMD), `args` replace CMD.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence):
        return tuple(str(v) for v in value)
    return ()


@dataclass(frozen=True)
class ImageConfig:
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    working_dir: str = ""
    user: str = ""
    architecture: str = ""
    os: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ImageConfig:
        """From an OCI / Docker image configuration document (its `config` object inside)."""
        c = doc.get("config") or doc.get("container_config") or {}
        env = []
        for item in _strings(c.get("Env")):
            k, _, v = item.partition("=")
            if k:
                env.append((k, v))
        return cls(entrypoint=_strings(c.get("Entrypoint")), cmd=_strings(c.get("Cmd")), env=tuple(env),
                   working_dir=str(c.get("WorkingDir") or ""), user=str(c.get("User") or ""),
                   architecture=str(doc.get("architecture") or ""), os=str(doc.get("os") or ""),
                   labels=dict(c.get("Labels") or {}))

    def argv(self, command: Sequence[str], args: Sequence[str]) -> list[str]:
        """The process a container with this `command` and `args` runs (may be empty)."""
        if command:
            return [*command, *args]
        return [*self.entrypoint, *(args if args else self.cmd)]

    def environment(self) -> dict[str, str]:
        env = dict(self.env)
        env.setdefault("PATH", DEFAULT_PATH)
        return env
