"""Browser tests of the web UI: Debian's Chromium (/usr/bin/chromium, installed by
scripts/setup.d/40-chromium.sh) driven by Playwright against real `tiphys server` processes.

Screenshots and measured times go to $TIPHYS_UI_SCREENSHOTS (default: a pytest temp dir;
the path is printed), times also to ui-timings.json there (its "before_change" object, figures
of the same tests on the UI before a change, is kept as it is)."""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from ui_helpers import Server, start_server

CHROMIUM = "/usr/bin/chromium"



@pytest.fixture(scope="session")
def artifacts_dir(tmp_path_factory) -> Path:
    d = Path(os.environ.get("TIPHYS_UI_SCREENSHOTS") or tmp_path_factory.mktemp("ui-screenshots"))
    d.mkdir(parents=True, exist_ok=True)
    print(f"\nUI screenshots and timings: {d}")
    return d


BASELINE = "before_change"  # figures measured by these tests on an earlier UI, kept when the file is rewritten


@dataclass
class Timings:
    path: Path
    values: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            kept = json.loads(self.path.read_text()).get(BASELINE)
        except (OSError, ValueError, AttributeError):
            kept = None
        if kept:
            self.values[BASELINE] = kept

    def record(self, **kv) -> None:
        self.values.update(kv)
        self.path.write_text(json.dumps(self.values, indent=2, sort_keys=True) + "\n")
        for k, v in kv.items():
            print(f"UI timing {k}: {v}")


@pytest.fixture(scope="session")
def timings(artifacts_dir) -> Timings:
    return Timings(artifacts_dir / "ui-timings.json")


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: run scripts/setup.sh (setup.d/40-chromium.sh installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (test extras)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                    "--disable-background-networking", "--disable-component-update",
                                    "--disable-sync", "--no-first-run"])
        yield b
        b.close()


class Page:
    """A fresh browser context (empty localStorage) on one server; every request it makes is
    recorded, to check that none leaves the machine."""

    def __init__(self, browser, server: Server):
        self.server = server
        self.context = browser.new_context(viewport={"width": 1400, "height": 860}, accept_downloads=True)
        self.context.set_default_timeout(20_000)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: d.accept())

    def goto(self, fragment: str = "") -> None:
        self.page.goto(f"{self.server.url}/{fragment}")

    def foreign_requests(self) -> list[str]:
        return [u for u in self.requests
                if not (u.startswith(self.server.url + "/") or u.startswith(("data:", "blob:")))]


@pytest.fixture
def make_page(browser) -> Iterator:
    pages: list[Page] = []

    def make(server: Server) -> Page:
        p = Page(browser, server)
        pages.append(p)
        return p
    yield make
    for p in pages:
        assert not p.errors, f"JavaScript errors on the page: {p.errors}"
        p.context.close()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory) -> Iterator[Server]:
    s = start_server(tmp_path_factory.mktemp("ui-live-home"))
    yield s
    s.stop()
