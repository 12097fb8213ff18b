"""The Cron and Events pages: a CronWorkflow with its runs (suspend/resume from the page),
an EventSource listening, a Sensor with the workflow its trigger made."""
from __future__ import annotations

import time

import httpx
import pytest

from ui_helpers import NS, _free_port

pytestmark = pytest.mark.integration

WF_SPEC = {"entrypoint": "main", "templates": [{"name": "main", "container": {"image": "alpine", "command": ["true"]}}]}


def test_cron_and_events_pages(live_server, make_page):
    s = live_server
    cron = {"metadata": {"name": "ui-cron"}, "spec": {"schedules": ["@every 2s"], "workflowSpec": WF_SPEC}}
    assert s.api("POST", f"/api/v1/cron-workflows/{NS}", {"cronWorkflow": cron}).status_code == 200
    port = _free_port()
    es = {"metadata": {"name": "hooks"}, "spec": {"webhook": {"ping": {"port": str(port), "endpoint": "/ping",
                                                                       "method": "POST"}}}}
    sensor = {"metadata": {"name": "ui-sensor"}, "spec": {
        "dependencies": [{"name": "ping", "eventSourceName": "hooks", "eventName": "ping"}],
        "triggers": [{"template": {"name": "make", "argoWorkflow": {"source": {"resource": {
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"generateName": "pinged-"},
            "spec": WF_SPEC}}}}}]}}
    assert s.api("POST", f"/api/v1/event-sources/{NS}", {"eventSource": es}).status_code == 200
    assert s.api("POST", f"/api/v1/sensors/{NS}", {"sensor": sensor}).status_code == 200
    deadline = time.monotonic() + 10
    while True:
        try:
            if httpx.post(f"http://127.0.0.1:{port}/ping", json={"x": 1}).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the webhook did not listen"
        time.sleep(0.2)
    time.sleep(3)

    p = make_page(s)
    page = p.page
    p.goto(f"#/cron?ns={NS}")
    row = page.locator('.cron-list tr[data-name="ui-cron"]')
    row.wait_for()
    assert "@every 2s" in row.inner_text()
    page.wait_for_function("() => document.querySelector('.cron-list tr[data-name=\"ui-cron\"] a') !== null")
    assert "ui-cron-" in row.locator("a").first.inner_text()
    row.locator("button[data-op=suspend]").click()
    page.locator('.cron-list tr[data-name="ui-cron"] button[data-op=resume]').wait_for()
    got = s.api("GET", f"/api/v1/cron-workflows/{NS}/ui-cron").json()
    assert got["spec"]["suspend"] is True

    p.goto(f"#/events?ns={NS}")
    page.locator(".es-list tbody tr").first.wait_for()
    assert f":{port}/ping" in page.locator(".es-list").inner_text()
    sensor_row = page.locator(".sensor-list tbody tr").first
    page.wait_for_function("() => document.querySelector('.sensor-list tbody a') !== null")
    text = sensor_row.inner_text()
    assert "make (argoWorkflow)" in text and "pinged-" in text
    assert not p.foreign_requests()
