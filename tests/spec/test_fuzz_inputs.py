"""Property test: no input, valid or not, makes lint or the engine fail with anything but a
TiphysError (which the CLI prints as a located message, never `tiphys: unexpected error`).

Takes the upstream workflows under ../shared (conformance examples and e2e, seed examples),
mutates them (keys deleted, values of another type, values swapped, lists cut short, template
names garbled) and feeds them to lint, then, when lint accepts them (as `tiphys run` and the
server do), to the engine with simulated pods.
"""
from __future__ import annotations

import copy
import signal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiphys.errors import TiphysError
from tiphys.spec.lint import lint_manifests
from tiphys.spec import load
from tiphys.spec.load import ARGO_KINDS, Manifest, load_text_all
from tiphys.testing.engine import Outcome, Simulation

SHARED = Path(__file__).parents[2].parent / "shared"
FOLDERS = [SHARED / "conformance" / "examples", SHARED / "conformance" / "e2e", SHARED / "seed" / "examples"]
pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason=f"the shared upstream examples ({SHARED}) are absent")

ENGINE_EVENTS = 3000         # a mutated loop may be huge: the engine gets this many events at most


def _corpus() -> list[tuple[str, list[dict[str, Any]]]]:
    found = []
    for folder in FOLDERS:
        for path in sorted(folder.rglob("*.y*ml")) if folder.is_dir() else []:
            try:
                manifests, _ = load_text_all(path.read_text(encoding="utf-8"), str(path))
            except (OSError, UnicodeDecodeError):
                continue
            docs = [m.raw for m in manifests if m.kind in ARGO_KINDS]
            if any(d.get("kind") == "Workflow" for d in docs):
                found.append((str(path.relative_to(SHARED)), docs))
    return found


CORPUS = _corpus() if SHARED.is_dir() else []

ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 10 ** 6), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12), st.sampled_from(["{{", "}}", "{{inputs.parameters.x}}", "{{=1/0}}", "{{item}}", "-1",
                                           "0", "1s", "", "*", "[]", "{}", "a b", "Ünï"]),
    st.lists(st.integers(0, 3), max_size=3), st.dictionaries(st.sampled_from(["a", "name", "value"]),
                                                             st.integers(0, 3), max_size=2))


def _paths(node: Any, prefix: tuple = (), out: list | None = None) -> list[tuple]:
    out = [] if out is None else out
    if isinstance(node, dict):
        for k, v in node.items():
            out.append(prefix + (k,))
            _paths(v, prefix + (k,), out)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.append(prefix + (i,))
            _paths(v, prefix + (i,), out)
    return out


def _parent(doc: Any, path: tuple) -> Any:
    for key in path[:-1]:
        doc = doc[key]
    return doc


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]]]:
    name, docs = draw(st.sampled_from(CORPUS))
    docs = copy.deepcopy(docs)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(docs) - 1))
        paths = _paths(docs[i])
        if not paths:
            continue
        inner = [p for p in paths if isinstance(_parent(docs[i], p)[p[-1]], (dict, list))]
        path = draw(st.sampled_from(inner if inner and draw(st.booleans()) else paths))
        parent, key = _parent(docs[i], path), path[-1]
        how = draw(st.sampled_from(["delete", "replace", "swap", "truncate", "rename", "stringify"]))
        if how == "delete":
            del parent[key]
        elif how == "replace":
            parent[key] = draw(ODD_VALUES)
        elif how == "swap":
            other = draw(st.sampled_from(paths))
            try:
                oparent = _parent(docs[i], other)
                parent[key], oparent[other[-1]] = oparent[other[-1]], parent[key]
            except (KeyError, IndexError, TypeError):
                pass
        elif how == "truncate" and isinstance(parent[key], list):
            parent[key] = parent[key][:draw(st.integers(0, max(0, len(parent[key]) - 1)))]
        elif how == "rename":       # template / step / task names, and references to them
            names = [p for p in paths if p[-1] in ("name", "template", "entrypoint", "depends", "onExit")]
            if names:
                target = draw(st.sampled_from(names))
                _parent(docs[i], target)[target[-1]] = draw(st.text(max_size=8))
        elif how == "stringify":
            parent[key] = str(parent[key])
    return name, docs


def _manifests(name: str, docs: list[dict[str, Any]]) -> list[Manifest]:
    """As the loader makes them (a document it refuses is a clean SpecError already)."""
    return [m for i, d in enumerate(docs) if isinstance(m := load._to_manifest(d, name, i), Manifest)]


class _TooLong(Exception):
    pass


def _alarm(*_: Any) -> None:
    raise _TooLong


def check(name: str, docs: list[dict[str, Any]]) -> None:
    manifests = _manifests(name, docs)
    issues = lint_manifests(manifests)            # must not raise
    assert all(i.file == name and i.message for i in issues)
    if issues or len(manifests) < len(docs):
        return
    registry = {(d.get("kind"), (d.get("metadata") or {}).get("name")): d for d in docs
                if d.get("kind") in ("WorkflowTemplate", "ClusterWorkflowTemplate")}
    for wf in (d for d in docs if d.get("kind") == "Workflow"):
        wf = copy.deepcopy(wf)
        meta = wf.setdefault("metadata", {})
        meta.setdefault("name", str(meta.get("generateName") or "fuzz") + "x")
        try:
            sim = Simulation(wf, outcomes={"fail": Outcome(exit_code=1)}, registry=registry)
            sim.run(limit=ENGINE_EVENTS)
        except TiphysError:
            pass


FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(mutated())
def test_mutated_upstream_workflows_give_only_clean_errors(case: tuple[str, list[dict[str, Any]]]) -> None:
    check(*case)


def test_every_upstream_workflow_lints_and_runs_without_crashing() -> None:
    assert CORPUS, "no upstream workflow found"
    for name, docs in CORPUS:
        check(name, docs)
