"""`tiphys get | list | delete | logs`: read (and delete) stored workflows, as argo does."""
from __future__ import annotations

import argparse
import datetime as dt
import re
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tiphys.cli import continuation
from tiphys.cli import home as state
from tiphys.cli import render
from tiphys.errors import NotFoundError, SpecError
from tiphys.executors import choose
from tiphys.store import logfiles
from tiphys.store.sqlite import COMPLETED_PHASES, Store

PHASES = ("Pending", "Running", "Succeeded", "Failed", "Error")
FOLLOW_POLL = 0.2


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _phases(text: str | None) -> set[str] | None:
    if not text:
        return None
    canonical = {p.lower(): p for p in PHASES}
    wanted = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        if part.lower() not in canonical:
            raise SpecError(f"--status {part!r}: expected one of {', '.join(PHASES)}")
        wanted.add(canonical[part.lower()])
    return wanted


# -- get / list / delete ---------------------------------------------------------------------

def cmd_get(args: argparse.Namespace) -> int:
    with state.open_store() as store:
        wf = continuation.noted(store, state.find_workflow(store, args.name, args.namespace))
    if args.output in ("json", "yaml"):
        state.out(state.dump(wf, args.output))
    elif args.output == "name":
        state.out(wf["metadata"]["name"])
    else:
        state.out(render.workflow_summary(wf, _now(), color=state.use_color(sys.stdout),
                                          wide=args.output == "wide"))
    return 0


def _selected(store: Store, args: argparse.Namespace, *, with_nodes: bool) -> list[dict]:
    wanted = _phases(getattr(args, "status", None))
    wfs = store.list_workflows(namespace=args.namespace, prefix=args.prefix, with_nodes=with_nodes)
    result = []
    labels = _label_test(getattr(args, "selector", None))
    for wf in wfs:
        if not labels(wf):
            continue
        phase = (wf.get("status") or {}).get("phase") or "Pending"
        if wanted is not None and phase not in wanted:
            continue
        if getattr(args, "running", False) and phase in COMPLETED_PHASES:
            continue
        if getattr(args, "completed", False) and phase not in COMPLETED_PHASES:
            continue
        result.append(continuation.noted(store, wf))
    return result


def _label_test(selectors: list[str] | None):
    """`-l k=v,k!=w,k in (a,b)` over stored labels (the server's selector grammar)."""
    if not selectors:
        return lambda wf: True
    from tiphys import selectors as sel
    try:
        return sel.label_selector(",".join(selectors))
    except SpecError as exc:
        raise SpecError(f"-l: {exc}") from None


def cmd_list(args: argparse.Namespace) -> int:
    with state.open_store() as store:
        wfs = _selected(store, args, with_nodes=args.output in ("json", "yaml"))
    if getattr(args, "limit", None):
        wfs = wfs[:args.limit]
    if args.output in ("json", "yaml"):
        state.out(state.dump(wfs, args.output))
    elif args.output == "name":
        state.out("\n".join(wf["metadata"]["name"] for wf in wfs))
    else:
        state.out(render.workflow_table(wfs, _now(), wide=args.output == "wide",
                                        headers=not args.no_headers))
    return 0


def _artifact_gc(store: Store, home: Path, meta: dict) -> None:
    """OnWorkflowDeletion artifact GC (a failure is reported, the deletion goes on)."""
    from tiphys.errors import TiphysError
    from tiphys.runtime import artifacts
    wf = store.get_workflow(meta["name"], meta.get("namespace") or "default")
    if wf is None or not artifacts.gc.wanted(wf, artifacts.gc.DELETION):
        return
    try:
        artifacts.on_deletion(wf, store, home)
    except TiphysError as exc:
        print(f"tiphys: artifact GC of {meta['name']}: {exc}", file=sys.stderr)


def cmd_delete(args: argparse.Namespace) -> int:
    if not args.names and not args.all:
        raise SpecError("name the workflows to delete, or use --all")
    home = state.home_dir()
    missing = 0
    with state.open_store(home) as store:
        if args.all:
            targets = [wf["metadata"] for wf in _selected(store, args, with_nodes=False)]
        else:
            targets = []
            for name in args.names:
                try:
                    targets.append(state.find_workflow(store, name, args.namespace)["metadata"])
                except NotFoundError as exc:
                    print(f"tiphys: {exc}", file=sys.stderr)
                    missing += 1
        for meta in targets:
            _artifact_gc(store, home, meta)
            if store.delete_workflow(meta["name"], meta.get("namespace") or "default"):
                shutil.rmtree(home / "logs" / meta["name"], ignore_errors=True)
                choose.forget_workflow(meta["name"], str(meta.get("uid") or ""))
                print(f"Workflow '{meta['name']}' deleted")
    return 1 if missing else 0


# -- logs ------------------------------------------------------------------------------------

def _start_order(wf: dict) -> list[dict]:
    nodes = list(((wf.get("status") or {}).get("nodes") or {}).values())
    far = dt.datetime.max.replace(tzinfo=dt.timezone.utc)

    def key(node: dict) -> tuple:
        name = node.get("name") or node.get("id") or ""
        return (render.parse_time(node.get("startedAt")) or far,
                [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)])
    return sorted(nodes, key=key)


class LogView:
    """Which nodes to print, in which order, under which prefix."""

    def __init__(self, wf: dict, node_filter: str | None, prefix: bool):
        self.wf_name = wf["metadata"]["name"]
        self.node_filter = node_filter
        self.prefix = prefix
        self.refresh(wf)

    def refresh(self, wf: dict) -> None:
        self.nodes = _start_order(wf)
        self.by_id = {n.get("id"): n for n in self.nodes}

    def pod(self, node_id: str, stored_pod: str = "") -> str:
        node = self.by_id.get(node_id)
        if stored_pod:
            return stored_pod
        return render.pod_name(self.wf_name, node) if node else node_id

    def matches(self, node_id: str, pod: str) -> bool:
        if self.node_filter is None:
            return True
        node = self.by_id.get(node_id) or {}
        return self.node_filter in {node_id, pod, node.get("name"), node.get("displayName")}

    def order(self, node_ids: list[str]) -> list[str]:
        """Nodes in the order they started; unknown ones after, as first seen."""
        known = [n.get("id") for n in self.nodes if n.get("id") in node_ids]
        return known + [i for i in dict.fromkeys(node_ids) if i not in known]

    def lines(self, pod: str, text: str) -> Iterator[str]:
        for line in text.splitlines():
            yield f"{pod}: {line}" if self.prefix else line


def _stored(store: Store, name: str) -> dict[str, dict[str, tuple[str, str]]]:
    """node_id -> stream -> (pod_name, content)."""
    found: dict[str, dict[str, tuple[str, str]]] = {}
    for node_id, pod, stream, content in store.get_logs(name):
        found.setdefault(node_id, {})[stream] = (pod, content)
    return found


def print_logs(store: Store, wf: dict, view: LogView) -> int:
    stored = _stored(store, view.wf_name)
    printed = 0
    for node_id in view.order(list(stored)):
        streams = stored[node_id]
        for stream in ("stdout", "stderr"):
            if stream not in streams:
                continue
            pod = view.pod(node_id, streams[stream][0])
            if view.matches(node_id, pod):
                printed += 1
                for line in view.lines(pod, streams[stream][1]):
                    print(line)
    return printed


def follow_logs(store: Store, wf: dict, view: LogView, home: Path) -> None:
    """Print logs as they appear until the workflow completes.

    Finished nodes come from the store; running ones from the live files the runner may
    write under TIPHYS_HOME/logs/<wf>/<node_id>/{stdout,stderr} (complete lines only).
    """
    namespace = wf["metadata"].get("namespace") or "default"
    sent: dict[tuple[str, str], int] = {}
    live_root = home / "logs" / view.wf_name
    while True:
        current = store.get_workflow(view.wf_name, namespace)
        if current is None:
            return  # deleted while we followed
        view.refresh(current)
        stored = _stored(store, view.wf_name)
        live_ids = [p.name for p in live_root.iterdir() if p.is_dir()] if live_root.is_dir() else []
        for node_id in view.order(list(stored) + [n.get("id") for n in view.nodes] + live_ids):
            for stream in ("stdout", "stderr"):
                _follow_stream(view, stored, live_root, node_id, stream, sent)
        sys.stdout.flush()
        if (current.get("status") or {}).get("phase") in COMPLETED_PHASES:
            return
        time.sleep(FOLLOW_POLL)


def _follow_stream(view: LogView, stored: dict, live_root: Path, node_id: str, stream: str,
                   sent: dict[tuple[str, str], int]) -> None:
    found = logfiles.read_stream(stored, live_root, node_id, stream)
    if found is None:
        return
    pod_stored, data, complete = found
    pod = view.pod(node_id, pod_stored)
    if not view.matches(node_id, pod):
        return
    start = sent.get((node_id, stream), 0)
    end = len(data) if complete else data.rfind(b"\n", start) + 1
    if end <= start:
        return
    for line in view.lines(pod, data[start:end].decode(errors="replace")):
        print(line)
    sent[(node_id, stream)] = end


def cmd_logs(args: argparse.Namespace) -> int:
    home = state.home_dir()
    node_filter = args.node or args.pod
    with state.open_store(home) as store:
        wf = state.find_workflow(store, args.name, args.namespace)
        view = LogView(wf, node_filter, prefix=not args.no_prefix)
        if node_filter is not None and not _known_node(store, view, node_filter):
            raise NotFoundError(f'no node "{node_filter}" in workflow "{view.wf_name}"')
        if args.follow:
            follow_logs(store, wf, view, home)
        else:
            print_logs(store, wf, view)
    return 0


def _known_node(store: Store, view: LogView, node_filter: str) -> bool:
    if any(view.matches(n.get("id", ""), view.pod(n.get("id", ""))) for n in view.nodes):
        return True
    return any(view.matches(node_id, view.pod(node_id, pod))
               for node_id, pod, _, _ in store.get_logs(view.wf_name))
