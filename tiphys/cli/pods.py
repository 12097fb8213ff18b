"""`tiphys pods FILE [-p k=v] [--mock TEMPLATE=FILE]`: the Pod objects a workflow's steps
would be, as a YAML stream, before any cluster is involved.

The walk is `tiphys run --dry-run`'s; each step it meets is built into a Pod by
tiphys.k8s.podspec. Steps are pretended, with one exception: a step whose outputs the workflow
names (`steps.X.outputs...`, `tasks.X.outputs...`: a loop, a condition or an argument depends on
them) and that no `--mock TEMPLATE=FILE` answers is run for real, in the local sandbox, so that
the Pods after it are the ones a cluster would get (stderr says which ran; `--mock` avoids it).
Only a container or script step with no input or output artifact is run so. The dry run's
workflow record and the logs of the steps it ran are removed afterwards.
"""
from __future__ import annotations

import argparse
import json
import shutil
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


def workflow_pods(wf: dict[str, Any], store: Any, home: Any, mocks: dict[str, dict],
                  run_steps: bool = True) -> list[dict[str, Any]]:
    """The Pods of every step of a dry run of `wf` (prepared as `tiphys run` prepares it);
    `run_steps=False` pretends every step, even those whose outputs the workflow uses."""
    from tiphys.executors.local import LocalExecutor
    from tiphys.engine import results
    from tiphys.k8s import podspec
    pods: list[dict[str, Any]] = []
    text: list[str] = []

    def on_pod(action: Any, node: dict[str, Any], spec: dict[str, Any]) -> bool:
        if not podspec.is_pod(action):
            return False
        pods.append(podspec.build(wf["metadata"], spec, action, str(node.get("name") or action.node_id)))
        if not text:
            text.append(json.dumps([wf.get("spec"), spec]))   # its own, and a referenced template's
        step = results.step_name(str(node.get("displayName") or ""))
        real = (run_steps and bool(step) and action.template.get("name", "") not in mocks and "containerSet" not in action.template
                and not action.inputs and not action.artifacts and results.names_outputs(text[0], step))
        if real:
            sys.stderr.write(f"tiphys pods: running step {step} for real: the workflow uses its outputs "
                             f"(--mock {action.template.get('name', '')}=FILE gives them instead)\n")
        return real

    from tiphys.runtime import runner
    meta = wf["metadata"]
    store.save_workflow({**wf, "status": {"phase": "Pending"}})
    try:
        final = runner.run(wf, store=store, home=home, dry_run=True, mocks=mocks, on_pod=on_pod,
                           executor=LocalExecutor())
    finally:
        store.delete_workflow(meta["name"], meta["namespace"])
        shutil.rmtree(home / "logs" / meta["name"], ignore_errors=True)
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
