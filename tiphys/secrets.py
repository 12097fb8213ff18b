"""Secrets: named maps of key -> value per namespace, as Kubernetes Secrets, encrypted at rest.

Each value is encrypted on its own with Fernet (AES-128-CBC + HMAC-SHA256) before it reaches
the store; key names stay readable (as in Kubernetes, they are not the secret). The Fernet
key comes from `TIPHYS_SECRET_KEY` (a Fernet key: 32 url-safe base64 bytes) or else from
`$TIPHYS_HOME/secret.key`, created with mode 0600 on first use. Every process sharing a store
(CLI, server, several servers on one PostgreSQL database) needs the same key.

Values are decrypted only by `Vault.get`, which the runtime calls when a step starts
(`tiphys.runtime.steps`); nothing here prints or logs a value.
"""
from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tiphys.errors import InfrastructureError, NotFoundError, SpecError

KEY_ENV = "TIPHYS_SECRET_KEY"
KEY_FILE = "secret.key"
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


class SecretError(InfrastructureError):
    """A secret or one of its keys a step needs is missing, or cannot be decrypted (step Error)."""


def check_name(name: str, what: str = "secret name") -> None:
    if not name or len(name) > 253 or not _NAME.match(name):
        raise SpecError(f"{what} {name!r}: a lowercase RFC 1123 subdomain must consist of lower case "
                        "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character")


def check_key(key: str) -> None:
    if not key or len(key) > 253 or not _KEY.match(key):
        raise SpecError(f"secret key {key!r}: a valid key must consist of alphanumeric characters, "
                        "'-', '_' or '.'")


def load_key(home: Path, environ: Mapping[str, str] | None = None) -> bytes:
    """The Fernet key: $TIPHYS_SECRET_KEY, else $TIPHYS_HOME/secret.key (created 0600 when absent)."""
    from cryptography.fernet import Fernet
    env = os.environ if environ is None else environ
    if env.get(KEY_ENV):
        key = env[KEY_ENV].strip().encode()
        where = f"${KEY_ENV}"
    else:
        key, where = _key_file(Path(home) / KEY_FILE)
    try:
        Fernet(key)
    except (ValueError, TypeError):
        raise SpecError(f"{where}: not a Fernet key (32 url-safe base64-encoded bytes; make one with "
                        "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
                        ) from None
    return key


def _key_file(path: Path) -> tuple[bytes, str]:
    from cryptography.fernet import Fernet
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise InfrastructureError(f"cannot create the secret key {path}: {exc.strerror or exc}") from exc
    else:
        with os.fdopen(fd, "wb") as f:
            f.write(Fernet.generate_key() + b"\n")
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise InfrastructureError(f"{path} is accessible by other users (mode {stat.S_IMODE(mode):04o}); "
                                      f"run: chmod 600 {path}")
        return path.read_bytes().strip(), str(path)
    except OSError as exc:
        raise InfrastructureError(f"cannot read the secret key {path}: {exc.strerror or exc}") from exc


class Vault:
    """Secrets of one store, encrypted with one key. The key is loaded on first use."""

    def __init__(self, store: Any, home: Path, key: bytes | None = None):
        self.store, self.home = store, Path(home)
        self._fernet: Any = None
        self._key = key

    def _cipher(self) -> Any:
        if self._fernet is None:
            from cryptography.fernet import Fernet
            self._fernet = Fernet(self._key or load_key(self.home))
        return self._fernet

    def create(self, namespace: str, name: str, data: Mapping[str, str], *, replace: bool = False) -> None:
        check_name(namespace, "namespace")
        check_name(name)
        if not data:
            raise SpecError(f"secret {name!r} needs at least one key (--from-literal KEY=VALUE)")
        for key in data:
            check_key(key)
        if not replace and self.store.get_secret(namespace, name) is not None:
            raise SpecError(f'secret "{name}" already exists in namespace {namespace!r} '
                            f"(delete it first: tiphys secret delete {name} -n {namespace})")
        cipher = self._cipher()
        sealed = {k: cipher.encrypt(v.encode()).decode() for k, v in data.items()}
        self.store.save_secret(namespace, name, sealed)

    def keys(self, namespace: str, name: str) -> list[str] | None:
        """The key names of a secret (no decryption), None when there is no such secret."""
        sealed = self.store.get_secret(namespace, name)
        return None if sealed is None else sorted(sealed)

    def get(self, namespace: str, name: str) -> dict[str, str] | None:
        """The decrypted values, None when there is no such secret."""
        sealed = self.store.get_secret(namespace, name)
        if sealed is None:
            return None
        from cryptography.fernet import InvalidToken
        cipher = self._cipher()
        try:
            return {k: cipher.decrypt(v.encode()).decode() for k, v in sealed.items()}
        except (InvalidToken, ValueError, UnicodeDecodeError):
            raise SecretError(f"cannot decrypt secret {namespace}/{name}: it was encrypted with another key "
                              f"(${KEY_ENV} or $TIPHYS_HOME/{KEY_FILE} differs from the one it was "
                              "created with)") from None

    def names(self, namespace: str | None = None) -> list[tuple[str, str]]:
        """(namespace, name) of every secret, or of one namespace's."""
        return [tuple(x) for x in self.store.list_secrets(namespace)]

    def delete(self, namespace: str, name: str) -> None:
        if not self.store.delete_secret(namespace, name):
            raise NotFoundError(f'secret "{name}" not found in namespace {namespace!r}')


class SecretLookup:
    """What a step's `secretKeyRef` / `secretRef` is resolved against: the secrets of one
    namespace, each decrypted at most once per lookup object."""

    def __init__(self, vault: Vault, namespace: str):
        self.vault, self.namespace = vault, namespace
        self._cache: dict[str, dict[str, str] | None] = {}

    def secret(self, name: str) -> dict[str, str] | None:
        if name not in self._cache:
            self._cache[name] = self.vault.get(self.namespace, name)
        return self._cache[name]

    def value(self, name: str, key: str, optional: bool = False) -> str | None:
        """The value, None when it is missing and `optional`; SecretError naming the secret
        and key (as Kubernetes words it) when it is missing and not optional."""
        data = self.secret(name)
        if data is None:
            if optional:
                return None
            raise SecretError(f'secret "{name}" not found')
        if key not in data:
            if optional:
                return None
            raise SecretError(f"couldn't find key {key} in Secret {self.namespace}/{name}")
        return data[key]
