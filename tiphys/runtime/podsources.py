"""The ConfigMap and Secret data Kubernetes hands a pod, as Tiphys hands it to a step.

Kubernetes fills `env[].valueFrom.configMapKeyRef`, `envFrom[].configMapRef` and mounts
`configMap` / `secret` volumes (one file per key, or the `items` asked for) from the objects of
the pod's namespace. Data and ML workflows (Hera's ConfigMapEnv, ConfigMapVolume, SecretVolume)
rely on them. A missing object or key that is not `optional` keeps the pod from starting; Tiphys
ends the step in Error with Kubernetes' wording. Secret values read here are masked in the
step's logs and outputs like those of secretKeyRef (runtime/steps.py).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tiphys.errors import InfrastructureError


class ConfigMapError(InfrastructureError):
    """A ConfigMap or one of its keys a step needs is missing (the step ends in Error)."""


class PodSources:
    """The Secrets (a tiphys.secrets.SecretLookup) and ConfigMaps of one namespace; each
    object is read at most once."""

    def __init__(self, secrets: Any, store: Any, namespace: str):
        self.secrets, self.store, self.namespace = secrets, store, namespace
        self._maps: dict[str, dict[str, str] | None] = {}

    # a SecretLookup's interface, for the code that only knows secrets
    def secret(self, name: str) -> dict[str, str] | None:
        return self.secrets.secret(name)

    def value(self, name: str, key: str, optional: bool = False) -> str | None:
        return self.secrets.value(name, key, optional)

    def configmap(self, name: str) -> dict[str, str] | None:
        if name not in self._maps:
            body = self.store.get_configmap(self.namespace, name) if self.store is not None else None
            self._maps[name] = None if body is None else {str(k): _text(v) for k, v in (body.get("data") or {}).items()}
        return self._maps[name]

    def configmap_value(self, name: str, key: str, optional: bool = False) -> str | None:
        data = self.configmap(name)
        if data is None:
            if optional:
                return None
            raise ConfigMapError(f'configmap "{name}" not found')
        if key not in data:
            if optional:
                return None
            raise ConfigMapError(f"couldn't find key {key} in ConfigMap {self.namespace}/{name}")
        return data[key]


def configmap_env(sources: Any, source: dict[str, Any], field: str) -> list[tuple[str, str]]:
    """The variables of one `envFrom[]` entry naming a ConfigMap (`configMapRef`)."""
    ref = source.get("configMapRef")
    name, optional = str(ref.get("name") or ""), bool(ref.get("optional"))
    data = _need(sources, field).configmap(name) if name else None
    if data is None:
        if optional:
            return []
        raise ConfigMapError(f'configmap "{name}" not found')
    prefix = str(source.get("prefix") or "")
    return [(prefix + key, data[key]) for key in sorted(data)]


def configmap_key(sources: Any, ref: dict[str, Any], field: str) -> str | None:
    """The value of one `env[].valueFrom.configMapKeyRef`."""
    return _need(sources, field).configmap_value(str(ref.get("name") or ""), str(ref.get("key") or ""),
                                                 bool(ref.get("optional")))


def is_projected(vol: dict[str, Any]) -> bool:
    return isinstance(vol.get("configMap"), dict) or isinstance(vol.get("secret"), dict)


def materialize(vol: dict[str, Any], folder: Path, sources: Any, field: str) -> list[str]:
    """Write a `configMap` / `secret` volume's files into `folder` (to be mounted read-only);
    returns the secret values written (to mask). Files get `defaultMode` (0644) or an item's
    `mode`; `items` picks and renames keys, as the kubelet does."""
    if isinstance(vol.get("configMap"), dict):
        spec, kind = vol["configMap"], "configmap"
        name = str(spec.get("name") or "")
        data = _need(sources, field).configmap(name)
    else:
        spec, kind = vol["secret"], "secret"
        name = str(spec.get("secretName") or "")
        data = _need(sources, field).secret(name)
    optional = bool(spec.get("optional"))
    folder.mkdir(parents=True, exist_ok=True)
    if data is None:
        if optional:
            return []
        raise (ConfigMapError if kind == "configmap" else _secret_error())(f'{kind} "{name}" not found')
    mode = _mode(spec.get("defaultMode"), 0o644)
    items = spec.get("items")
    wanted = [(str(i.get("key")), str(i.get("path") or i.get("key")), _mode(i.get("mode"), mode))
              for i in items if isinstance(i, dict)] if isinstance(items, list) else \
        [(key, key, mode) for key in sorted(data)]
    written: list[str] = []
    for key, rel, file_mode in wanted:
        if key not in data:
            if optional:
                continue
            what = "ConfigMap" if kind == "configmap" else "Secret"
            raise (ConfigMapError if kind == "configmap" else _secret_error())(
                f"couldn't find key {key} in {what} {getattr(sources, 'namespace', '')}/{name}")
        target = folder / rel
        if folder.resolve() not in target.resolve().parents:
            raise ConfigMapError(f"{field}: item path {rel!r} leaves the volume")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(data[key])
        os.chmod(target, file_mode)
        if kind == "secret":
            written.append(data[key])
    return written


def _need(sources: Any, field: str) -> Any:
    if sources is None or not hasattr(sources, "configmap"):
        raise ConfigMapError(f"{field}: ConfigMaps are not available to this run")
    return sources


def _secret_error() -> type[InfrastructureError]:
    from tiphys.secrets import SecretError
    return SecretError


def _mode(value: Any, default: int) -> int:
    try:
        return int(value) & 0o777 if value is not None else default
    except (TypeError, ValueError):
        return default


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)
