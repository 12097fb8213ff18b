"""Where the Tiphys server is and which token to present.

The URL comes from `--server` or `$TIPHYS_SERVER`, the token from `--token` or
`$TIPHYS_TOKEN`. Values in the style of argo's ARGO_SERVER (`host:port`, no scheme) and
ARGO_TOKEN (`Bearer v2:...`) are accepted as they are: a URL without a scheme means
`http://` (`tiphys server` speaks plain HTTP), a leading `Bearer ` is dropped from the token.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tiphys.errors import SpecError

SERVER_ENV = "TIPHYS_SERVER"
TOKEN_ENV = "TIPHYS_TOKEN"


@dataclass(frozen=True)
class ServerConfig:
    url: str             # scheme://host:port[/base], no trailing slash
    token: str | None    # the bare token, sent as `Authorization: Bearer <token>`


def normalize_url(value: str, source: str = "--server") -> str:
    text = value.strip().rstrip("/")
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SpecError(f"{source} {value!r}: expected a URL such as http://127.0.0.1:2746 or host:port")
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError:
        raise SpecError(f"{source} {value!r}: the port is not a number between 0 and 65535") from None
    return text


def normalize_token(value: str | None) -> str | None:
    if value is None:
        return None
    token = value.strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    return token or None


def configured(server: str | None, env: Mapping[str, str] | None = None) -> bool:
    """True when a server is named (cheap: the CLI asks this for every command)."""
    env = os.environ if env is None else env
    return bool((server or "").strip() or (env.get(SERVER_ENV) or "").strip())


def resolve(args: Any = None, env: Mapping[str, str] | None = None) -> ServerConfig | None:
    """The server named by args.server / args.token, else the environment; None when none is."""
    env = os.environ if env is None else env
    flag_server = (getattr(args, "server", None) or "").strip()
    flag_token = getattr(args, "token", None)
    server = flag_server or (env.get(SERVER_ENV) or "").strip()
    if not server:
        if flag_token:
            raise SpecError(f"--token needs a server: give --server URL or set {SERVER_ENV}")
        return None
    source = "--server" if flag_server else SERVER_ENV
    token = normalize_token(flag_token if flag_token is not None else env.get(TOKEN_ENV))
    return ServerConfig(url=normalize_url(server, source), token=token)
