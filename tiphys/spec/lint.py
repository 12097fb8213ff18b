"""Static checks of Argo manifests, in the spirit of `argo lint`, reporting every problem.

    lint_manifests(manifests, registry=None) -> list[LintIssue]
    lint_paths(paths, registry=None)         -> list[LintIssue]   files and directories

`registry(kind, name) -> dict | None` finds a WorkflowTemplate / ClusterWorkflowTemplate
that is not among the manifests (a whole manifest or just its spec). Manifests of other
kinds (ConfigMap, Sensor...) are ignored. Everything here is linear in the size of the
input (a 100,000-task DAG lints in seconds).

This module is the entry point and keeps the public API; the checks themselves live in
lintdocs (documents, WorkflowSpec), linttemplates (one template), lintflows (steps and
DAGs), lintrefs (`{{...}}` references in scope) and lintvalues (shared helpers).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from tiphys.errors import SpecError
from tiphys.spec.load import ARGO_KINDS, Manifest, load_text_all, read_text
from tiphys.spec.lintevents import EVENT_KINDS, lint_event_kind
from tiphys.spec.lintdocs import DocumentChecks, Registry, _Catalog
from tiphys.spec.lintflows import FlowChecks, depends_task_names
from tiphys.spec.lintrefs import ReferenceChecks
from tiphys.spec.linttemplates import TemplateChecks
from tiphys.spec.lintvalues import _fmt_path

__all__ = ["LintIssue", "Registry", "depends_task_names", "lint_manifests", "lint_paths"]


# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LintIssue:
    file: str
    index: int          # 0-based document position in the file (-1: the file itself)
    kind: str
    name: str
    path: str           # field path such as templates.main.tasks.build (may be "")
    message: str
    at_run: bool = False   # Argo's controller meets this when it runs the workflow (it ends in Error)

    def __str__(self) -> str:
        head = self.file
        if self.index >= 0:
            head += f": document {self.index + 1}"
        if self.kind:
            head += f" ({self.kind} {self.name or '?'})"
        return f"{head}: {self.path}: {self.message}" if self.path else f"{head}: {self.message}"



# --------------------------------------------------------------------------------------------
class _Linter(DocumentChecks, TemplateChecks, FlowChecks, ReferenceChecks):
    """Lints one manifest, appending to a shared issue list; the checks come from the mixins."""

    def __init__(self, m: Manifest, catalog: _Catalog, issues: list[LintIssue]):
        self.m, self.catalog, self.out = m, catalog, issues
        self.templates: dict[str, dict] = {}
        self.template_mode = m.kind in ("WorkflowTemplate", "ClusterWorkflowTemplate")
        self.wf_params: set[str] | None = set()    # None: do not check workflow.parameters.X
        self.template_defaults: dict = {}
        self._items_based: list[tuple[str, str]] = []

    # -- reporting ---------------------------------------------------------------------------
    def issue(self, path: Any, message: str, *, at_run: bool = False) -> None:
        self.out.append(LintIssue(self.m.file, self.m.index, self.m.kind, self.m.name,
                                  _fmt_path(path), message, at_run))


# --------------------------------------------------------------------------------------------
def lint_manifests(manifests: Iterable[Manifest], registry: Registry | None = None) -> list[LintIssue]:
    """Every problem found in the Argo manifests; other kinds are ignored."""
    manifests = list(manifests)
    catalog = _Catalog(manifests, registry)
    issues: list[LintIssue] = []
    for m in manifests:
        if m.kind in EVENT_KINDS:
            lint_event_kind(m.kind, m.raw, lambda path, message, m=m: issues.append(
                LintIssue(m.file, m.index, m.kind, m.name, path, message)))
        if m.kind not in ARGO_KINDS:
            continue
        _Linter(m, catalog, issues).run()
    return issues


def _issue_from_error(e: SpecError) -> LintIssue:
    idx = e.document - 1 if isinstance(e.document, int) else -1
    return LintIssue(e.file or "<stdin>", idx, "", "", e.path or "", e.message)


def _expand_paths(paths: Iterable[str | os.PathLike]) -> tuple[list[str], list[LintIssue]]:
    files: list[str] = []
    problems: list[LintIssue] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for n in sorted(names):
                    if n.endswith((".yaml", ".yml", ".json")):
                        files.append(os.path.join(root, n))
        elif path.exists():
            files.append(str(path))
        else:
            problems.append(LintIssue(str(p), -1, "", "", "", "no such file or directory"))
    return files, problems


def lint_paths(paths: Iterable[str | os.PathLike], registry: Registry | None = None) -> list[LintIssue]:
    """Lint files and directories (recursing into *.yaml, *.yml, *.json) together, so a
    Workflow may use a WorkflowTemplate from another file of the same call."""
    files, issues = _expand_paths(paths)
    manifests: list[Manifest] = []
    for f in files:
        try:
            text = read_text(f)
        except SpecError as e:
            issues.append(_issue_from_error(e))
            continue
        found, errors = load_text_all(text, f)
        manifests += found
        issues += [_issue_from_error(e) for e in errors]
    issues += lint_manifests(manifests, registry)
    return issues
