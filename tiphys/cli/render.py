"""Text views of Argo-shaped dicts, as the argo CLI prints them: `get`, `list`, templates.

Pure functions from dicts (plus `now` and a colour switch) to text, so they are unit-tested
without a terminal or a clock. No I/O here.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence

from tiphys.engine import names

COMPLETED = frozenset({"Succeeded", "Failed", "Error"})

_ICONS = {
    "Pending": ("◷", "33"),
    "Running": ("●", "36"),
    "Succeeded": ("✔", "32"),
    "Skipped": ("○", ""),
    "Omitted": ("○", ""),
    "Failed": ("✖", "31"),
    "Error": ("⚠", "31"),
}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_GROUPING = frozenset({"StepGroup", "Retry", "TaskGroup"})
_FIELD = "%-20s %s"


# -- small helpers ---------------------------------------------------------------------------

def template_name(node: dict) -> str:
    ref = node.get("templateRef") or {}
    return node.get("templateName") or ref.get("template") or ""


def pod_name(wf_name: str, node: dict) -> str:
    """A Pod node's name: the `podName` the engine stored, else the engine's rule
    (engine/names.py: Argo's POD_NAMES=v2) for a record that lacks it."""
    return node.get("podName") or names.pod_name(wf_name, node.get("name") or "", template_name(node))


def parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def seconds_between(start: str | None, end: str | None, now: dt.datetime) -> float | None:
    began = parse_time(start)
    if began is None:
        return None
    return max(0.0, ((parse_time(end) or now) - began).total_seconds())


def short_duration(seconds: float | None) -> str:
    """argo's short form: 7s, 3m, 2h, 4d."""
    if seconds is None:
        return ""
    s = int(seconds)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if s >= size:
            return f"{s // size}{unit}"
    return f"{s}s"


def long_duration(seconds: float | None) -> str:
    """argo's long form: '1 minute 5 seconds'."""
    if seconds is None:
        return ""
    s, parts = int(seconds), []
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        count, s = divmod(s, size)
        if count:
            parts.append(f"{count} {unit}{'s' if count != 1 else ''}")
    return " ".join(parts[:2]) or "0 seconds"


def timestamp(value: str | None, now: dt.datetime) -> str:
    """'Wed Sep 11 14:20:39 +0000 (10 seconds ago)' in local time, as argo get prints."""
    when = parse_time(value)
    if when is None:
        return ""
    ago = (now - when).total_seconds()
    rel = "now" if abs(ago) < 1 else (f"{long_duration(ago)} ago" if ago > 0 else f"in {long_duration(-ago)}")
    return f"{when.astimezone().strftime('%a %b %d %H:%M:%S %z')} ({rel})"


def icon(phase: str | None, color: bool) -> str:
    mark, code = _ICONS.get(phase or "Pending", ("◷", "33"))
    return f"\x1b[{code}m{mark}\x1b[0m" if color and code else mark


def visible_len(text: str) -> int:
    return len(_ANSI.sub("", text))


def table(header: Sequence[str] | None, rows: Iterable[Sequence[str]], gap: int = 2) -> str:
    """Left-aligned columns like Go's tabwriter; ANSI colour codes take no width."""
    all_rows = ([list(header)] if header else []) + [list(r) for r in rows]
    if not all_rows:
        return ""
    widths = [0] * max(len(r) for r in all_rows)
    for row in all_rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], visible_len(cell))
    lines = []
    for row in all_rows:
        cells = [cell + " " * (widths[i] - visible_len(cell) + gap) for i, cell in enumerate(row)]
        lines.append("".join(cells).rstrip())
    return "\n".join(lines)


def _natural(text: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


# -- the node tree ---------------------------------------------------------------------------

def _tree_children(nodes: dict[str, dict], wf_name: str) -> tuple[list[str], dict[str, list[str]]]:
    """Roots and, for each node, what it shows beneath it (argo get's render tree).

    A node hangs under a grouping parent (StepGroup, Retry, TaskGroup) that lists it as a
    child; otherwise under its boundary node (the Steps/DAG node that contains it); nodes
    with neither are roots (the workflow node, the onExit node).
    """
    parents: dict[str, list[str]] = {}
    for node_id, node in nodes.items():
        for child in node.get("children") or []:
            parents.setdefault(child, []).append(node_id)
    shown: dict[str, list[str]] = {node_id: [] for node_id in nodes}
    roots = []
    for node_id, node in nodes.items():
        grouping = [p for p in parents.get(node_id, []) if nodes[p].get("type") in _GROUPING]
        boundary = node.get("boundaryID")
        if grouping:
            shown[grouping[0]].append(node_id)
        elif boundary in nodes and boundary != node_id:
            shown[boundary].append(node_id)
        elif parents.get(node_id):  # no boundaryID recorded: fall back to the parent
            shown[parents[node_id][0]].append(node_id)
        else:
            roots.append(node_id)

    def order(node_id: str) -> tuple:
        node = nodes[node_id]
        when = parse_time(node.get("startedAt"))
        return (when is None, when or dt.datetime.min.replace(tzinfo=dt.timezone.utc),
                _natural(node.get("name") or node_id))

    for kids in shown.values():
        kids.sort(key=order)
    roots.sort(key=lambda r: (r != wf_name and nodes[r].get("name") != wf_name, order(r)))
    return roots, shown


def _hidden(node: dict) -> tuple[bool, bool]:
    """(not printed, children indented under a fork) as argo get filters nodes."""
    if node.get("type") == "StepGroup":
        return True, True
    if node.get("type") == "Retry" and len(node.get("children") or []) == 1:
        return True, False
    return False, False


def tree_rows(wf: dict, now: dt.datetime, *, color: bool = False, wide: bool = False) -> list[list[str]]:
    """Rows of the STEP/TEMPLATE/PODNAME/DURATION/MESSAGE table."""
    nodes = (wf.get("status") or {}).get("nodes") or {}
    wf_name = (wf.get("metadata") or {}).get("name", "")
    roots, shown = _tree_children(nodes, wf_name)
    rows: list[list[str]] = []

    def emit(node: dict, prefix: str) -> None:
        label = f"{prefix}{icon(node.get('phase'), color)} {node.get('displayName') or node.get('name') or node.get('id')}"
        pod = duration = ""
        if node.get("type") == "Pod":
            pod = pod_name(wf_name, node)
            duration = short_duration(seconds_between(node.get("startedAt"), node.get("finishedAt"), now))
        row = [label, template_name(node), pod, duration]
        if wide:
            arts = ((node.get("outputs") or {}).get("artifacts")) or []
            row.append(",".join(a.get("name", "") for a in arts))
        row.append(node.get("message") or "")
        rows.append(row)

    def render(node_id: str, node_prefix: str, child_prefix: str) -> None:
        node = nodes[node_id]
        hidden, indent = _hidden(node)
        if not hidden:
            emit(node, node_prefix)
        kids = shown.get(node_id, [])
        last = len(kids) - 1
        for i, kid in enumerate(kids):
            if hidden and indent:
                part, sub = (("──", "  ") if last == 0 else ("┬─", "│ ") if i == 0
                             else ("└─", "  ") if i == last else ("├─", "│ "))
            elif hidden:
                part, sub = "", ""
            else:
                part, sub = ("└─", "  ") if i == last else ("├─", "│ ")
            if hidden:
                render(kid, (node_prefix if i == 0 else child_prefix) + part, child_prefix + sub)
            else:
                render(kid, child_prefix + part, child_prefix + sub)

    for root in roots:
        render(root, " ", " ")
    return rows


def node_tree(wf: dict, now: dt.datetime, *, color: bool = False, wide: bool = False) -> str:
    header = ["STEP", "TEMPLATE", "PODNAME", "DURATION"] + (["ARTIFACTS"] if wide else []) + ["MESSAGE"]
    return table(header, tree_rows(wf, now, color=color, wide=wide))


# -- whole views -----------------------------------------------------------------------------

def parameters(wf: dict) -> list[tuple[str, str]]:
    params = ((wf.get("spec") or {}).get("arguments") or {}).get("parameters") or []
    return [(str(p.get("name", "")), _text(p.get("value", p.get("default", "")))) for p in params]


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    import json
    return json.dumps(value)


def workflow_summary(wf: dict, now: dt.datetime, *, color: bool = False, wide: bool = False) -> str:
    """What `argo get NAME` prints: the fields, then the node tree."""
    meta, status = wf.get("metadata") or {}, wf.get("status") or {}
    lines = [_FIELD % ("Name:", meta.get("name", "")),
             _FIELD % ("Namespace:", meta.get("namespace") or "default"),
             _FIELD % ("Status:", status.get("phase") or "Pending")]
    if status.get("message"):
        lines.append(_FIELD % ("Message:", status["message"]))
    for label, key in (("Created:", None), ("Started:", "startedAt"), ("Finished:", "finishedAt")):
        value = meta.get("creationTimestamp") if key is None else status.get(key)
        if value:
            lines.append(_FIELD % (label, timestamp(value, now)))
    if status.get("startedAt"):
        lines.append(_FIELD % ("Duration:", long_duration(
            seconds_between(status.get("startedAt"), status.get("finishedAt"), now))))
    if status.get("progress"):
        lines.append(_FIELD % ("Progress:", status["progress"]))
    params = parameters(wf)
    if params:
        lines.append("Parameters:")
        lines += [_FIELD % (f"  {name}:", value) for name, value in params]
    text = "\n".join(line.rstrip() for line in lines)
    if status.get("nodes"):
        text += "\n\n" + node_tree(wf, now, color=color, wide=wide)
    return text


def workflow_table(wfs: Iterable[dict], now: dt.datetime, *, wide: bool = False,
                   headers: bool = True) -> str:
    """`argo list`: NAME STATUS AGE DURATION PRIORITY MESSAGE (+ PARAMETERS when wide)."""
    rows = []
    for wf in wfs:
        meta, status = wf.get("metadata") or {}, wf.get("status") or {}
        row = [meta.get("name", ""), status.get("phase") or "Pending",
               short_duration(seconds_between(meta.get("creationTimestamp"), None, now)),
               short_duration(seconds_between(status.get("startedAt"), status.get("finishedAt"), now)),
               str((wf.get("spec") or {}).get("priority") or 0), status.get("message") or ""]
        if wide:
            row.append(",".join(f"{k}={v}" for k, v in parameters(wf)))
        rows.append(row)
    header = ["NAME", "STATUS", "AGE", "DURATION", "PRIORITY", "MESSAGE"] + (["PARAMETERS"] if wide else [])
    return table(header if headers else None, rows)


def template_summary(tpl: dict, now: dt.datetime) -> str:
    meta = tpl.get("metadata") or {}
    lines = [_FIELD % ("Name:", meta.get("name", ""))]
    if meta.get("namespace"):
        lines.append(_FIELD % ("Namespace:", meta["namespace"]))
    if meta.get("creationTimestamp"):
        lines.append(_FIELD % ("Created:", timestamp(meta["creationTimestamp"], now)))
    return "\n".join(lines)


def template_table(tpls: Iterable[dict], *, headers: bool = True) -> str:
    rows = [[(t.get("metadata") or {}).get("name", "")] for t in tpls]
    return table(["NAME"] if headers else None, rows)


def progress_line(wf: dict) -> str:
    """One line for very large workflows, where a live tree would cost too much."""
    status = wf.get("status") or {}
    counts: dict[str, int] = {}
    for node in (status.get("nodes") or {}).values():
        if node.get("type") == "Pod":
            counts[node.get("phase") or "Pending"] = counts.get(node.get("phase") or "Pending", 0) + 1
    detail = ", ".join(f"{n} {phase}" for phase, n in sorted(counts.items()))
    name = (wf.get("metadata") or {}).get("name", "")
    return f"{name}: {status.get('phase') or 'Pending'} {status.get('progress') or ''} ({detail})".replace("  ", " ")
