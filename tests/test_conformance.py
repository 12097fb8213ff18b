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
# the project's own case files (tests/conformance/*.yaml) run the shared e2e workflows: their
# `base` is the shared e2e folder, so they count only when ../shared is there
PROJECT_CASES = sorted((Path(__file__).parent / "conformance").glob("*.yaml"))
CASE_FILES = [SHARED / "conformance" / "cases.yaml", SHARED / "conformance" / "e2e-cases.yaml",
              SHARED / "seed" / "cases.yaml", *PROJECT_CASES]
SHARDS = 4

pytestmark = pytest.mark.conformance


def _cases() -> list[tuple[Path, dict]]:
    found = []
    for path in CASE_FILES:
        if path.exists():
            doc = yaml.safe_load(path.read_text())
            if not (path.parent / doc.get("base", ".")).is_dir():
                continue
            for spec in doc["cases"]:
                found.append((path, spec))
    return found


def _base(src: Path) -> Path:
    """The folder the `file`s of case file `src` are in."""
    return (src.parent / yaml.safe_load(src.read_text()).get("base", ".")).resolve()


CASES = _cases()


@pytest.fixture(scope="session")
def conformance_results(tmp_path_factory) -> dict[str, dict]:
    return _run_cases(tmp_path_factory, {})


def _run_cases(tmp_path_factory, extra_env: dict[str, str], only: set[str] | None = None) -> dict[str, dict]:
    if not CASES:
        pytest.skip(f"../shared is absent: {CASE_FILES[0]} not found")
    tiphys = Path(sys.executable).with_name("tiphys")
    work = tmp_path_factory.mktemp("conformance")
    # spread the slow cases (long sleeps) over the shards
    chosen = [i for i in range(len(CASES)) if only is None or _name(CASES[i][1]) in only]
    order = sorted(chosen, key=lambda i: -int(CASES[i][1].get("min_seconds", 0)))
    shards: list[list[int]] = [[] for _ in range(SHARDS)]
    for n, i in enumerate(order):
        shards[n % SHARDS].append(i)
    procs = []
    for k, idx in enumerate(shards):
        docs: dict[Path, list] = {}
        for i in idx:
            docs.setdefault(CASES[i][0], []).append(CASES[i][1])
        for j, (src, specs) in enumerate(docs.items()):
            base = _base(src)
            cases = work / f"shard{k}-{j}.yaml"
            cases.write_text(yaml.safe_dump({"base": str(base), "cases": specs}))
            out = work / f"shard{k}-{j}.json"
            cmd = [sys.executable, str(SHARED / "conformance" / "run.py"), "--cases", str(cases),
                   "--tiphys", str(tiphys), "--json", str(out)]
            procs.append((subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                           env=dict(os.environ, NO_COLOR="1", **extra_env)), out))
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


# -- the same cases with the other executors (TIPHYS_EXECUTOR); TIPHYS_CONFORMANCE_EXECUTORS
# narrows the list (e.g. "sandbox", or "" for the host run only). `pod` plays every step's Pod
# with podman (about 4 minutes for the whole suite on 2 busy cores)

OTHER_EXECUTORS = [e.strip() for e in os.environ.get("TIPHYS_CONFORMANCE_EXECUTORS", "sandbox,docker,pod").split(",")
                   if e.strip() and e.strip() != "host"]


def _unavailable(executor: str) -> str | None:
    """Why `executor` cannot run on this machine (None: it can)."""
    if executor == "sandbox":
        import shutil

        from tiphys.images import store
        if shutil.which("bwrap") is None:
            return "bubblewrap is not installed"
        if store.find("busybox") is None or store.find("python:3.11") is None:
            return ("the test images are not in the image store (scripts/setup.sh: "
                    "35-test-images.sh builds them, 36-registry.sh imports them)")
        return None
    if executor == "docker":
        try:
            from tiphys.executors.docker import DockerExecutor
        except ImportError as exc:
            return f"no docker executor: {exc}"
        return None if DockerExecutor.available() else "no Docker API endpoint answers (DOCKER_HOST, podman)"
    if executor == "pod":
        from tiphys.executors.pod import PodExecutor
        return None if PodExecutor.available() else "podman is not installed (scripts/setup.d/30-podman.sh)"
    return None


@pytest.fixture(scope="session")
def results_with(tmp_path_factory):
    cache: dict[str, dict[str, dict]] = {}

    def get(executor: str) -> dict[str, dict]:
        why = _unavailable(executor)
        if why:
            pytest.skip(f"executor {executor}: {why}")
        if executor not in cache:
            cache[executor] = _run_cases(tmp_path_factory, {"TIPHYS_EXECUTOR": executor})
        return cache[executor]
    return get


@pytest.mark.parametrize("executor", OTHER_EXECUTORS)
@pytest.mark.parametrize("case", [spec.get("name") or spec["file"] for _, spec in CASES])
def test_conformance_case_with_executor(case, executor, results_with):
    result = results_with(executor).get(case)
    assert result is not None, f"case {case!r} did not run with --executor {executor}"
    assert result["ok"], f"with --executor {executor}:\n" + "\n".join(result["problems"])


# -- the cases that pass artifacts, with the default artifact repository set to a real S3
# server (SeaweedFS on loopback; TIPHYS_ARTIFACT_REPOSITORY, credentials from the environment
# through useSDKCreds), so artifacts go through S3 instead of the local repository

def _name(spec: dict) -> str:
    return spec.get("name") or spec["file"]


def _passes_artifacts(path: Path, spec: dict) -> bool:
    base = (path.parent / (yaml.safe_load(path.read_text()).get("base") or ".")).resolve()
    try:
        return "artifacts:" in (base / spec["file"]).read_text()
    except (OSError, KeyError):
        return False


ARTIFACT_CASES = [_name(spec) for path, spec in CASES if _passes_artifacts(path, spec)]


@pytest.fixture(scope="session")
def s3_results(tmp_path_factory):
    from tiphys.testing import seaweed
    if seaweed.weed_binary() is None:
        pytest.fail("SeaweedFS is not installed: run scripts/setup.d/45-seaweedfs.sh")
    with seaweed.running(tmp_path_factory.mktemp("s3")) as s3:
        repo = {"s3": {"bucket": "conformance", "endpoint": s3.endpoint, "insecure": True, "useSDKCreds": True,
                       "createBucketIfNotPresent": {}}}
        env = {"TIPHYS_ARTIFACT_REPOSITORY": json.dumps(repo), "AWS_ACCESS_KEY_ID": s3.access_key,
               "AWS_SECRET_ACCESS_KEY": s3.secret_key}
        results = _run_cases(tmp_path_factory, env, set(ARTIFACT_CASES))
        keys = [o["Key"] for o in s3.client().list_objects_v2(Bucket="conformance").get("Contents") or []]
    return results, keys


def test_s3_repository_variant_really_uses_s3(s3_results):
    assert s3_results[1], "no artifact reached the S3 server"


@pytest.mark.parametrize("case", ARTIFACT_CASES)
def test_conformance_case_with_s3_repository(case, s3_results):
    result = s3_results[0].get(case)
    assert result is not None, f"case {case!r} did not run with the S3 repository"
    assert result["ok"], "with the default artifact repository on S3:\n" + "\n".join(result["problems"])
