"""`tiphys` command line, modelled on the argo CLI.

This module only builds the argument parser and turns errors into exit codes; each command
lives in a sibling module imported when that command runs, so `tiphys --help` stays fast
(no YAML, rich or engine import here).

Exit codes: 0 success (for run: the workflow Succeeded), 1 a failed workflow or a user error
(`tiphys: <message>` on stderr), 2 an unexpected error (a bug), 130 interrupted.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

OUTPUTS = ("json", "yaml", "wide", "name")


def _add_run_parser(sub: argparse._SubParsersAction, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument("file", metavar="FILE", help="workflow manifest (YAML/JSON), '-' for stdin")
    p.add_argument("-p", "--parameter", dest="parameters", action="append", default=[],
                   metavar="NAME=VALUE", help="set a workflow argument parameter (repeatable)")
    p.add_argument("-f", "--parameter-file", metavar="FILE",
                   help="YAML or JSON map of parameter names to values")
    p.add_argument("--entrypoint", help="template to start with (overrides spec.entrypoint)")
    p.add_argument("--name", help="workflow name (overrides metadata.name/generateName)")
    p.add_argument("--generate-name", help="prefix of a generated workflow name")
    p.add_argument("-l", "--labels", action="append", default=[], metavar="KEY=VALUE[,...]",
                   help="labels to add to the workflow")
    p.add_argument("-n", "--namespace", help="namespace (default: metadata.namespace or 'default')")
    p.add_argument("-o", "--output", choices=OUTPUTS, help="what to print when the workflow ends")
    p.add_argument("--dry-run", action="store_true",
                   help="walk the whole workflow without starting any process; print each command")
    p.add_argument("--mock", action="append", default=[], metavar="TEMPLATE=FILE",
                   help="with --dry-run: outputs of TEMPLATE's steps (YAML/JSON {result, parameters, "
                        "exitCode}, or plain text taken as stdout)")
    p.add_argument("-w", "--wait", action="store_true", help="accepted for argo compatibility (always waits)")
    p.add_argument("--watch", action="store_true", help="accepted for argo compatibility")
    p.set_defaults(handler="run:cmd_run")


def _template_parsers(sub: argparse._SubParsersAction, name: str, kind: str) -> None:
    p = sub.add_parser(name, help=f"manage {kind}s")
    tsub = p.add_subparsers(dest="template_command", metavar="COMMAND", required=True)
    c = tsub.add_parser("create", help=f"register every {kind} of the files")
    c.add_argument("files", nargs="+", metavar="FILE")
    c.add_argument("-o", "--output", choices=OUTPUTS)
    c.set_defaults(handler="templates:cmd_create")
    g = tsub.add_parser("get", help=f"show a registered {kind}")
    g.add_argument("name", metavar="NAME")
    g.add_argument("-o", "--output", choices=OUTPUTS)
    g.set_defaults(handler="templates:cmd_get")
    ls = tsub.add_parser("list", help=f"list registered {kind}s")
    ls.add_argument("-o", "--output", choices=OUTPUTS)
    ls.add_argument("--no-headers", action="store_true")
    ls.set_defaults(handler="templates:cmd_list")
    d = tsub.add_parser("delete", help=f"remove registered {kind}s")
    d.add_argument("names", nargs="*", metavar="NAME")
    d.add_argument("--all", action="store_true")
    d.set_defaults(handler="templates:cmd_delete")
    lt = tsub.add_parser("lint", help=f"validate {kind} files")
    lt.add_argument("paths", nargs="+", metavar="FILE|DIR")
    lt.set_defaults(handler="templates:cmd_lint")
    p.set_defaults(kind=kind)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tiphys", description="Run Argo Workflows manifests on one machine, as Argo would.",
        epilog="State lives in $TIPHYS_HOME (default ~/.tiphys). Set TIPHYS_DEBUG=1 for tracebacks.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_run_parser(sub, "run", "run a workflow to the end")
    _add_run_parser(sub, "submit", "alias of run")

    p = sub.add_parser("lint", help="validate workflow and template files")
    p.add_argument("paths", nargs="+", metavar="FILE|DIR")
    p.set_defaults(handler="templates:cmd_lint", kind=None)

    p = sub.add_parser("get", help="show a workflow")
    p.add_argument("name", metavar="NAME|@latest")
    p.add_argument("-o", "--output", choices=OUTPUTS)
    p.add_argument("-n", "--namespace")
    p.set_defaults(handler="workflows:cmd_get")

    p = sub.add_parser("list", help="list workflows, newest first")
    p.add_argument("--status", help="only these phases (comma-separated)")
    p.add_argument("--running", action="store_true", help="only running workflows")
    p.add_argument("--completed", action="store_true", help="only completed workflows")
    p.add_argument("--prefix", help="only names starting with this")
    p.add_argument("-o", "--output", choices=OUTPUTS)
    p.add_argument("--no-headers", action="store_true")
    p.add_argument("-n", "--namespace")
    p.set_defaults(handler="workflows:cmd_list")

    p = sub.add_parser("delete", help="delete workflows and their logs")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--all", action="store_true", help="delete every workflow")
    p.add_argument("--completed", action="store_true", help="with --all: only completed ones")
    p.add_argument("--prefix", help="with --all: only names starting with this")
    p.add_argument("--status", help="with --all: only these phases (comma-separated)")
    p.add_argument("-n", "--namespace")
    p.set_defaults(handler="workflows:cmd_delete")

    p = sub.add_parser("logs", help="print the logs of a workflow's steps")
    p.add_argument("name", metavar="NAME|@latest")
    p.add_argument("pod", nargs="?", metavar="POD", help="only this node (id, name, display name or pod name)")
    p.add_argument("--node", help="only this node (id, name, display name or pod name)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing until the workflow ends")
    p.add_argument("--no-prefix", action="store_true", help="do not prefix lines with the pod name")
    p.add_argument("-n", "--namespace")
    p.set_defaults(handler="workflows:cmd_logs")

    _template_parsers(sub, "template", "WorkflowTemplate")
    _template_parsers(sub, "cluster-template", "ClusterWorkflowTemplate")

    p = sub.add_parser("server", help="serve Argo Server's REST API and run the workflows it is given")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=2746, help="port (default 2746, as argo server)")
    p.add_argument("--auth-mode", default="server", help="only 'server' (no tokens; loopback only) for now")
    p.add_argument("--parallelism", type=int, default=8, help="most workflows running at once (default 8)")
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    p.add_argument("--access-log", action="store_true", help="log every request")
    p.set_defaults(handler="main:cmd_server")

    p = sub.add_parser("version", help="print the version")
    p.set_defaults(handler="main:cmd_version")
    return parser


def cmd_version(args: argparse.Namespace) -> int:
    from tiphys import __version__
    print(f"tiphys: v{__version__}")
    return 0


def cmd_server(args: argparse.Namespace) -> int:
    from tiphys.server.cli import cmd_server as serve
    return serve(args)


def _dispatch(args: argparse.Namespace) -> int:
    module_name, _, func = args.handler.partition(":")
    module = importlib.import_module(f"tiphys.cli.{module_name}")
    return int(getattr(module, func)(args) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, usage errors: argparse already printed
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    from tiphys.errors import TiphysError
    try:
        return _dispatch(args)
    except TiphysError as exc:
        _flush()
        print(f"tiphys: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        _flush()
        print("tiphys: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `tiphys list | head`
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the final flush
        except OSError:
            pass
        return 1
    except Exception as exc:
        _flush()
        if os.environ.get("TIPHYS_DEBUG"):
            import traceback
            traceback.print_exc()
        first = str(exc).splitlines()[0] if str(exc) else ""
        print(f"tiphys: unexpected error: {type(exc).__name__}{': ' + first if first else ''} "
              "(set TIPHYS_DEBUG=1 for a traceback)", file=sys.stderr)
        return 2


def _flush() -> None:
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
