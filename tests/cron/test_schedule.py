"""Schedules read as robfig/cron v3 reads them (Argo's parser): the cases where croniter alone
would differ are the point of tiphys.cron.schedule."""
from __future__ import annotations

import datetime as dt

import pytest

from tiphys.cron import runs
from tiphys.cron.schedule import go_duration, parse
from tiphys.errors import SpecError

UTC = dt.timezone.utc


def times(text: str, start: dt.datetime, n: int = 3) -> list[str]:
    s, out, t = parse(text), [], start
    for _ in range(n):
        t = s.next(t)
        out.append(t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"))
    return out


T0 = dt.datetime(2024, 1, 1, 0, 0, 30, tzinfo=UTC)   # a Monday


@pytest.mark.parametrize("text, expected", [
    ("*/5 * * * *", ["2024-01-01 00:05:00", "2024-01-01 00:10:00", "2024-01-01 00:15:00"]),
    ("5/15 * * * *", ["2024-01-01 00:05:00", "2024-01-01 00:20:00", "2024-01-01 00:35:00"]),
    ("@hourly", ["2024-01-01 01:00:00", "2024-01-01 02:00:00", "2024-01-01 03:00:00"]),
    ("@daily", ["2024-01-02 00:00:00", "2024-01-03 00:00:00", "2024-01-04 00:00:00"]),
    ("@weekly", ["2024-01-07 00:00:00", "2024-01-14 00:00:00", "2024-01-21 00:00:00"]),
    ("@monthly", ["2024-02-01 00:00:00", "2024-03-01 00:00:00", "2024-04-01 00:00:00"]),
    ("@yearly", ["2025-01-01 00:00:00", "2026-01-01 00:00:00", "2027-01-01 00:00:00"]),
    ("0 0 1 jan ?", ["2025-01-01 00:00:00", "2026-01-01 00:00:00", "2027-01-01 00:00:00"]),
    ("0 12 * * MON-FRI", ["2024-01-01 12:00:00", "2024-01-02 12:00:00", "2024-01-03 12:00:00"]),
    # both day fields restricted: robfig ORs them (the 13th, or any Friday)
    ("0 0 13 * 5", ["2024-01-05 00:00:00", "2024-01-12 00:00:00", "2024-01-13 00:00:00"]),
    # a day field starting with '*' (here */2): robfig ANDs them (odd days that are Fridays);
    # croniter alone would OR them
    ("0 0 */2 * 5", ["2024-01-05 00:00:00", "2024-01-19 00:00:00", "2024-02-09 00:00:00"]),
    ("0 0 * * 5", ["2024-01-05 00:00:00", "2024-01-12 00:00:00", "2024-01-19 00:00:00"]),
    # robfig's ConstantDelaySchedule: previous time truncated to the second, plus the delay
    ("@every 5s", ["2024-01-01 00:00:35", "2024-01-01 00:00:40", "2024-01-01 00:00:45"]),
    ("@every 1m30s", ["2024-01-01 00:02:00", "2024-01-01 00:03:30", "2024-01-01 00:05:00"]),
    ("@every 200ms", ["2024-01-01 00:00:31", "2024-01-01 00:00:32", "2024-01-01 00:00:33"]),  # at least 1 s
    # CRON_TZ= / TZ= read the fields in that zone
    ("CRON_TZ=Asia/Tokyo 0 9 * * *", ["2024-01-02 00:00:00", "2024-01-03 00:00:00", "2024-01-04 00:00:00"]),
    ("TZ=America/New_York 30 6 * * *", ["2024-01-01 11:30:00", "2024-01-02 11:30:00", "2024-01-03 11:30:00"]),
])
def test_next_times_as_robfig(text, expected):
    assert times(text, T0) == expected


def test_every_keeps_sub_second_start_on_whole_seconds():
    start = dt.datetime(2024, 1, 1, 0, 0, 0, 700000, tzinfo=UTC)
    assert parse("@every 2s").next(start) == dt.datetime(2024, 1, 1, 0, 0, 2, tzinfo=UTC)


@pytest.mark.parametrize("text", ["* * * *", "0 0 0 * * *", "61 * * * *", "* * * * 7", "@often",
                                  "@every 5d", "* * L * *", "0 0 ? * 1#2", "CRON_TZ=Nowhere/City * * * * *"])
def test_refused_as_robfig_refuses(text):
    with pytest.raises(SpecError):
        parse(text)


def test_go_durations():
    assert go_duration("1h30m") == 5400
    assert go_duration("1.5s") == 1.5
    assert go_duration("250ms") == 0.25


def _cron(**spec):
    return {"metadata": {"name": "c", "namespace": "default"},
            "spec": {"schedules": ["* * * * *"], "workflowSpec": {}, **spec}}


def test_missed_run_only_the_latest_and_within_deadline():
    cron = _cron(startingDeadlineSeconds=120)
    cron["status"] = {"lastScheduledTime": "2024-01-01T00:00:00Z"}
    now = dt.datetime(2024, 1, 1, 0, 5, 30, tzinfo=UTC)
    assert runs.missed_run(cron, now) == dt.datetime(2024, 1, 1, 0, 5, tzinfo=UTC)
    late = dt.datetime(2024, 1, 1, 0, 7, 30, tzinfo=UTC)
    five = _cron(startingDeadlineSeconds=60, schedules=["*/5 * * * *"]) | {"status": cron["status"]}
    assert runs.missed_run(five, late) is None        # 00:05 was missed more than 60 s ago
    assert runs.missed_run(_cron() | {"status": cron["status"]}, now) is None        # no deadline: never
    changed = _cron(startingDeadlineSeconds=120) | {"status": cron["status"]}
    changed["metadata"]["annotations"] = {runs.LAST_USED_SCHEDULE: "*/2 * * * *"}   # schedules changed since
    assert runs.missed_run(changed, now) is None


def test_when_and_stop_strategy():
    now = dt.datetime(2024, 1, 1, 2, 0, tzinfo=UTC)
    guard = "{{= cronworkflow.lastScheduledTime == nil || (now() - cronworkflow.lastScheduledTime).Seconds() > 3600 }}"
    cron = _cron(when=guard)
    assert runs.should_run(cron, now)
    cron["status"] = {"lastScheduledTime": "2024-01-01T01:30:00Z"}
    assert not runs.should_run(cron, now)
    cron["status"] = {"lastScheduledTime": "2024-01-01T00:30:00Z"}
    assert runs.should_run(cron, now)
    stop = _cron(stopStrategy={"expression": "cronworkflow.succeeded >= 2"})
    stop["status"] = {"succeeded": 1}
    assert not runs.should_stop(stop, now)
    stop["status"] = {"succeeded": 2}
    assert runs.should_stop(stop, now)


def test_the_run_a_tick_makes():
    cron = _cron(timezone="Asia/Tokyo", workflowMetadata={"labels": {"team": "a"}, "annotations": {"n": "1"}})
    cron["metadata"]["labels"] = {"workflows.argoproj.io/creator": "me", "other": "x"}
    cron["metadata"]["uid"] = "u1"
    t = parse("CRON_TZ=Asia/Tokyo 0 9 * * *").next(T0)
    wf = runs.new_workflow(cron, t)
    meta = wf["metadata"]
    assert meta["name"] == f"c-{int(t.timestamp())}"
    assert meta["labels"] == {runs.CRON_LABEL: "c", "workflows.argoproj.io/creator": "me", "team": "a"}
    assert meta["annotations"] == {runs.SCHEDULED_TIME: "2024-01-02T09:00:00+09:00", "n": "1"}
    assert meta["ownerReferences"][0]["uid"] == "u1" and meta["ownerReferences"][0]["kind"] == "CronWorkflow"
    manual = runs.new_workflow(cron, None, manual=True)["metadata"]
    assert manual["generateName"] == "c-" and "name" not in manual


def test_a_run_sees_its_scheduled_time():
    from tiphys.engine.scope import globals_for
    wf = runs.new_workflow(_cron(), dt.datetime(2024, 1, 1, 9, 0, tzinfo=UTC))
    g = globals_for(wf, wf["spec"], 1704099600.0)
    assert g["workflow.scheduledTime"] == "2024-01-01T09:00:00Z"
    assert "workflow.scheduledTime" not in globals_for({"metadata": {}}, {}, 0.0)


def test_daylight_saving_as_robfig():
    # spring forward: 02:30 does not exist on 2024-03-10 in New York: that day does not fire
    assert times("CRON_TZ=America/New_York 30 2 * * *", dt.datetime(2024, 3, 9, 12, tzinfo=UTC)) == [
        "2024-03-11 06:30:00", "2024-03-12 06:30:00", "2024-03-13 06:30:00"]
    # robfig's own case: 02:30 on March 11 only, the 2012 one skipped -> 2013
    assert times("TZ=America/New_York 30 2 11 Mar ?", dt.datetime(2012, 3, 11, 5, tzinfo=UTC), 1) == [
        "2013-03-11 06:30:00"]
    # fall back: 01:30 happens twice on 2024-11-03 and fires twice
    assert times("CRON_TZ=America/New_York 30 1 * * *", dt.datetime(2024, 11, 2, 12, tzinfo=UTC)) == [
        "2024-11-03 05:30:00", "2024-11-03 06:30:00", "2024-11-04 06:30:00"]
