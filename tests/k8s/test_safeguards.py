"""The brief's cluster safeguards: ResourceQuota, LimitRange and PriorityClass applied with
`tiphys apply`, and what they do to the steps of their namespace (tiphys.k8s.limits,
tiphys.runtime.admission)."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from tiphys.engine import actions as A
from tiphys.k8s import limits
from tiphys.objects import kinds as table
from tiphys.runtime import admission
from tiphys.store.sqlite import Store

SAFEGUARDS = Path(__file__).resolve().parents[2].parent / "shared" / "seed" / "examples" / "15-cluster-safeguards.yaml"
QUOTA = {"kind": "ResourceQuota", "metadata": {"name": "q", "namespace": "argo"},
         "spec": {"hard": {"pods": "2", "requests.cpu": "1", "requests.memory": "1Gi"}}}
RANGE = {"kind": "LimitRange", "metadata": {"name": "l", "namespace": "argo"},
         "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m", "memory": "512Mi"},
                              "defaultRequest": {"cpu": "100m", "memory": "256Mi"}},
                             {"type": "Pod", "max": {"cpu": "4", "memory": "8Gi"}}]}}


def _step(resources: dict | None = None, name: str = "p") -> A.StartPod:
    body = {"image": "alpine", "command": ["true"], **({"resources": resources} if resources else {})}
    return A.StartPod(node_id=f"wf-{name}", pod_name=f"wf-{name}", template={"name": "t", "container": body})


def _store(tmp_path: Path, *objects: dict) -> Store:
    store = Store(tmp_path / "state.db")
    ctx = table.Context(store, tmp_path)
    for obj in objects:
        kind = table.of_manifest(obj["kind"])
        kind.apply(ctx, table.namespace_of(obj, kind, None))
    return store


def test_the_brief_safeguards_are_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not SAFEGUARDS.exists():
        pytest.skip("the seed examples are not there")
    docs = list(yaml.safe_load_all(SAFEGUARDS.read_text()))
    store = _store(tmp_path, *docs)
    assert store.get_template("ResourceQuota", "argo-workflows-quota", "argo")["spec"]["hard"]["pods"] == "100"
    assert store.get_template("PriorityClass", "batch-workflow", None)["value"] == -100
    assert "metadata" in store.get_template("LimitRange", "argo-workflows-limits", "argo")
    assert "Forbidden: may not be specified when `type` is 'Pod'" in capsys.readouterr().err


def test_a_bad_quantity_is_refused(tmp_path: Path) -> None:
    from tiphys.errors import SpecError
    with pytest.raises(SpecError, match="invalid quantity"):
        _store(tmp_path, {**QUOTA, "spec": {"hard": {"pods": "lots"}}})


def test_limit_range_defaults_and_maxima() -> None:
    tmpl = limits.with_defaults(_step().template, [RANGE])
    assert tmpl["container"]["resources"] == {"limits": {"cpu": "500m", "memory": "512Mi"},
                                              "requests": {"cpu": "100m", "memory": "256Mi"}}
    own = limits.with_defaults(_step({"limits": {"memory": "1Gi"}}).template, [RANGE])["container"]["resources"]
    assert own["limits"] == {"memory": "1Gi", "cpu": "500m"} and own["requests"]["memory"] == "256Mi"
    big = limits.with_defaults(_step({"limits": {"cpu": "8"}}).template, [RANGE])
    assert limits.violation(big, [RANGE]) == "maximum cpu usage per Pod is 4, but limit is 8"
    assert limits.violation(tmpl, [RANGE]) is None


def test_quota_messages_are_kubernetes() -> None:
    use = limits.usage(limits.with_defaults(_step().template, [RANGE]))
    assert limits.exceeded(QUOTA, use, {"pods": 2.0}) == \
        "exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2"
    assert limits.exceeded(QUOTA, use, {"pods": 1.0, "requests.cpu": 0.95}) == \
        "exceeded quota: q, requested: requests.cpu=100m, used: requests.cpu=950m, limited: requests.cpu=1"
    assert limits.missing(QUOTA, limits.usage(_step().template)) == \
        "failed quota: q: must specify requests.cpu,requests.memory"


def test_admission_waits_for_room_and_refuses_what_kubernetes_refuses(tmp_path: Path) -> None:
    store = _store(tmp_path, QUOTA, RANGE)
    gate = admission.Admission(store)
    told: list[tuple[str, str]] = []

    async def scenario() -> None:
        release = asyncio.Event()
        started: list[str] = []

        async def pod(name: str) -> None:
            async with gate.admitted(_step(name=name), "argo", lambda m: told.append((name, m))) as act:
                assert act.template["container"]["resources"]["requests"]["cpu"] == "100m"
                started.append(name)
                await release.wait()

        tasks = [asyncio.create_task(pod(n)) for n in ("a", "b", "c")]
        await asyncio.sleep(0.05)
        assert len(started) == 2
        (late,) = {"a", "b", "c"} - set(started)      # which one waits depends on the threads
        assert told == [(late, f'pods "wf-{late}" is forbidden: exceeded quota: q, requested: pods=1, '
                               'used: pods=2, limited: pods=2')]
        release.set()
        await asyncio.gather(*tasks)
        assert sorted(started) == ["a", "b", "c"] and started[-1] == late and told[-1] == (late, "")
        with pytest.raises(admission.Refused, match='pods "wf-p" is forbidden: maximum cpu usage per Pod is 4'):
            async with gate.admitted(_step({"limits": {"cpu": "5"}}), "argo", lambda m: None):
                pass
        async with gate.admitted(_step(), "other", lambda m: None) as act:    # no safeguards there
            assert "resources" not in act.template["container"]

    asyncio.run(scenario())
    assert store.quota_used("argo").get("pods", 0) == 0
