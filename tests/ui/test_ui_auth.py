"""`tiphys server --auth-mode client`: the UI asks for a token, sends it, and shows nothing
of any workflow without a valid one."""
from __future__ import annotations

import os
import subprocess

import pytest
from ui_helpers import NS, PAYLOAD, artifact_workflow, download_artifact, start_server, tiphys_cmd, wait_api_phase

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SECRET_WF = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "secret-report"},
             "spec": {"entrypoint": "main", "templates": [
                 {"name": "main", "container": {"image": "busybox", "command": ["echo", "classified"]}}]}}


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    home = tmp_path_factory.mktemp("ui-auth-home")
    s = start_server(home, "--auth-mode", "client")
    out = subprocess.run([*tiphys_cmd(), "auth", "token", "create", "--namespace", NS, "-o", "json"],
                         env={**os.environ, "TIPHYS_HOME": str(home)}, capture_output=True, text=True, check=True)
    import json
    token = json.loads(out.stdout)["token"]
    r = s.api("POST", f"/api/v1/workflows/{NS}", {"workflow": SECRET_WF}, token=token)
    assert r.status_code == 200, r.text
    r = s.api("POST", f"/api/v1/workflows/{NS}", {"workflow": artifact_workflow("secret-artifact")}, token=token)
    assert r.status_code == 200, r.text
    wait_api_phase(s, "secret-report", token=token)
    wait_api_phase(s, "secret-artifact", token=token)
    yield s, token
    s.stop()


def test_ui_asks_for_a_token_and_shows_nothing_without_one(auth_server, make_page):
    server, token = auth_server
    p = make_page(server)
    page = p.page
    p.goto(f"#/workflows/{NS}/secret-report")
    page.wait_for_selector("form.login input[name=token]")
    assert "secret-report" not in page.locator("main").inner_text()
    assert page.locator("g[data-id]").count() == 0

    page.fill("input[name=token]", "not-a-token")
    page.click("form.login button[type=submit]")
    page.wait_for_selector("[data-testid=login-error]")
    assert "secret-report" not in page.locator("main").inner_text()
    assert "not valid" in page.text_content("[data-testid=login-error]")

    page.fill("input[name=token]", token)
    page.click("form.login button[type=submit]")
    page.wait_for_selector('[data-pane=graph][data-phase="Succeeded"]', state="attached")
    assert page.locator("g[data-id]", has_text="secret-report").count() == 1

    p.goto("#/workflows")  # a namespaced token: the list starts in its namespace
    page.wait_for_selector('tr[data-key="argo/secret-report"]')
    assert "ns=argo" in page.url

    page.click("#logout")
    page.wait_for_selector("form.login input[name=token]")
    assert "secret-report" not in page.locator("main").inner_text()


ARTIFACT_URL = f"/artifact-files/{NS}/workflows/secret-artifact/secret-artifact/outputs/result-file"
STATUS = "(path) => fetch(path).then((r) => r.status)"  # no Authorization header: only cookies


def test_artifact_download_with_a_token(auth_server, make_page):
    """A download link cannot send the Authorization header: the UI keeps the token in the
    `authorization` cookie too, sent to the artifact paths only, and forgets it on logout."""
    server, token = auth_server
    p = make_page(server)
    page = p.page
    p.goto(f"#/workflows/{NS}/secret-artifact")
    page.wait_for_selector("form.login input[name=token]")
    assert page.evaluate(STATUS, ARTIFACT_URL) == 401
    page.fill("input[name=token]", token)
    page.click("form.login button[type=submit]")
    filename, data = download_artifact(page, "secret-artifact")
    assert (filename, data) == ("result-file", PAYLOAD)
    assert page.evaluate(STATUS, ARTIFACT_URL) == 200
    assert page.evaluate(STATUS, f"/api/v1/workflows/{NS}/secret-artifact") == 401  # the cookie goes nowhere else

    page.click("#logout")
    page.wait_for_selector("form.login input[name=token]")
    assert page.evaluate(STATUS, ARTIFACT_URL) == 401
