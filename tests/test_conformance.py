"""The shared Argo conformance cases, run through the real `tiphys` command line.

Cases run in parallel shards (each shard is `../shared/conformance/run.py` over a subset of
the cases), then every case is reported as its own test, so CI fails on any failing case.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CASE_FILES = [SHARED / "conformance" / "cases.yaml", SHARED / "seed" / "cases.yaml"]
SHARDS = 4

pytestmark = pytest.mark.conformance


def _cases() -> list[tuple[Path, dict]]:
    found = []
    for path in CASE_FILES:
        if path.exists():
            for spec in yaml.safe_load(path.read_text())["cases"]:
                found.append((path, spec))
    return found


CASES = _cases()


@pytest.fixture(scope="session")
def conformance_results(tmp_path_factory) -> dict[str, dict]:
    if not CASES:
        pytest.skip(f"../shared is absent: {CASE_FILES[0]} not found")
    tiphys = Path(sys.executable).with_name("tiphys")
    work = tmp_path_factory.mktemp("conformance")
    # spread the slow cases (long sleeps) over the shards
    order = sorted(range(len(CASES)), key=lambda i: -int(CASES[i][1].get("min_seconds", 0)))
    shards: list[list[int]] = [[] for _ in range(SHARDS)]
    for n, i in enumerate(order):
        shards[n % SHARDS].append(i)
    procs = []
    for k, idx in enumerate(shards):
        docs: dict[Path, list] = {}
        for i in idx:
            docs.setdefault(CASES[i][0], []).append(CASES[i][1])
        for j, (src, specs) in enumerate(docs.items()):
            base = (src.parent / yaml.safe_load(src.read_text()).get("base", ".")).resolve()
            cases = work / f"shard{k}-{j}.yaml"
            cases.write_text(yaml.safe_dump({"base": str(base), "cases": specs}))
            out = work / f"shard{k}-{j}.json"
            cmd = [sys.executable, str(SHARED / "conformance" / "run.py"), "--cases", str(cases),
                   "--tiphys", str(tiphys), "--json", str(out)]
            procs.append((subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                           env=dict(os.environ, NO_COLOR="1")), out))
    results: dict[str, dict] = {}
    for proc, out in procs:
        text, _ = proc.communicate(timeout=1500)
        sys.stdout.write(text)
        if out.exists():
            for r in json.loads(out.read_text()):
                results[r["case"]] = r
    return results


@pytest.mark.parametrize("case", [spec.get("name") or spec["file"] for _, spec in CASES])
def test_conformance_case(case, conformance_results):
    result = conformance_results.get(case)
    assert result is not None, f"case {case!r} did not run"
    assert result["ok"], "\n".join(result["problems"])
