"""Reading and checking Argo manifests: `load` (YAML/JSON -> Manifest) and `lint` (argo-lint-like checks)."""
from tiphys.spec.lint import LintIssue, lint_manifests, lint_paths
from tiphys.spec.load import Manifest, load_file, load_text

__all__ = ["LintIssue", "Manifest", "lint_manifests", "lint_paths", "load_file", "load_text"]
