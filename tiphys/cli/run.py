"""`tiphys run FILE` (and its alias `submit`): load, lint, register templates, apply the
command-line overrides as `argo submit` does, run to the end, print the result.

The exit code is 0 exactly when every workflow of the file Succeeded. What the workflow
does is the runtime's business (`tiphys.runtime.runner.run`); this module only prepares
the Workflow dict and presents the outcome.
"""
from __future__ import annotations

import argparse
import asyncio
import copy
import json
import re
import shutil
import signal
import sys
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tiphys.cli import home as state
from tiphys.errors import SpecError, TiphysError
from tiphys.naming import generated_name
from tiphys.store.sqlite import TEMPLATE_KINDS, Store, now_iso

_DNS_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


# -- loading ---------------------------------------------------------------------------------

def load_manifests(path: str) -> list:
    """Every document of FILE ('-' reads stdin), via tiphys.spec.load."""
    from tiphys.spec import load
    return load.load_path(path)


def registry_with(manifests: Iterable, store: Store) -> Callable[[str, str], dict | None]:
    """Templates defined in the same files win over the registered ones."""
    local = {(m.kind, m.name): m.raw for m in manifests if m.kind in TEMPLATE_KINDS}

    def registry(kind: str, name: str) -> dict | None:
        return local.get((kind, name)) or store.registry(kind, name)
    return registry


def lint_or_report(manifests: list, store: Store, *, running: bool = False) -> bool:
    """Lint; print every issue to stderr. True when clean. `running`: issues that Argo's
    controller meets only when it runs the workflow (a missing workflowTemplateRef) are left
    to the run, which ends in Error as in Argo."""
    from tiphys.spec import lint
    issues = [i for i in lint.lint_manifests(manifests, registry_with(manifests, store))
              if not (running and i.at_run)]
    for issue in issues:
        print(str(issue), file=sys.stderr)
    return not issues


# -- overrides -------------------------------------------------------------------------------

def parse_assignments(items: Iterable[str], flag: str) -> list[tuple[str, str]]:
    """NAME=VALUE pairs; the value may itself contain '='."""
    pairs = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise SpecError(f"{flag} {item!r}: expected NAME=VALUE")
        pairs.append((name.strip(), value))
    return pairs


def _as_parameter_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)


def read_parameter_file(path: str) -> list[tuple[str, str]]:
    """A YAML or JSON map of parameter names to values (non-strings JSON-encoded, as argo)."""
    import yaml
    file = Path(path)
    try:
        text = file.read_text()
    except FileNotFoundError:
        raise SpecError("parameter file: no such file", file=path) from None
    except OSError as exc:
        raise SpecError(f"parameter file: cannot read: {exc.strerror or exc}", file=path) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"parameter file is not valid YAML/JSON: {exc}", file=path) from exc
    if data is None:
        return []
    if not isinstance(data, dict):
        raise SpecError(f"parameter file must be a map of names to values, not {type(data).__name__}",
                        file=path)
    return [(str(k), _as_parameter_value(v)) for k, v in data.items()]


def set_parameters(wf: dict, pairs: Iterable[tuple[str, str]], file: str | None = None) -> None:
    """Set spec.arguments.parameters[].value, adding parameters the workflow lacks; a value
    outside the parameter's enum is refused (SpecError naming `file`)."""
    spec = wf.setdefault("spec", {})
    arguments = spec.get("arguments")
    if not isinstance(arguments, dict):
        arguments = spec["arguments"] = {}
    params = arguments.get("parameters")
    if not isinstance(params, list):
        params = arguments["parameters"] = []
    for name, value in pairs:
        for i, param in enumerate(params):
            if isinstance(param, dict) and param.get("name") == name:
                enum = param.get("enum")
                if isinstance(enum, list) and enum and value not in {_enum_text(e) for e in enum}:
                    # Argo validates the submitted workflow, the override included, against the enum
                    raise SpecError(f"-p {name}={value}: value {value!r} of parameter {name!r} is not in its enum "
                                    f"[{', '.join(_enum_text(e) for e in enum)}]",
                                    file=file, path=f"spec.arguments.parameters[{i}]")
                param["value"] = value
                param.pop("valueFrom", None)
                break
        else:
            params.append({"name": name, "value": value})


def _enum_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def prepare(raw: dict, args: argparse.Namespace, store: Store, *, file: str = "",
            document: int | None = None, params: list[tuple[str, str]] | None = None) -> dict:
    """A deep copy of the Workflow with every command-line override applied."""
    wf = copy.deepcopy(raw)
    meta = wf.get("metadata")
    if not isinstance(meta, dict):
        meta = wf["metadata"] = {}
    if getattr(args, "name", None):
        if not _DNS_NAME.match(args.name) or len(args.name) > 253:
            raise SpecError(f"--name {args.name!r}: must be lowercase letters, digits, '-' or '.'")
        meta["name"] = args.name
        meta.pop("generateName", None)
    elif getattr(args, "generate_name", None):
        meta.pop("name", None)
        meta["generateName"] = args.generate_name
    namespace = getattr(args, "namespace", None) or meta.get("namespace") or "default"
    meta["namespace"] = namespace
    if not meta.get("name"):
        prefix = meta.get("generateName")
        if not prefix:
            raise SpecError("metadata.name or metadata.generateName is required", file=file or None,
                            document=document, path="metadata")
        meta["name"] = generated_name(str(prefix), lambda n: store.workflow_phase(n, namespace) is not None)
    labels = parse_assignments(
        (part for item in getattr(args, "labels", []) or [] for part in item.split(",") if part), "-l")
    if labels:
        meta["labels"] = {**(meta.get("labels") or {}), **dict(labels)}
    if getattr(args, "entrypoint", None):
        wf.setdefault("spec", {})["entrypoint"] = args.entrypoint
    if params:
        set_parameters(wf, params, file=file or None)
    meta.setdefault("creationTimestamp", now_iso())
    meta.setdefault("uid", str(uuid.uuid4()))
    wf.pop("status", None)
    return wf


# -- running ---------------------------------------------------------------------------------

def _forget(store: Store, home: Path, wf: dict) -> None:
    """A re-run under a fixed name replaces the old record, logs included."""
    meta = wf["metadata"]
    store.delete_workflow(meta["name"], meta["namespace"])
    shutil.rmtree(home / "logs" / meta["name"], ignore_errors=True)


def read_mocks(assignments: list[str], dry_run: bool) -> dict[str, dict]:
    """`--mock TEMPLATE=FILE`: what a template's steps output in a dry run."""
    if assignments and not dry_run:
        raise SpecError("--mock only applies with --dry-run")
    mocks: dict[str, dict] = {}
    for name, file in parse_assignments(assignments, "--mock"):
        try:
            text = Path(file).read_text()
        except OSError as exc:
            raise SpecError(f"--mock {name}: cannot read {file}: {exc.strerror}", file=file) from exc
        import yaml
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            data = None
        if not isinstance(data, dict):
            data = {"result": text}
        params = data.get("parameters") or {}
        if not isinstance(params, dict):
            raise SpecError("parameters must be a map of name to value", file=file, path="parameters")
        mocks[name] = {"stdout": str(data.get("result", data.get("stdout", ""))),
                       "parameters": {str(k): str(v) for k, v in params.items()},
                       "exit_code": int(data.get("exitCode", 0))}
    return mocks


def execute(wf: dict, store: Store, home: Path, *, dry_run: bool,
            on_update: Callable[[dict], None] | None, mocks: dict[str, dict] | None = None,
            executor: Any = None, preset: dict | None = None, preset_outputs: dict | None = None,
            resume: bool = False) -> dict:
    """Run through tiphys.runtime.runner, Ctrl-C and SIGTERM stopping the workflow. The
    runner saves the final state (its forced save at the end); only a run that did not get
    that far (an exception out of the runner) is recorded here. With `preset` (a retry:
    engine/rerun.py) the earlier run's record is replaced but its logs are kept.

    A real run journals the engine's inputs and holds the workflow's lease under this
    process's identity (cli/continuation.py): killed, it leaves its steps running and the
    workflow to `tiphys run --continue NAME`, which calls this with `resume`."""
    from tiphys.cli import continuation
    from tiphys.runtime import runner
    meta = wf["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    durable = not dry_run
    if not resume:
        if preset is None:
            _forget(store, home, wf)
        if durable:
            continuation.take(store, namespace, name, getattr(executor, "name", None))
            store.clear_journal(namespace, name)
        store.save_workflow({**wf, "status": {"phase": "Pending"}})
    else:
        continuation.take(store, namespace, name, getattr(executor, "name", None))
    try:
        final = runner.run(wf, store=store, home=home, on_update=on_update, dry_run=dry_run,
                           mocks=mocks, plan=_plan_printer() if dry_run else None, executor=executor,
                           preset=preset, preset_outputs=preset_outputs, on_start=_interruptible,
                           journal=durable, resume=resume)
    except BaseException as exc:  # record why, so `tiphys get` does not show it Pending forever
        interrupted = isinstance(exc, KeyboardInterrupt)
        status = {"phase": "Failed" if interrupted else "Error", "finishedAt": now_iso(),
                  "message": "interrupted" if interrupted else f"tiphys: {exc}"}
        try:
            store.save_workflow({**wf, "status": status})
            _done(store, namespace, name, durable)
        except TiphysError:
            pass
        raise
    if (final.get("status") or {}).get("phase") in ("Succeeded", "Failed", "Error"):
        _done(store, namespace, name, durable)
    return final


def _interruptible(run: Any) -> None:
    """SIGINT and SIGTERM stop the workflow (the runner's `interrupt`: its steps are stopped,
    the run ends within a bounded grace; a second signal ends it at once). Installed on the
    run's loop, which removes them when it closes."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, run.interrupt)
        except (NotImplementedError, RuntimeError):   # not the main thread: no signals here
            pass


def _done(store: Store, namespace: str, name: str, durable: bool) -> None:
    """The workflow ended: its journal is no longer needed, nor its lease."""
    if durable:
        from tiphys.cli import continuation
        store.clear_journal(namespace, name)
        continuation.let_go(store, namespace, name)


def cmd_continue(args: argparse.Namespace) -> int:
    """`tiphys run --continue NAME`: take over a workflow whose `tiphys run` died and run it to
    its end from where it was (cli/continuation.py)."""
    from tiphys.cli import continuation
    home = state.home_dir()
    with state.open_store(home) as store:
        wf = state.find_workflow(store, args.continue_, args.namespace)
        meta = wf["metadata"]
        namespace, name = meta.get("namespace") or "default", meta["name"]
        phase = (wf.get("status") or {}).get("phase") or "Pending"
        if phase not in ("Pending", "Running"):
            raise SpecError(f"workflow {namespace}/{name} is {phase}: nothing to continue "
                            f"(`tiphys retry {name}` runs its failed steps again)")
        if not store.journal(namespace, name):
            raise SpecError(f"workflow {namespace}/{name} has no journal to continue from "
                            "(it was not started by `tiphys run`, or by an older Tiphys)")
        from tiphys.executors import choose
        recorded = continuation.recorded_executor(store, namespace, name)
        chosen = choose.executor_for(wf, flag=args.executor, home=home) if args.executor or not recorded \
            else choose.Chosen(choose.Choice(recorded, "the run it continues"))
        final = _run_one(wf, store, home, args, {}, chosen=chosen, resume=True)
        show(final, args.output)
        return 0 if (final.get("status") or {}).get("phase") == "Succeeded" else 1


def _plan_printer() -> Callable[[str, list[str]], None]:
    import shlex

    def plan(pod: str, argv: list[str]) -> None:
        sys.stderr.write(f"{pod}: {shlex.join(argv)}\n")
    return plan


def show(final: dict, output: str | None) -> None:
    if output in ("json", "yaml"):
        state.out(state.dump(final, output))
    elif output == "name":
        state.out((final.get("metadata") or {}).get("name", ""))
    else:
        import datetime as dt

        from tiphys.cli import render
        now = dt.datetime.now(dt.timezone.utc)
        state.out(render.workflow_summary(final, now, color=state.use_color(sys.stdout),
                                          wide=output == "wide"))


def cmd_run(args: argparse.Namespace) -> int:
    if getattr(args, "continue_", None):
        if args.file or args.dry_run:
            raise SpecError("--continue NAME takes no FILE and no --dry-run: it continues a stored workflow")
        return cmd_continue(args)
    if not args.file:
        raise SpecError("a workflow FILE is required (or --continue NAME)")
    home = state.home_dir()
    with state.open_store(home) as store:
        manifests = load_manifests(args.file)
        if not lint_or_report(manifests, store, running=True):
            return 1
        file = "<stdin>" if args.file == "-" else args.file
        workflows = [m for m in manifests if m.kind == "Workflow"]
        if not workflows:
            kinds = sorted({m.kind for m in manifests}) or ["no documents"]
            served = sorted(set(kinds) & {"CronWorkflow", "EventSource", "Sensor", "WorkflowEventBinding"})
            hint = (f"{', '.join(served)} run in `tiphys server`: register them with `tiphys apply -f`"
                    if served else "register templates with `tiphys template create`")
            raise SpecError(f"no Workflow to run (found {', '.join(kinds)}; {hint})", file=file)
        params: list[tuple[str, str]] = []
        if args.parameter_file:
            params += read_parameter_file(args.parameter_file)
        params += parse_assignments(args.parameters, "-p")
        mocks = read_mocks(args.mock, args.dry_run)
        prepared = [prepare(m.raw, args, store, file=m.file or file, document=m.index, params=params)
                    for m in workflows]
        for m in manifests:
            if m.kind in TEMPLATE_KINDS:
                store.save_template(m.kind, m.raw)
            elif m.kind == "ConfigMap":   # semaphore sizes and the like, beside the workflow using them
                store.save_configmap(m.raw, namespace=prepared[0]["metadata"].get("namespace") or "default")
        ok = True
        for wf in prepared:
            final = _run_one(wf, store, home, args, mocks)
            show(final, args.output)
            ok = ok and (final.get("status") or {}).get("phase") == "Succeeded"
        return 0 if ok else 1


def _run_one(wf: dict, store: Store, home: Path, args: argparse.Namespace, mocks: dict[str, dict], *,
             chosen: Any = None, resume: bool = False) -> dict:
    live = None
    if args.output in (None, "wide") and _isatty(sys.stderr):
        from tiphys.cli import live as live_view
        live = live_view.LiveTree(sys.stderr, wide=args.output == "wide")
    if chosen is None and not args.dry_run:
        from tiphys.executors.choose import executor_for
        chosen = executor_for(wf, flag=getattr(args, "executor", None), home=home)
    if live is None:
        final = execute(wf, store, home, dry_run=args.dry_run, on_update=None, mocks=mocks, executor=chosen,
                        resume=resume)
    else:
        with live:
            final = execute(wf, store, home, dry_run=args.dry_run, on_update=live.update, mocks=mocks,
                            executor=chosen, resume=resume)
    if chosen is not None and chosen.ran:
        from tiphys.executors.choose import describe
        sys.stderr.write(describe(chosen, final))
    return final


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
