"""The scheduler over a real store: two controllers sharing it fire each tick once; Forbid
skips a tick while a run is active; suspend fires nothing; a bad schedule is a SpecError
condition."""
from __future__ import annotations

import time

from tiphys.cron.scheduler import CronScheduler
from tiphys.store.sqlite import Store


def _cron(name: str, **spec) -> dict:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "CronWorkflow",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
            "spec": {"schedules": ["@every 1s"], "workflowSpec": {"entrypoint": "main"}, **spec}}


def _scheduler(store: Store, owner: str, made: list, phase: str = "Succeeded") -> CronScheduler:
    def submit(wf: dict) -> dict:
        wf = {**wf, "status": {"phase": phase}}
        store.save_workflow(wf)
        made.append((owner, wf["metadata"]["name"]))
        return wf
    return CronScheduler(store, owner, submit=submit, terminate=lambda ns, n: None,
                         delete=lambda ns, n: store.delete_workflow(n, ns))


def _wait(seconds: float, *schedulers: CronScheduler) -> None:
    for s in schedulers:
        s.start()
    time.sleep(seconds)
    for s in schedulers:
        s.close()


def test_two_controllers_fire_each_tick_once(two_stores):
    a_store, b_store = two_stores
    a_store.save_template("CronWorkflow", _cron("shared", successfulJobsHistoryLimit=100))
    made: list = []
    a, b = _scheduler(a_store, "a", made), _scheduler(b_store, "b", made)
    _wait(4.5, a, b)
    names = [n for _, n in made]
    assert len(names) >= 3
    assert len(names) == len(set(names)), made           # no tick ran twice
    stamps = sorted(int(n.rsplit("-", 1)[1]) for n in names)
    assert stamps == list(range(stamps[0], stamps[0] + len(stamps)))   # none skipped
    status = a_store.get_template("CronWorkflow", "shared")["status"]
    assert status["lastScheduledTime"] and status["phase"] == "Active"


def test_forbid_skips_while_active_and_suspend_fires_nothing(tmp_path):
    store = Store(tmp_path / "t.db")
    store.save_template("CronWorkflow", _cron("forbid", concurrencyPolicy="Forbid"))
    store.save_template("CronWorkflow", _cron("asleep", suspend=True))
    made: list = []
    _wait(3.5, _scheduler(store, "a", made, phase="Running"))
    names = [n for _, n in made]
    assert len([n for n in names if n.startswith("forbid-")]) == 1     # the first run stays active
    assert not [n for n in names if n.startswith("asleep-")]


def test_bad_schedule_is_a_spec_error_condition(tmp_path):
    store = Store(tmp_path / "t.db")
    store.save_template("CronWorkflow", _cron("bad", schedules=["61 * * * *"]))
    _wait(1.5, _scheduler(store, "a", []))
    conds = store.get_template("CronWorkflow", "bad")["status"]["conditions"]
    assert conds[0]["type"] == "SpecError" and "61" in conds[0]["message"]


def test_history_limits_and_counters(tmp_path):
    store = Store(tmp_path / "t.db")
    store.save_template("CronWorkflow", _cron("hist", successfulJobsHistoryLimit=1))
    made: list = []
    sched = _scheduler(store, "a", made)
    _wait(3.5, sched)
    sched._sync(("default", "hist"))        # the periodic sync, once more after the last tick
    left = store.list_page(namespace="default", labels={"workflows.argoproj.io/cron-workflow": "hist"}, limit=50)[0]
    assert len(made) >= 3
    assert [w["metadata"]["name"] for w in left] == [made[-1][1]]      # only the newest is kept
    status = store.get_template("CronWorkflow", "hist")["status"]
    assert status["succeeded"] == len(made) and "active" not in status


def test_replace_terminates_the_active_run(tmp_path):
    store = Store(tmp_path / "t.db")
    store.save_template("CronWorkflow", _cron("rep", concurrencyPolicy="Replace"))
    made: list = []
    terminated: list = []
    sched = _scheduler(store, "a", made, phase="Running")
    sched._terminate = lambda ns, name: terminated.append(name)
    _wait(2.5, sched)
    names = [n for _, n in made]
    assert len(names) >= 2
    assert terminated[0] == names[0]          # the second tick ended the first run before submitting
