"""`tiphys pods FILE [-p k=v] [--mock TEMPLATE=FILE]`: the Pod objects a workflow's steps
would be, as a YAML stream, before any cluster is involved.

The walk is `tiphys run --dry-run`'s (no process starts; `--mock` gives the outputs that
decide loops and conditions); each step it pretends to run is built into a Pod by
tiphys.k8s.podspec. The dry run's workflow record is removed afterwards.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from tiphys.errors import SpecError


def add_parser(sub: argparse._SubParsersAction) -> None:
    text = "print the Kubernetes Pods a workflow's steps would be (a dry run), as a YAML stream"
    p = sub.add_parser("pods", help=text, description=text)
    p.add_argument("file", metavar="FILE", help="workflow manifest (YAML/JSON), '-' for stdin")
    p.add_argument("-p", "--parameter", dest="parameters", action="append", default=[], metavar="NAME=VALUE",
                   help="set a workflow argument parameter (repeatable)")
    p.add_argument("-f", "--parameter-file", metavar="FILE", help="YAML or JSON map of parameter names to values")
    p.add_argument("--entrypoint", help="template to start with (overrides spec.entrypoint)")
    p.add_argument("--name", help="workflow name (overrides metadata.name/generateName)")
    p.add_argument("-n", "--namespace", help="namespace (default: metadata.namespace or 'default')")
    p.add_argument("--mock", action="append", default=[], metavar="TEMPLATE=FILE",
                   help="outputs of TEMPLATE's steps (YAML/JSON {result, parameters, exitCode}, or plain text)")
    p.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml",
                   help="yaml: a YAML stream (default); json: a v1 List")
    p.set_defaults(handler="pods:cmd_pods")


def workflow_pods(wf: dict[str, Any], store: Any, home: Any, mocks: dict[str, dict]) -> list[dict[str, Any]]:
    """The Pods of every step of a dry run of `wf` (prepared as `tiphys run` prepares it)."""
    from tiphys.k8s import podspec
    pods: list[dict[str, Any]] = []

    def on_pod(action: Any, node: dict[str, Any], spec: dict[str, Any]) -> None:
        if podspec.is_pod(action):
            pods.append(podspec.build(wf["metadata"], spec, action, str(node.get("name") or action.node_id)))

    from tiphys.runtime import runner
    meta = wf["metadata"]
    store.save_workflow({**wf, "status": {"phase": "Pending"}})
    try:
        final = runner.run(wf, store=store, home=home, dry_run=True, mocks=mocks, on_pod=on_pod)
    finally:
        store.delete_workflow(meta["name"], meta["namespace"])
    status = final.get("status") or {}
    if status.get("phase") == "Error" and not status.get("nodes"):
        raise SpecError(str(status.get("message") or "the workflow could not start"))
    if status.get("phase") != "Succeeded":   # e.g. a loop over a result no --mock gave
        sys.stderr.write(f"tiphys pods: the dry run of {meta['name']} ended {status.get('phase')}"
                         f"{': ' + status['message'] if status.get('message') else ''}; "
                         "its later steps are not shown (give outputs with --mock TEMPLATE=FILE)\n")
    return pods


def cmd_pods(args: argparse.Namespace) -> int:
    from tiphys.cli import home as state
    from tiphys.cli import run as runcmd
    from tiphys.store.sqlite import TEMPLATE_KINDS
    home = state.home_dir()
    with state.open_store(home) as store:
        manifests = runcmd.load_manifests(args.file)
        if not runcmd.lint_or_report(manifests, store, running=True):
            return 1
        workflows = [m for m in manifests if m.kind == "Workflow"]
        if not workflows:
            raise SpecError("no Workflow in the file", file=args.file)
        params = runcmd.read_parameter_file(args.parameter_file) if args.parameter_file else []
        params += runcmd.parse_assignments(args.parameters, "-p")
        mocks = runcmd.read_mocks(args.mock, True)
        for m in manifests:
            if m.kind in TEMPLATE_KINDS:
                store.save_template(m.kind, m.raw)
        pods: list[dict[str, Any]] = []
        for m in workflows:
            wf = runcmd.prepare(m.raw, args, store, file=m.file or args.file, document=m.index, params=params)
            pods += workflow_pods(wf, store, home, mocks)
    if args.output == "json":
        state.out(state.dump({"apiVersion": "v1", "kind": "List", "items": pods}, "json"))
    else:
        import yaml
        sys.stdout.write(yaml.safe_dump_all(pods, sort_keys=False, default_flow_style=False, width=1 << 16)
                         if pods else "")
    return 0
