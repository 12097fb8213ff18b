"""CLI tests run `main([...])` in-process with a fresh TIPHYS_HOME and a scripted runner.

The fake runner stands in for tiphys.runtime.runner.run: it records what it was given and
returns an Argo-shaped final Workflow (root Steps node, a StepGroup, one Pod per step), so
these tests check what the CLI does (overrides, output modes, exit codes), not the engine.
"""
from __future__ import annotations

import sys

import pytest
from cli_fakes import FakeRunner

from tiphys.cli.main import main

@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("TIPHYS_HOME", str(home))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("TIPHYS_DEBUG", raising=False)
    monkeypatch.chdir(tmp_path)
    return home


@pytest.fixture
def runner(monkeypatch, home):
    fake = FakeRunner()
    import tiphys.runtime
    monkeypatch.setitem(sys.modules, "tiphys.runtime.runner", fake.module)
    monkeypatch.setattr(tiphys.runtime, "runner", fake.module, raising=False)
    return fake


@pytest.fixture
def cli(capsys, home):
    """cli(*args) -> (exit code, stdout, stderr)."""
    def run(*args: str) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err
    return run

