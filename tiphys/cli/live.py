"""The live node tree shown on a terminal's stderr while `tiphys run` works.

`update(wf)` is the runner's on_update callback: it only keeps a reference, so the runner
is never slowed by drawing. rich's refresh thread draws the latest state at most ten times
a second. Very large workflows get a one-line summary instead of the tree.
"""
from __future__ import annotations

import datetime as dt
import threading
from typing import IO

from rich.console import Console
from rich.live import Live
from rich.text import Text

from tiphys.cli import render

TREE_LIMIT = 2000  # nodes; above this the tree costs too much to redraw


class LiveTree:
    def __init__(self, stream: IO[str], *, wide: bool = False):
        self._console = Console(file=stream, highlight=False)
        self._wide = wide
        self._latest: dict | None = None
        self._last_text = Text("starting…")
        self._lock = threading.Lock()
        self._live = Live(self, console=self._console, refresh_per_second=10, transient=True,
                          redirect_stdout=False, redirect_stderr=False)

    def update(self, wf: dict) -> None:
        self._latest = wf

    def __rich__(self) -> Text:
        wf = self._latest
        if wf is None:
            return self._last_text
        with self._lock:
            try:
                self._last_text = self._draw(wf)
            except (RuntimeError, KeyError, TypeError, ValueError):
                pass  # the runner changed the dict while we read it: keep the last picture
        return self._last_text

    def _draw(self, wf: dict) -> Text:
        nodes = (wf.get("status") or {}).get("nodes") or {}
        if len(nodes) > TREE_LIMIT:
            return Text(render.progress_line(wf))
        now = dt.datetime.now(dt.timezone.utc)
        color = not self._console.no_color and self._console.is_terminal
        text = render.node_tree(wf, now, color=color, wide=self._wide)
        lines = text.splitlines()
        room = max(3, self._console.size.height - 2)
        if len(lines) > room:
            lines = lines[:1] + ["…"] + lines[-(room - 2):]
        return Text.from_ansi("\n".join(lines))

    def __enter__(self) -> LiveTree:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.__exit__(None, None, None)
