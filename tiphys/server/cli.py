"""`tiphys server`: serve Argo Server's REST API on this machine with uvicorn."""
from __future__ import annotations

import argparse
import ipaddress
import socket

from tiphys.errors import SpecError

AUTH_MODES = ("server",)


def is_loopback(host: str) -> bool:
    """True when every address `host` names is a loopback address."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0].split("%")[0]).is_loopback for i in infos)


def check_bind(host: str, auth_mode: str) -> None:
    if auth_mode not in AUTH_MODES:
        raise SpecError(f"--auth-mode {auth_mode}: only 'server' is implemented so far "
                        "(bearer tokens, 'client' and 'sso', come in a later version)")
    if auth_mode == "server" and not is_loopback(host):
        raise SpecError(f"--auth-mode server has no authentication: it only binds to a loopback address "
                        f"(127.0.0.1, ::1, localhost), not {host!r}; anyone who can reach the port could "
                        "run commands on this machine")


def cmd_server(args: argparse.Namespace) -> int:
    check_bind(args.host, args.auth_mode)
    if args.parallelism < 1:
        raise SpecError("--parallelism must be at least 1")
    import uvicorn

    from tiphys.cli import home as state
    from tiphys.server.app import create_app
    app = create_app(state.home_dir(), parallelism=args.parallelism)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=args.access_log)
    return 0
