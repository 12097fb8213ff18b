"""Server mode of the CLI: with `--server URL` or `$TIPHYS_SERVER` set, the workflow and
template verbs talk to a Tiphys (or Argo) server through tiphys.client instead of the local
store, with argo CLI's semantics. Output is rendered exactly as in local mode (render.py).

`main._dispatch` routes here; each `cmd_*` mirrors the local command of the same name.
Without `-n`, a workflow NAME is looked up in every namespace (as locally); `@latest` is the
newest workflow.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Iterator
from typing import Any

from tiphys.cli import home as state
from tiphys.cli import progress, render
from tiphys.client import config
from tiphys.client.api import Client
from tiphys.client.errors import ServerDenied, ServerNotFound, ServerRejected
from tiphys.errors import NotFoundError, SpecError

PHASE_LABEL = "workflows.argoproj.io/phase"
COMPLETED_LABEL = "workflows.argoproj.io/completed"
NO_NODES = "-items.status.nodes"
# what `wait` needs of each watch event (the full object carries every node)
WAIT_FIELDS = ("result.type,result.object.metadata.name,result.object.metadata.namespace,"
               "result.object.status.phase,result.object.status.finishedAt,result.object.status.message")


def client(args: argparse.Namespace) -> Client:
    cfg = config.resolve(args)
    if cfg is None:  # main only routes here when a server is configured
        raise SpecError("no server configured: give --server URL or set TIPHYS_SERVER")
    return Client(cfg)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# -- finding workflows -----------------------------------------------------------------------

def listed(c: Client, namespace: str | None, **options: Any) -> list[dict]:
    """list_workflows; across namespaces when none is given, where a namespaced token gets a
    PermissionDenied that should say how to go on."""
    try:
        return c.list_workflows(namespace, **options)
    except ServerDenied as exc:
        if namespace or exc.code != 7:
            raise
        raise ServerDenied(f"{exc} (this token may not act across namespaces: give -n NAMESPACE)",
                           code=exc.code, status=exc.status) from None


def find(c: Client, name: str, namespace: str | None, *, full: bool = True) -> dict:
    """A workflow by name (in `namespace`, else in whichever namespace has it) or '@latest'."""
    if name == "@latest":
        found = listed(c, namespace, fields=NO_NODES, limit=1)
        if not found:
            raise NotFoundError("no workflows yet: @latest names nothing")
        meta = found[0]["metadata"]
        return c.get_workflow(meta.get("namespace") or "default", meta["name"]) if full else found[0]
    if namespace:
        return c.get_workflow(namespace, name, fields=None if full else "metadata,status.phase")
    found = listed(c, None, field_selector=f"metadata.name={name}", fields=NO_NODES)
    found = [wf for wf in found if (wf.get("metadata") or {}).get("name") == name]
    if not found:
        raise NotFoundError(f'workflow "{name}" not found')
    if len(found) > 1:
        spaces = ", ".join(sorted((wf["metadata"].get("namespace") or "default") for wf in found))
        raise SpecError(f'workflow "{name}" exists in several namespaces ({spaces}): choose one with -n')
    meta = found[0]["metadata"]
    return c.get_workflow(meta.get("namespace") or "default", name) if full else found[0]


def _key(wf: dict) -> tuple[str, str]:
    meta = wf.get("metadata") or {}
    return meta.get("namespace") or "default", meta.get("name", "")


def snapshots(c: Client, namespace: str, name: str, *, fields: str | None = None) -> Iterator[dict]:
    """The workflow as it changes, from the server's watch stream (current state first). A
    stream that ends early (a proxy's idle timeout) is opened again while the workflow exists."""
    while True:
        last = None
        for kind, wf in c.watch(namespace, name=name, fields=fields):
            if (wf.get("metadata") or {}).get("name") != name:
                continue
            if kind == "DELETED":
                return
            last = wf
            yield wf
        if last is not None and progress.completed(last):
            return
        try:
            c.get_workflow(namespace, name, fields="metadata.name")
        except ServerNotFound:
            return
        time.sleep(0.5)


def await_completion(c: Client, wf: dict, *, watch: bool, output: str | None) -> dict:
    """Block until `wf` completes; with `watch` show it live meanwhile. The final full workflow."""
    ns, name = _key(wf)
    if progress.completed(wf) and not watch:
        return wf
    if watch:
        stream = sys.stderr if output in ("json", "yaml", "name") else sys.stdout
        return progress.follow(snapshots(c, ns, name), stream=stream, wide=output == "wide", name=name)
    progress.quietly(snapshots(c, ns, name, fields=WAIT_FIELDS), name)
    return c.get_workflow(ns, name)


# -- submit / retry / resubmit: create, then maybe wait ---------------------------------------

def _params(args: argparse.Namespace) -> list[str]:
    from tiphys.cli import run
    pairs: list[tuple[str, str]] = []
    if getattr(args, "parameter_file", None):
        pairs += run.read_parameter_file(args.parameter_file)
    pairs += run.parse_assignments(getattr(args, "parameters", []) or [], "-p")
    return [f"{k}={v}" for k, v in pairs]


def _labels(args: argparse.Namespace) -> dict[str, str]:
    from tiphys.cli import run
    return dict(run.parse_assignments(
        (part for item in getattr(args, "labels", []) or [] for part in item.split(",") if part), "-l"))


def _overridden(raw: dict, args: argparse.Namespace, params: list[str]) -> dict:
    """The Workflow of the file with `argo submit`'s overrides; naming is left to the server."""
    import copy

    from tiphys.cli import run
    wf = copy.deepcopy(raw)
    meta = wf.get("metadata") if isinstance(wf.get("metadata"), dict) else {}
    wf["metadata"] = meta
    if args.name:
        meta["name"] = args.name
        meta.pop("generateName", None)
    elif args.generate_name:
        meta.pop("name", None)
        meta["generateName"] = args.generate_name
    meta["namespace"] = args.namespace or meta.get("namespace") or "default"
    labels = _labels(args)
    if labels:
        meta["labels"] = {**(meta.get("labels") or {}), **labels}
    if args.entrypoint:
        wf.setdefault("spec", {})["entrypoint"] = args.entrypoint
    if params:
        run.set_parameters(wf, [tuple(p.split("=", 1)) for p in params])
    wf.pop("status", None)
    return wf


def _present(c: Client, created: list[dict], args: argparse.Namespace) -> int:
    """argo's submit/retry/resubmit output: the new workflows; with --wait/--watch the end,
    and the exit code says whether every one Succeeded."""
    from tiphys.cli import run
    output = getattr(args, "output", None)
    waiting = getattr(args, "wait", False) or getattr(args, "watch", False)
    if not waiting:
        for wf in created:
            run.show(wf, output)
        return 0
    ok = True
    for wf in created:
        if output in (None, "wide") and not args.watch:
            run.show(wf, output)
        final = await_completion(c, wf, watch=args.watch, output=output)
        if output in (None, "wide") and not args.watch:
            print(progress.wait_line(final), flush=True)
        else:
            run.show(final, output)
        ok = ok and progress.phase(final) == "Succeeded"
    return 0 if ok else 1


def cmd_submit(args: argparse.Namespace) -> int:
    from tiphys.cli import lifecycle, run
    if args.mock:
        raise SpecError("--mock only works locally (with --dry-run, without a server)")
    if args.from_ and args.file:
        raise SpecError("give a FILE or --from KIND/NAME, not both")
    if args.dry_run:  # the server checks and names it, and creates nothing to wait for
        args.wait = args.watch = False
    params = _params(args)
    with client(args) as c:
        if args.from_:
            kind, name = lifecycle.parse_from(args.from_)
            labels = ",".join(f"{k}={v}" for k, v in _labels(args).items())
            options = {"parameters": params, "entryPoint": args.entrypoint, "name": args.name,
                       "generateName": args.generate_name, "labels": labels, "serverDryRun": args.dry_run}
            created = [c.submit_from(args.namespace or "default", kind, name, options)]
            return _present(c, created, args)
        if not args.file:
            raise SpecError("nothing to submit: give a FILE (or '-' for stdin) or --from workflowtemplate/NAME")
        manifests = run.load_manifests(args.file)
        file = "<stdin>" if args.file == "-" else args.file
        workflows = [m for m in manifests if m.kind == "Workflow"]
        for m in manifests:
            if m.kind != "Workflow":
                print(f"tiphys: {m.file or file}: skipping {m.kind} {m.name!r} (register templates with "
                      "`tiphys template create`)", file=sys.stderr)
        if not workflows:
            raise SpecError("no Workflow to submit", file=file)
        created = []
        for m in workflows:
            wf = _overridden(m.raw, args, params)
            try:
                created.append(c.create_workflow(wf["metadata"]["namespace"], wf, server_dry_run=args.dry_run))
            except ServerRejected as exc:
                raise SpecError(exc.message, file=m.file or file, document=m.index if len(manifests) > 1
                                else None) from None
        return _present(c, created, args)


def cmd_retry(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"restartSuccessful": args.restart_successful,
                            "nodeFieldSelector": args.node_field_selector or "", "parameters": _params(args)}
    return _act_and_present(args, "retry", body)


def cmd_resubmit(args: argparse.Namespace) -> int:
    return _act_and_present(args, "resubmit", {"memoized": args.memoized, "parameters": _params(args)})


def _act_and_present(args: argparse.Namespace, verb: str, body: dict[str, Any]) -> int:
    with client(args) as c:
        created = []
        for name in args.names:
            ns, name = _key(find(c, name, args.namespace, full=False))
            created.append(c.workflow_action(ns, name, verb, body))
        return _present(c, created, args)


# -- stop / terminate / suspend / resume -------------------------------------------------------

_DONE_WORDS = {"stop": "stopped", "terminate": "terminated", "suspend": "suspended", "resume": "resumed"}


def cmd_action(args: argparse.Namespace) -> int:
    verb = args.command
    body: dict[str, Any] = {}
    if getattr(args, "message", None):
        body["message"] = args.message
    if getattr(args, "node_field_selector", None):
        body["nodeFieldSelector"] = args.node_field_selector
    failed = 0
    with client(args) as c:
        for name in args.names:
            try:
                ns, name = _key(find(c, name, args.namespace, full=False))
                c.workflow_action(ns, name, verb, body)
            except (ServerRejected, NotFoundError) as exc:
                print(f"tiphys: {name}: {exc}", file=sys.stderr)
                failed += 1
                continue
            print(f"workflow {name} {_DONE_WORDS[verb]}")
    return 1 if failed else 0


# -- wait / watch ------------------------------------------------------------------------------

def cmd_wait(args: argparse.Namespace) -> int:
    ok = True
    with client(args) as c:
        for name in args.names:
            try:
                wf = find(c, name, args.namespace, full=False)
                ns, wf_name = _key(wf)
                final = progress.quietly(snapshots(c, ns, wf_name, fields=WAIT_FIELDS), wf_name)
            except NotFoundError:
                if args.ignore_not_found:
                    continue
                raise
            print(progress.wait_line(final), flush=True)
            ok = ok and progress.phase(final) == "Succeeded"
    return 0 if ok else 1


def cmd_watch(args: argparse.Namespace) -> int:
    from tiphys.cli import run
    with client(args) as c:
        ns, name = _key(find(c, args.name, args.namespace, full=False))
        final = progress.follow(snapshots(c, ns, name), name=name)
    run.show(final, None)
    return 0 if progress.phase(final) == "Succeeded" else 1


# -- get / list / delete / logs ----------------------------------------------------------------

def cmd_get(args: argparse.Namespace) -> int:
    from tiphys.cli import run
    with client(args) as c:
        wf = find(c, args.name, args.namespace)
    run.show(wf, args.output)
    return 0


def _selectors(args: argparse.Namespace) -> dict[str, Any]:
    from tiphys.cli.workflows import _phases
    labels = [part for item in getattr(args, "selector", None) or [] for part in item.split(",") if part.strip()]
    wanted = _phases(getattr(args, "status", None))
    if wanted:
        labels.append(f"{PHASE_LABEL} in ({','.join(sorted(wanted))})")
    if getattr(args, "running", False):
        labels.append(f"{COMPLETED_LABEL}!=true")
    if getattr(args, "completed", False):
        labels.append(f"{COMPLETED_LABEL}=true")
    selected: dict[str, Any] = {"label_selector": ",".join(labels) or None}
    if getattr(args, "prefix", None):
        selected.update(field_selector=f"metadata.name={args.prefix}", name_filter="Prefix")
    return selected


def cmd_list(args: argparse.Namespace) -> int:
    full = args.output in ("json", "yaml")
    with client(args) as c:
        wfs = listed(c, args.namespace, **_selectors(args), fields=None if full else NO_NODES,
                     limit=args.limit, chunk_size=args.chunk_size)
    if full:
        state.out(state.dump(wfs, args.output))
    elif args.output == "name":
        state.out("\n".join(wf["metadata"]["name"] for wf in wfs))
    else:
        state.out(render.workflow_table(wfs, _now(), wide=args.output == "wide", headers=not args.no_headers))
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    if not args.names and not args.all:
        raise SpecError("name the workflows to delete, or use --all")
    missing = 0
    with client(args) as c:
        if args.all:
            targets = [_key(wf) for wf in listed(c, args.namespace, **_selectors(args), fields=NO_NODES)]
        else:
            targets = []
            for name in args.names:
                try:
                    targets.append(_key(find(c, name, args.namespace, full=False)))
                except NotFoundError as exc:
                    print(f"tiphys: {exc}", file=sys.stderr)
                    missing += 1
        for ns, name in targets:
            try:
                c.delete_workflow(ns, name)
            except ServerNotFound as exc:  # deleted meanwhile
                print(f"tiphys: {exc}", file=sys.stderr)
                missing += 1
                continue
            print(f"Workflow '{name}' deleted")
    return 1 if missing else 0


def _known_pod(wf: dict, pod: str) -> bool:
    name = wf["metadata"]["name"]
    for node in ((wf.get("status") or {}).get("nodes") or {}).values():
        if pod in (node.get("id"), node.get("name"), node.get("displayName"), render.pod_name(name, node)):
            return True
    return False


def cmd_logs(args: argparse.Namespace) -> int:
    pod = args.node or args.pod
    with client(args) as c:
        wf = find(c, args.name, args.namespace, full=pod is not None)
        ns, name = _key(wf)
        if pod is not None and not _known_pod(wf, pod):
            raise NotFoundError(f'no node "{pod}" in workflow "{name}"')
        for entry in c.logs(ns, name, pod=pod, follow=args.follow):
            line = str(entry.get("content", ""))
            print(line if args.no_prefix else f"{entry.get('podName', '')}: {line}", flush=args.follow)
    return 0


# -- template / cluster-template -------------------------------------------------------------

def cmd_apply(args: argparse.Namespace) -> int:
    from tiphys.cli.objects import cmd_apply as apply   # it talks to the server itself
    return apply(args)


def cmd_cron(args: argparse.Namespace) -> int:
    from tiphys.cli.cron import cmd_cron as cron
    return cron(args)


def cmd_template(args: argparse.Namespace) -> int:
    handler = {"create": _tpl_create, "get": _tpl_get, "list": _tpl_list, "delete": _tpl_delete,
               "lint": _tpl_lint}[args.template_command]
    with client(args) as c:
        return handler(c, args)


def _tpl_ns(args: argparse.Namespace) -> str:
    return getattr(args, "namespace", None) or "default"


def _tpl_manifests(args: argparse.Namespace, paths: list[str]) -> list:
    from pathlib import Path

    from tiphys.cli import run
    from tiphys.spec import load
    manifests = []
    for path in paths:
        if path != "-" and Path(path).is_dir():
            manifests += [m for f in sorted(Path(path).rglob("*")) if f.suffix in (".yaml", ".yml", ".json")
                          for m in load.load_file(f)]
        else:
            manifests += run.load_manifests(path)
    return manifests


def _tpl_create(c: Client, args: argparse.Namespace) -> int:
    from tiphys.cli import templates
    created = []
    for m in _tpl_manifests(args, args.files):
        if m.kind != args.kind:
            print(f"tiphys: {m.file}: skipping {m.kind} {m.name!r} (not a {args.kind})", file=sys.stderr)
            continue
        try:
            created.append(c.create_template(args.kind, _tpl_ns(args), m.raw))
        except ServerRejected as exc:
            raise SpecError(exc.message, file=m.file, document=m.index) from None
    if not created:
        raise SpecError(f"no {args.kind} found", file=", ".join(args.files))
    templates._show(created, args.output)
    return 0


def _tpl_get(c: Client, args: argparse.Namespace) -> int:
    from tiphys.cli import templates
    templates._show([c.get_template(args.kind, _tpl_ns(args), args.name)], args.output)
    return 0


def _tpl_list(c: Client, args: argparse.Namespace) -> int:
    tpls = c.list_templates(args.kind, _tpl_ns(args))
    if args.output in ("json", "yaml"):
        state.out(state.dump(tpls, args.output))
    elif args.output == "name":
        state.out("\n".join(t["metadata"]["name"] for t in tpls))
    else:
        state.out(render.template_table(tpls, headers=not args.no_headers))
    return 0


def _tpl_delete(c: Client, args: argparse.Namespace) -> int:
    if not args.names and not args.all:
        raise SpecError(f"name the {args.kind}s to delete, or use --all")
    names = [t["metadata"]["name"] for t in c.list_templates(args.kind, _tpl_ns(args))] if args.all else args.names
    missing = 0
    for name in names:
        try:
            c.delete_template(args.kind, _tpl_ns(args), name)
        except ServerNotFound as exc:
            print(f"tiphys: {exc}", file=sys.stderr)
            missing += 1
            continue
        print(f"{args.kind} '{name}' deleted")
    return 1 if missing else 0


def _tpl_lint(c: Client, args: argparse.Namespace) -> int:
    problems = []
    for m in _tpl_manifests(args, args.paths):
        if m.kind not in (args.kind, "Workflow"):
            continue
        try:
            if m.kind == "Workflow":
                c.lint_workflow(_tpl_ns(args), m.raw)
            else:
                c.lint_template(args.kind, _tpl_ns(args), m.raw)
        except ServerRejected as exc:
            problems.append(f"{m.file}: {m.name or '<unnamed>'}: {exc.message}")
    for problem in problems:
        print(problem)
    if problems:
        print(f"✖ {len(problems)} linting error{'s' if len(problems) != 1 else ''} found!")
        return 1
    print("✔ no linting errors found!")
    return 0
