from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
TESTDATA = Path(__file__).parent / "testdata"


@pytest.fixture
def example():
    def load(name: str) -> str:
        path = SHARED / "conformance" / "examples" / name
        if not path.exists():
            pytest.skip(f"../shared is absent: {path} not found")
        return path.read_text()
    return load


@pytest.fixture
def testdata():
    return lambda name: (TESTDATA / name).read_text()
