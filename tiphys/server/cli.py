"""`tiphys server`: serve Argo Server's REST API on this machine with uvicorn."""
from __future__ import annotations

import argparse
import ipaddress
import socket

from tiphys.errors import SpecError

AUTH_MODES = ("client", "server")
# seconds an idle keep-alive connection stays open: longer than clients wait between polls
# (Hera polls every 5 s, uvicorn's own default, so a poll could meet the server closing that
# connection: "connection reset by peer"); Argo Server (Go net/http) keeps them open
KEEP_ALIVE = 120


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
        raise SpecError(f"--auth-mode {auth_mode}: expected 'client' (bearer tokens from tiphys auth token "
                        "create) or 'server' (no tokens, loopback only); 'sso' is not supported")
    if auth_mode == "server" and not is_loopback(host):
        raise SpecError(f"--auth-mode server has no authentication: it only binds to a loopback address "
                        f"(127.0.0.1, ::1, localhost), not {host!r}; anyone who can reach the port could "
                        "run commands on this machine")


def cmd_server(args: argparse.Namespace) -> int:
    check_bind(args.host, args.auth_mode)
    if args.parallelism < 1:
        raise SpecError("--parallelism must be at least 1")
    ns_limit = getattr(args, "namespace_parallelism", None)
    if ns_limit is not None and ns_limit < 1:
        raise SpecError("--namespace-parallelism must be at least 1")
    import uvicorn

    from tiphys import home as state
    from tiphys.server.app import create_app
    store_url = getattr(args, "store", None)
    if store_url:
        from tiphys.store import open_store
        open_store(store_url).close()  # a bad URL or an unreachable database fails here, clearly
    if args.auth_mode == "client":
        _client_mode_notes(args.host, store_url)
    app = create_app(state.home_dir(), parallelism=args.parallelism, auth_mode=args.auth_mode,
                     store_url=store_url, namespace_parallelism=ns_limit,
                     runs_workflows=not getattr(args, "no_controller", False), events_host=args.host)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=args.access_log,
                timeout_keep_alive=KEEP_ALIVE)
    return 0


def _client_mode_notes(host: str, store_url: str | None = None) -> None:
    import sys

    from tiphys import home as state
    from tiphys.store import open_store
    with (open_store(store_url) if store_url else state.open_store()) as store:
        if not store.list_tokens():
            print("tiphys server: no tokens yet; every API request will get 401 until you run "
                  "`tiphys auth token create --namespace NS`", file=sys.stderr)
    if not is_loopback(host):
        print("tiphys server: this server speaks plain HTTP; tokens cross the network in clear text "
              "unless a TLS proxy is in front of it", file=sys.stderr)


def cmd_controller(args: argparse.Namespace) -> int:
    """`tiphys controller`: the controller alone, on the store a `tiphys server --no-controller`
    (or any server) shares: it takes the workflows no live controller holds, runs them, and acts
    on the requests the API processes leave for it. Stops on Ctrl-C / SIGTERM; the workflows it
    ran are then resumed by the next controller from their journals."""
    import logging
    import signal
    import threading

    from tiphys import home as state
    from tiphys.server.controller import ADOPT_EVERY, Controller
    if args.parallelism < 1 or (args.namespace_parallelism is not None and args.namespace_parallelism < 1):
        raise SpecError("--parallelism and --namespace-parallelism must be at least 1")
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    home = state.home_dir()
    if args.store:
        from tiphys.store import open_store
        store = open_store(args.store)
    else:
        store = state.open_store(home)
    ctl = Controller(store, home, parallelism=args.parallelism, namespace_parallelism=args.namespace_parallelism,
                     adopt_every=ADOPT_EVERY)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    ctl.start()
    from tiphys.cron.api import start_scheduler
    cron = start_scheduler(store, ctl)
    print(f"tiphys controller: running ({ctl.owner}); Ctrl-C to stop", file=__import__("sys").stderr, flush=True)
    try:
        stop.wait()
    finally:
        if cron is not None:
            cron.close()
        ctl.detach()
        store.close()
    return 0
