"""The `tiphys` fixture: the real CLI with a fresh TIPHYS_HOME (client_runs.py)."""
from __future__ import annotations

import pytest
from client_runs import Tiphys


@pytest.fixture
def tiphys(tmp_path) -> Tiphys:
    return Tiphys(tmp_path / "home", tmp_path)
