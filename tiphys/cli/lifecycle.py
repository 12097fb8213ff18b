"""Local mode (no server configured) of `submit --from`, `wait`, `watch`, `resubmit`, `retry`,
`stop`, `terminate`, `suspend`, `resume`.

`wait` and `watch` poll the SQLite store, so they follow a workflow that a `tiphys run` in
another terminal is running. `resubmit` runs the stored workflow's spec again under a new
name, to the end, as `tiphys run` does. Stopping, suspending or resuming needs a controller
that outlives the command: that is `tiphys server`.
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
from collections.abc import Iterator
from typing import Any

from tiphys.cli import continuation
from tiphys.cli import home as state
from tiphys.cli import progress
from tiphys.errors import SpecError

POLL = 0.2
TEMPLATE_LABEL = "workflows.argoproj.io/workflow-template"
CLUSTER_TEMPLATE_LABEL = "workflows.argoproj.io/cluster-workflow-template"
RESUBMITTED_FROM = "workflows.argoproj.io/resubmitted-from-workflow"
_CONTROLLER_LABELS = ("workflows.argoproj.io/phase", "workflows.argoproj.io/completed")
_FROM_KINDS = {
    "workflowtemplate": "WorkflowTemplate", "workflowtemplates": "WorkflowTemplate", "wftmpl": "WorkflowTemplate",
    "clusterworkflowtemplate": "ClusterWorkflowTemplate", "clusterworkflowtemplates": "ClusterWorkflowTemplate",
    "cwftmpl": "ClusterWorkflowTemplate", "cwft": "ClusterWorkflowTemplate",
    "cronworkflow": "CronWorkflow", "cronwf": "CronWorkflow", "cwf": "CronWorkflow",
}


class NeedsServer(SpecError):
    """A verb that only a running controller can carry out."""


def needs_server(verb: str, extra: str = "") -> NeedsServer:
    return NeedsServer(f"`tiphys {verb}` needs a Tiphys server; set TIPHYS_SERVER (or --server URL) or start "
                       f"`tiphys server`{extra}")


def parse_from(text: str) -> tuple[str, str]:
    """`--from workflowtemplate/NAME` -> (kind, name)."""
    kind, sep, name = text.partition("/")
    kind_name = _FROM_KINDS.get(kind.strip().lower().replace("-", ""))
    if not sep or not name.strip() or kind_name is None:
        raise SpecError(f"--from {text!r}: expected workflowtemplate/NAME or clusterworkflowtemplate/NAME")
    return kind_name, name.strip()


def from_template(kind: str, name: str) -> dict:
    """The Workflow `argo submit --from kind/name` creates: a workflowTemplateRef to it."""
    cluster = kind == "ClusterWorkflowTemplate"
    ref: dict[str, Any] = {"name": name, **({"clusterScope": True} if cluster else {})}
    label = CLUSTER_TEMPLATE_LABEL if cluster else TEMPLATE_LABEL
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"generateName": f"{name}-", "labels": {label: name}},
            "spec": {"workflowTemplateRef": ref}}


def resubmitted(wf: dict) -> dict:
    """A copy of `wf` to run again: same spec, labels and annotations, a new name (its
    generateName, else NAME-xxxxx), the resubmitted-from label; no status."""
    meta = wf.get("metadata") or {}
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k not in _CONTROLLER_LABELS}
    labels[RESUBMITTED_FROM] = meta.get("name", "")
    new_meta: dict[str, Any] = {"generateName": meta.get("generateName") or f"{meta.get('name', 'workflow')}-",
                                "namespace": meta.get("namespace") or "default", "labels": labels}
    if meta.get("annotations"):
        new_meta["annotations"] = dict(meta["annotations"])
    return {"apiVersion": wf.get("apiVersion") or "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": new_meta, "spec": copy.deepcopy(wf.get("spec") or {})}


# -- submit --from ---------------------------------------------------------------------------

def cmd_submit(args: argparse.Namespace) -> int:
    from tiphys.cli import run
    if args.from_ and args.file:
        raise SpecError("give a FILE or --from KIND/NAME, not both")
    if not args.from_:
        if not args.file:
            raise SpecError("nothing to submit: give a FILE (or '-' for stdin) or --from workflowtemplate/NAME")
        return run.cmd_run(args)
    kind, name = parse_from(args.from_)
    if kind == "CronWorkflow":
        return _run_prepared(args, from_cron(name, args.namespace or "default"))
    return _run_prepared(args, from_template(kind, name), check=(kind, name))


def from_cron(name: str, namespace: str) -> dict:
    """A run of CronWorkflow `name` now, as `argo submit --from cronwf/NAME` makes it."""
    from tiphys.cron import runs
    with state.open_store() as store:
        cron = store.get_template("CronWorkflow", name, namespace)
    if cron is None:
        raise SpecError(f'CronWorkflow "{name}" not found (create it with `tiphys cron create`)')
    return runs.new_workflow(cron, None, manual=True)


def _run_prepared(args: argparse.Namespace, raw: dict, *, check: tuple[str, str] | None = None) -> int:
    """Apply the command-line overrides to `raw`, lint, run to the end, print; exit by phase."""
    from tiphys.cli import run
    from tiphys.spec.load import Manifest
    home = state.home_dir()
    with state.open_store(home) as store:
        if check and store.registry(*check) is None:
            raise SpecError(f'{check[0]} "{check[1]}" not found (register it with `tiphys template create`)')
        params: list[tuple[str, str]] = []
        if getattr(args, "parameter_file", None):
            params += run.read_parameter_file(args.parameter_file)
        params += run.parse_assignments(getattr(args, "parameters", []) or [], "-p")
        wf = run.prepare(raw, args, store, params=params)
        if not run.lint_or_report([Manifest(kind="Workflow", name=wf["metadata"]["name"], raw=wf,
                                            file="<command line>", index=0)], store, running=True):
            return 1
        args.output = getattr(args, "output", None)
        args.dry_run = getattr(args, "dry_run", False)
        final = run._run_one(wf, store, home, args, run.read_mocks(getattr(args, "mock", []) or [], args.dry_run))
    run.show(final, args.output)
    return 0 if progress.phase(final) == "Succeeded" else 1


# -- wait / watch ----------------------------------------------------------------------------

def _snapshots(name: str, namespace: str | None) -> Iterator[dict]:
    """The stored workflow, re-read every POLL seconds, while it exists."""
    with state.open_store() as store:
        wf = state.find_workflow(store, name, namespace)
        meta = wf["metadata"]
        told = False
        while True:
            if not told and continuation.orphaned(store, wf):   # it waits for `tiphys run --continue`
                print(f"tiphys: workflow {meta['name']}: {continuation.note(wf)}", file=sys.stderr, flush=True)
                told = True
            yield wf
            time.sleep(POLL)
            wf = store.get_workflow(meta["name"], meta.get("namespace") or "default")
            if wf is None:
                return


def cmd_wait(args: argparse.Namespace) -> int:
    from tiphys.errors import NotFoundError
    ok = True
    for name in args.names:
        try:
            final = progress.quietly(_snapshots(name, args.namespace), name)
        except NotFoundError:
            if args.ignore_not_found:
                continue
            raise
        print(progress.wait_line(final), flush=True)
        ok = ok and progress.phase(final) == "Succeeded"
    return 0 if ok else 1


def cmd_watch(args: argparse.Namespace) -> int:
    from tiphys.cli import run
    final = progress.follow(_snapshots(args.name, args.namespace), name=args.name)
    run.show(final, None)
    return 0 if progress.phase(final) == "Succeeded" else 1


# -- resubmit / retry / stop / terminate / suspend / resume ----------------------------------

def cmd_resubmit(args: argparse.Namespace) -> int:
    if args.memoized:
        raise needs_server("resubmit --memoized")
    if len(args.names) != 1:
        raise SpecError("locally, resubmit one workflow at a time")
    with state.open_store() as store:
        old = state.find_workflow(store, args.names[0], args.namespace)
    args.namespace = args.namespace or old["metadata"].get("namespace")
    return _run_prepared(args, resubmitted(old))


def cmd_retry(args: argparse.Namespace) -> int:
    """Local `retry`: run a Failed/Error workflow again here, keeping its Succeeded nodes (their
    outputs, logs and artifacts) and re-running the rest (engine/rerun.py)."""
    from tiphys.cli import run
    from tiphys.engine import rerun
    if len(args.names) != 1:
        raise SpecError("locally, retry one workflow at a time")
    home = state.home_dir()
    with state.open_store(home) as store:
        wf = state.find_workflow(store, args.names[0], args.namespace)
        new, keep, outputs = rerun.retry(wf, restart_successful=args.restart_successful,
                                         node_field_selector=args.node_field_selector or "",
                                         parameters=[f"{k}={v}" for k, v in run.parse_assignments(args.parameters or [], "-p")])
        from tiphys.executors.choose import executor_for
        chosen = executor_for(new, flag=getattr(args, "executor", None), home=home)
        final = run.execute(new, store, home, dry_run=False, on_update=None, executor=chosen,
                            preset=keep, preset_outputs=outputs)
    run.show(final, getattr(args, "output", None))
    return 0 if progress.phase(final) == "Succeeded" else 1


def cmd_needs_server(args: argparse.Namespace) -> int:
    """stop / terminate / suspend / resume without a server."""
    hint = " (a workflow started by `tiphys run` stops with Ctrl-C in its terminal)" \
        if args.command in ("stop", "terminate") else ""
    raise needs_server(args.command, hint)
