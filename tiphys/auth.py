"""Bearer tokens for `tiphys server --auth-mode client`: minted at random, shown once, kept in
the store only as a SHA-256 digest, each scoped to a list of namespaces (`*`: every namespace
and the cluster-scoped writes).

Pure apart from the store calls; the HTTP side (middleware, 401/403) is tiphys.server.auth.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from tiphys.errors import NotFoundError, SpecError

PREFIX = "tiphys_"
ALL = "*"
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class Identity:
    """Who a valid token says the caller is."""

    token_id: str
    namespaces: tuple[str, ...]
    description: str = ""

    def may_use(self, namespace: str | None) -> bool:
        """May act in `namespace` (None: across all namespaces / cluster-scoped writes)."""
        return ALL in self.namespaces or (namespace is not None and namespace in self.namespaces)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_namespaces(namespaces: list[str]) -> list[str]:
    if not namespaces:
        raise SpecError("a token needs at least one --namespace (or --all-namespaces)")
    for ns in namespaces:
        if ns != ALL and (len(ns) > 63 or not _NAMESPACE.match(ns)):
            raise SpecError(f"--namespace {ns!r}: a namespace is a lowercase RFC 1123 label (letters, digits, "
                            "'-'; at most 63 characters)")
    return list(dict.fromkeys(namespaces))


def create_token(store: Any, namespaces: list[str], description: str = "") -> tuple[str, str]:
    """Mint a token for `namespaces`; returns (token id, token). Only the digest is stored."""
    namespaces = check_namespaces(namespaces)
    token_id = secrets.token_hex(6)
    token = PREFIX + secrets.token_urlsafe(32)
    store.save_token(token_id, digest(token), namespaces, description)
    return token_id, token


def identify(store: Any, token: str) -> Identity | None:
    """The identity of a presented token, None when it is unknown (never created, or deleted)."""
    if not token:
        return None
    found = store.find_token(digest(token))
    if found is None:
        return None
    return Identity(found["id"], tuple(found.get("namespaces") or ()), found.get("description") or "")


def delete_token(store: Any, token_id: str) -> None:
    if not store.delete_token(token_id):
        raise NotFoundError(f"token {token_id!r} not found (see tiphys auth token list)")
