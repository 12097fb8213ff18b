"""The workflow view's choice between a watch event and an action's answer (static/js/latest.js),
run in Node without a browser: an answer older than an event already shown must not replace it
(terminating a step that ends in milliseconds left the view Running for good)."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

LATEST = Path(__file__).resolve().parents[2] / "tiphys" / "server" / "ui" / "static" / "js" / "latest.js"
NODE = shutil.which("node") or shutil.which("nodejs")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

# Each scenario: a list of steps, run in order; "wait" lets the throttle fire. Prints the
# phases applied, in order.
DRIVER = """
import { Latest } from %(module)s;
const wf = (phase) => ({ metadata: { name: 'w' }, status: { phase } });
const shown = [];
const latest = new Latest((o) => { shown.push(o.status.phase); }, %(throttle)d);
const marks = {};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
for (const [op, arg, phase] of %(steps)s) {
  if (op === 'now') latest.now(wf(arg));
  else if (op === 'event') latest.event(wf(arg));
  else if (op === 'begin') marks[arg] = latest.begin();
  else if (op === 'answer') latest.answer(marks[arg], phase === null ? null : wf(phase));
  else if (op === 'wait') await sleep(arg);
}
latest.close();
console.log(JSON.stringify(shown));
"""


def shown(steps: list, throttle: int = 20) -> list[str]:
    code = DRIVER % {"module": json.dumps(LATEST.as_uri()), "throttle": throttle, "steps": json.dumps(steps)}
    r = subprocess.run([NODE, "--input-type=module", "-e", code], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_an_answer_overtaken_by_the_watch_is_not_shown():
    # terminate answers Running; the step ends at once and the watch brings Failed first
    assert shown([["now", "Running"], ["begin", "t"], ["event", "Failed"], ["answer", "t", "Running"],
                  ["wait", 60]]) == ["Running", "Failed"]


def test_an_answer_before_any_event_is_shown_and_later_events_follow_it():
    assert shown([["now", "Running"], ["begin", "s"], ["answer", "s", "Running-suspended"], ["wait", 60],
                  ["event", "Failed"], ["wait", 60]]) == ["Running", "Running-suspended", "Failed"]
    assert shown([["now", "Running"], ["begin", "x"], ["answer", "x", None], ["wait", 60]]) == ["Running"]


def test_events_are_throttled_to_the_latest():
    assert shown([["now", "Pending"], ["event", "Running"], ["event", "Running2"], ["event", "Failed"],
                  ["wait", 150]], throttle=100) == ["Pending", "Failed"]
