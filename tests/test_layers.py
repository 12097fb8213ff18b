"""The layering rules of STYLE.md, checked: the engine and the expression languages are pure.

`engine/` and `expr/` never import the shell (runtime, executors, store, server, cli) nor any
I/O library; the import direction flows downward only, across the whole package as
`.importlinter` declares it (cli > server|client > runtime > ... > errors), checked by
import-linter.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "tiphys"
SHELL = ("tiphys.runtime", "tiphys.executors", "tiphys.store", "tiphys.server", "tiphys.cli",
         "tiphys.artifacts")
IO = ("asyncio", "subprocess", "sqlite3", "socket", "shutil", "tempfile", "os", "pathlib", "time",
      "threading", "signal", "urllib", "http")


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("package", ["engine", "expr"])
def test_pure_packages_do_no_io(package):
    for path in sorted((ROOT / package).glob("*.py")):
        for name in imports(path):
            assert not name.startswith(SHELL), f"{path.name} imports {name}"
            assert name.split(".")[0] not in IO, f"{path.name} imports {name}"


def test_expr_and_spec_do_not_import_the_engine():
    for package in ("expr", "spec"):
        for path in sorted((ROOT / package).glob("*.py")):
            assert not any(n.startswith(("tiphys.engine",) + SHELL) for n in imports(path)), path.name


def test_template_kinds_reach_the_engine_only_through_the_frames_seam():
    """Only the interpreter (core) imports core; the kinds see it as `frames.Interpreter`, so
    there is no import cycle and a new kind touches nothing but its module and `kinds.py`."""
    for path in sorted((ROOT / "engine").glob("*.py")):
        if path.name in ("core.py", "stuck.py"):   # the interpreter and its whole-engine diagnosis
            continue
        assert "tiphys.engine.core" not in imports(path), f"{path.name} imports the engine's core"
    leaf = imports(ROOT / "engine" / "frames.py")
    assert not any(n.startswith("tiphys.engine.") and not n.endswith(("podqueue", "tree")) for n in leaf), leaf


def test_the_import_linter_contracts_hold():
    """`lint-imports` over `.importlinter` (every import, function-local and TYPE_CHECKING ones
    included): no module imports a layer above its own."""
    pytest.importorskip("importlinter")
    repo = ROOT.parent
    done = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
                           "sys.exit(lint_imports(no_cache=True, no_logo=True))"],
                          cwd=repo, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(repo)})
    assert done.returncode == 0, done.stdout + done.stderr
