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
    p.add_argument("file", metavar="FILE", nargs="?",
                   help="workflow manifest (YAML/JSON), '-' for stdin")
    if name == "run":
        p.add_argument("--continue", dest="continue_", metavar="NAME",
                       help="continue workflow NAME whose `tiphys run` was killed: re-attach to its "
                            "running steps, collect the ended ones, run the rest (no step runs twice)")
    if name == "submit":
        p.add_argument("--from", dest="from_", metavar="KIND/NAME",
                       help="submit from workflowtemplate/NAME or clusterworkflowtemplate/NAME")
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
    p.add_argument("-w", "--wait", action="store_true",
                   help="with a server: wait until it ends, exit 1 unless it Succeeded (run always waits)")
    p.add_argument("--watch", action="store_true", help="with a server: show it live until it ends")
    p.add_argument("--executor", choices=("host", "sandbox", "docker", "pod", "kubernetes", "auto"),
                   help="what runs the steps (else: annotation tiphys.io/executor, $TIPHYS_EXECUTOR, "
                        "executor: in $TIPHYS_HOME/config.yaml, else host)")
    p.set_defaults(handler="lifecycle:cmd_submit" if name == "submit" else "run:cmd_run")


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
    for tp in tsub.choices.values():
        if kind != "ClusterWorkflowTemplate":
            tp.add_argument("-n", "--namespace", help="namespace on a server (default 'default')")
        _client_options(tp)
    p.set_defaults(kind=kind)


# -- server mode: these commands run tiphys.cli.remote's handler when --server/TIPHYS_SERVER is set

REMOTE = {"submit": "cmd_submit", "list": "cmd_list", "get": "cmd_get", "logs": "cmd_logs",
          "delete": "cmd_delete", "retry": "cmd_retry", "resubmit": "cmd_resubmit", "stop": "cmd_action",
          "terminate": "cmd_action", "suspend": "cmd_action", "resume": "cmd_action", "wait": "cmd_wait",
          "watch": "cmd_watch", "template": "cmd_template", "cluster-template": "cmd_template",
          "cron": "cmd_cron", "apply": "cmd_apply"}


def _client_options(p: argparse.ArgumentParser) -> None:
    """--server/--token after the command too (SUPPRESS keeps a value given before it)."""
    p.add_argument("--server", default=argparse.SUPPRESS, metavar="URL",
                   help="talk to this Tiphys server (env TIPHYS_SERVER)")
    p.add_argument("--token", default=argparse.SUPPRESS, metavar="TOKEN",
                   help="bearer token for the server (env TIPHYS_TOKEN)")


def _lifecycle_parsers(sub: argparse._SubParsersAction) -> None:
    """retry, resubmit, stop, terminate, suspend, resume, wait, watch (tiphys/cli/lifecycle.py)."""
    def verb(name: str, help_text: str, handler: str, *, many: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument(*(["names"] if many else ["name"]), nargs="+" if many else None, metavar="NAME")
        p.add_argument("-n", "--namespace")
        p.set_defaults(handler=f"lifecycle:{handler}")
        return p

    def rerun_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("-p", "--parameter", dest="parameters", action="append", default=[],
                       metavar="NAME=VALUE", help="override a workflow parameter (repeatable)")
        p.add_argument("-o", "--output", choices=OUTPUTS)
        p.add_argument("-w", "--wait", action="store_true", help="wait until it ends; exit 1 unless it Succeeded")
        p.add_argument("--watch", action="store_true", help="show it live until it ends")

    p = verb("retry", "retry failed workflows from their failed steps", "cmd_retry")
    p.add_argument("--restart-successful", action="store_true",
                   help="also re-run successful nodes the --node-field-selector matches")
    p.add_argument("--node-field-selector", metavar="SELECTOR", help="nodes to restart, e.g. displayName=x")
    rerun_options(p)
    p = verb("resubmit", "run workflows again under a new name", "cmd_resubmit")
    p.add_argument("--memoized", action="store_true", help="(server) reuse the outputs of succeeded nodes")
    rerun_options(p)
    p = verb("stop", "stop workflows, running their exit handlers (server)", "cmd_needs_server")
    p.add_argument("--message", help="the message to record")
    p.add_argument("--node-field-selector", metavar="SELECTOR")
    verb("terminate", "terminate workflows now, without exit handlers (server)", "cmd_needs_server")
    verb("suspend", "suspend workflows (server)", "cmd_needs_server")
    p = verb("resume", "resume suspended workflows (server)", "cmd_needs_server")
    p.add_argument("--node-field-selector", metavar="SELECTOR", help="resume only these suspend nodes")
    p = verb("wait", "wait until workflows complete; exit 1 unless all Succeeded", "cmd_wait")
    p.add_argument("--ignore-not-found", action="store_true", help="skip workflows that do not exist")
    verb("watch", "show a workflow live until it completes", "cmd_watch", many=False)


def _image_parsers(sub: argparse._SubParsersAction) -> None:
    """image import|pull|list|rm (tiphys/cli/images.py)."""
    p = sub.add_parser("image", help="manage the local image store (the sandbox executor's images)")
    isub = p.add_subparsers(dest="image_command", metavar="COMMAND", required=True)
    c = isub.add_parser("import", help="import a `docker save` / OCI archive as NAME")
    c.add_argument("name", metavar="NAME")
    c.add_argument("file", metavar="FILE")
    c.set_defaults(handler="images:cmd_import")
    c = isub.add_parser("pull", help="fetch NAME from its registry (OCI distribution API)")
    c.add_argument("name", metavar="NAME")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    c.set_defaults(handler="images:cmd_pull")
    c = isub.add_parser("list", aliases=["ls"], help="list stored images")
    c.add_argument("-o", "--output", choices=("json", "name"))
    c.add_argument("--no-headers", action="store_true")
    c.set_defaults(handler="images:cmd_list")
    c = isub.add_parser("rm", help="remove images by name")
    c.add_argument("names", nargs="+", metavar="NAME")
    c.set_defaults(handler="images:cmd_rm")
    for name in ("import", "pull", "rm"):
        isub.choices[name].add_argument(
            "--system", action="store_true",
            help="the store every TIPHYS_HOME shares ($TIPHYS_SYSTEM_IMAGES, default /var/lib/tiphys/images)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tiphys", description="Run Argo Workflows manifests on one machine, as Argo would.",
        epilog="State lives in $TIPHYS_HOME (default ~/.tiphys). Set TIPHYS_DEBUG=1 for tracebacks.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_run_parser(sub, "run", "run a workflow to the end")
    _add_run_parser(sub, "submit", "submit a workflow to the server (TIPHYS_SERVER); without one, run it here")

    from tiphys.cli import pods
    pods.add_parser(sub)

    p = sub.add_parser("lint", help="validate workflow and template files")
    p.add_argument("paths", nargs="+", metavar="FILE|DIR")
    p.set_defaults(handler="templates:cmd_lint", kind=None)

    p = sub.add_parser("get", help="show a workflow, or an object: get configmap|secret|... NAME")
    p.add_argument("name", metavar="NAME|@latest|KIND")
    p.add_argument("object", nargs="?", metavar="NAME", help="with KIND: the object's name")
    p.add_argument("-o", "--output", choices=OUTPUTS)
    p.add_argument("-n", "--namespace")
    p.set_defaults(handler="workflows:cmd_get")

    p = sub.add_parser("list", help="list workflows, newest first")
    p.add_argument("--status", help="only these phases (comma-separated)")
    p.add_argument("--running", action="store_true", help="only running workflows")
    p.add_argument("--completed", action="store_true", help="only completed workflows")
    p.add_argument("--prefix", help="only names starting with this")
    p.add_argument("-l", "--selector", action="append", metavar="SELECTOR", help="label selector (k=v,k!=v,k in (a,b))")
    p.add_argument("--limit", type=int, help="at most this many")
    p.add_argument("--chunk-size", type=int, help="with a server: fetch this many per request")
    p.add_argument("-o", "--output", choices=OUTPUTS)
    p.add_argument("--no-headers", action="store_true")
    p.add_argument("-n", "--namespace")
    p.set_defaults(handler="workflows:cmd_list")

    p = sub.add_parser("delete", help="delete workflows and their logs, or objects: delete configmap|secret NAME")
    p.add_argument("names", nargs="*", metavar="[KIND] NAME")
    p.add_argument("--all", action="store_true", help="delete every workflow")
    p.add_argument("--completed", action="store_true", help="with --all: only completed ones")
    p.add_argument("--prefix", help="with --all: only names starting with this")
    p.add_argument("--status", help="with --all: only these phases (comma-separated)")
    p.add_argument("-l", "--selector", action="append", metavar="SELECTOR", help="with --all: label selector")
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

    p = sub.add_parser("apply", help="create or update ConfigMaps, Secrets, WorkflowTemplates... from files (kubectl-style)")
    p.add_argument("-f", "--filename", dest="files", action="append", required=True, metavar="FILE|DIR",
                   help="a manifest file, a directory of them, or '-' (repeatable)")
    p.add_argument("-n", "--namespace", help="namespace of objects that name none (default 'default')")
    p.set_defaults(handler="objects:cmd_apply")
    _client_options(p)

    _template_parsers(sub, "template", "WorkflowTemplate")
    _template_parsers(sub, "cluster-template", "ClusterWorkflowTemplate")
    from tiphys.cli import cron
    cron.add_parsers(sub, _client_options)
    _lifecycle_parsers(sub)
    parser.add_argument("--server", metavar="URL", help="talk to this Tiphys server (env TIPHYS_SERVER)")
    parser.add_argument("--token", metavar="TOKEN", help="bearer token for the server (env TIPHYS_TOKEN)")
    for name in REMOTE:
        if name not in ("template", "cluster-template", "cron", "apply"):
            _client_options(sub.choices[name])

    p = sub.add_parser("server", help="serve Argo Server's REST API and run the workflows it is given")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=2746, help="port (default 2746, as argo server)")
    p.add_argument("--auth-mode", default="server", choices=("client", "server"),
                   help="client: every API request needs a bearer token (tiphys auth token create); "
                        "server (default): no tokens, loopback addresses only")
    p.add_argument("--parallelism", type=int, default=8, help="most workflows running at once (default 8)")
    p.add_argument("--namespace-parallelism", type=int, default=None,
                   help="most workflows running at once in one namespace (Argo's namespaceParallelism)")
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    p.add_argument("--access-log", action="store_true", help="log every request")
    p.add_argument("--store", metavar="URL", default=None,
                   help="where state lives: a file path, sqlite:///abs/path or postgresql://user@host/db "
                        "(default: $TIPHYS_HOME/tiphys.db)")
    p.add_argument("--no-controller", action="store_true",
                   help="serve the API only: submissions wait for a `tiphys controller` sharing the store")
    p.set_defaults(handler="main:cmd_server")

    p = sub.add_parser("controller", help="run the workflow controller alone, on a store shared with servers")
    p.add_argument("--store", metavar="URL", default=None, help="as tiphys server --store")
    p.add_argument("--parallelism", type=int, default=8, help="most workflows running at once (default 8)")
    p.add_argument("--namespace-parallelism", type=int, default=None,
                   help="most workflows running at once in one namespace")
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    p.set_defaults(handler="main:cmd_controller")

    _auth_and_secret_parsers(sub)

    _image_parsers(sub)

    p = sub.add_parser("version", help="print the version")
    p.set_defaults(handler="main:cmd_version")
    return parser


def _auth_and_secret_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("auth", help="bearer tokens for `tiphys server --auth-mode client`")
    tok = p.add_subparsers(dest="auth_command", metavar="COMMAND", required=True).add_parser(
        "token", help="create, list and delete tokens")
    tsub = tok.add_subparsers(dest="token_command", metavar="COMMAND", required=True)
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument("--store", metavar="URL", help="the server's store when it is not $TIPHYS_HOME/tiphys.db "
                                                      "(as tiphys server --store)")
    c = tsub.add_parser("create", parents=[store], help="mint a token (printed once; only its SHA-256 digest is kept)")
    c.add_argument("-n", "--namespace", dest="namespaces", action="append", default=[], metavar="NS",
                   help="a namespace the token may act in (repeatable)")
    c.add_argument("-A", "--all-namespaces", action="store_true",
                   help="every namespace, cluster-wide lists and ClusterWorkflowTemplate writes")
    c.add_argument("--description", default="", help="what the token is for")
    c.add_argument("-o", "--output", choices=("json", "yaml"))
    c.set_defaults(handler="auth:cmd_create")
    ls = tsub.add_parser("list", parents=[store], help="list tokens (never the tokens themselves)")
    ls.add_argument("-o", "--output", choices=("json", "yaml"))
    ls.add_argument("--no-headers", action="store_true")
    ls.set_defaults(handler="auth:cmd_list")
    d = tsub.add_parser("delete", parents=[store], help="revoke tokens by id")
    d.add_argument("ids", nargs="+", metavar="ID")
    d.set_defaults(handler="auth:cmd_delete")

    p = sub.add_parser("secret", help="secrets for env[].valueFrom.secretKeyRef (encrypted at rest)")
    ssub = p.add_subparsers(dest="secret_command", metavar="COMMAND", required=True)
    c = ssub.add_parser("create", parents=[store], help="create a secret")
    c.add_argument("name", metavar="NAME")
    c.add_argument("--from-literal", dest="literals", action="append", default=[], metavar="KEY=VALUE",
                   help="a key and its value (repeatable)")
    c.add_argument("--from-file", dest="files", action="append", default=[], metavar="[KEY=]PATH",
                   help="a key whose value is a file's content (key: the file name by default)")
    c.add_argument("-n", "--namespace", default="default")
    c.set_defaults(handler="secrets:cmd_create")
    ls = ssub.add_parser("list", parents=[store], help="list secrets and their keys (never the values)")
    ls.add_argument("-n", "--namespace", help="only this namespace (default: every namespace)")
    ls.add_argument("-o", "--output", choices=("json", "yaml"))
    ls.add_argument("--no-headers", action="store_true")
    ls.set_defaults(handler="secrets:cmd_list")
    d = ssub.add_parser("delete", parents=[store], help="delete secrets")
    d.add_argument("names", nargs="+", metavar="NAME")
    d.add_argument("-n", "--namespace", default="default")
    d.set_defaults(handler="secrets:cmd_delete")


def cmd_version(args: argparse.Namespace) -> int:
    from tiphys import __version__
    print(f"tiphys: v{__version__}")
    return 0


def cmd_controller(args: argparse.Namespace) -> int:
    from tiphys.server.cli import cmd_controller as control
    return control(args)


def cmd_server(args: argparse.Namespace) -> int:
    from tiphys.server.cli import cmd_server as serve
    return serve(args)


def _dispatch(args: argparse.Namespace) -> int:
    handler = args.handler
    if args.command in ("get", "delete"):   # get|delete KIND NAME: objects, local or remote
        from tiphys.cli.objects import is_kind_form
        if (args.command == "get" and args.object) or (
                args.command == "delete" and is_kind_form(list(args.names or []))):
            module = importlib.import_module("tiphys.cli.objects")
            return int(getattr(module, f"cmd_{args.command}")(args) or 0)
    if args.command in REMOTE or getattr(args, "server", None):
        from tiphys.client.config import resolve
        if resolve(args) is not None:
            if args.command not in REMOTE:
                from tiphys.errors import SpecError
                hint = " (use `tiphys submit --wait` to run on the server)" if args.command == "run" else ""
                raise SpecError(f"`tiphys {args.command}` does not use a server{hint}")
            handler = f"remote:{REMOTE[args.command]}"
    module_name, _, func = handler.partition(":")
    module = importlib.import_module(f"tiphys.cli.{module_name}")
    return int(getattr(module, func)(args) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "run" and not args.file and not args.continue_:   # a usage error, as argparse's
            sys.stderr.write("tiphys run: error: the following arguments are required: FILE (or --continue NAME)\n")
            return 2
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
