"""The README's Hera example, run as written against a real `tiphys server` (only its URL
changed to the test server's)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from test_real_clients import server  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration
README = Path(__file__).resolve().parents[2] / "README.md"


def hera_example() -> str:
    text = README.read_text()
    m = re.search(r"<!-- hera-example -->\s*```python\n(.*?)```", text, re.S)
    assert m, "README.md has no ```python block after <!-- hera-example -->"
    return m.group(1)


def test_readme_hera_example_runs(server):  # noqa: F811
    code = hera_example()
    assert "http://127.0.0.1:2746" in code
    done = subprocess.run([sys.executable, "-c", code.replace("http://127.0.0.1:2746", server)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    name, phase = done.stdout.split()
    assert name.startswith("hello-hera-") and phase == "Succeeded"
