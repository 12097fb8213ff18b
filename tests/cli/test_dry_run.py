"""`tiphys run --dry-run [--mock T=FILE]` with the real runner: no process starts."""
from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).parent / "testdata"


def test_dry_run_walks_loops_with_mocked_outputs(cli, tmp_path):
    mock = tmp_path / "gen.yaml"
    mock.write_text("result: '[\"x\", \"y\", \"z\"]'\n")
    code, out, err = cli("run", DATA / "fanout.yaml", "--dry-run", "--mock", f"gen={mock}", "-o", "json")
    assert code == 0, err
    nodes = {n["displayName"]: n for n in json.loads(out)["status"]["nodes"].values()}
    assert {"each(0:x)", "each(1:y)", "each(2:z)"} <= set(nodes)
    assert "echo 'item y'" in err
    assert "python /argo/staging/script" in err


def test_dry_run_without_mock_gives_empty_outputs(cli):
    code, out, err = cli("run", DATA / "fanout.yaml", "--dry-run", "-o", "json")
    wf = json.loads(out)
    assert code == 1
    assert wf["status"]["phase"] in ("Error", "Failed")
    assert "withParam" in json.dumps(wf["status"]["nodes"])


def test_mock_needs_dry_run(cli, tmp_path):
    mock = tmp_path / "m.txt"
    mock.write_text("[]")
    code, _, err = cli("run", DATA / "fanout.yaml", "--mock", f"gen={mock}")
    assert code == 1
    assert "--mock only applies with --dry-run" in err
