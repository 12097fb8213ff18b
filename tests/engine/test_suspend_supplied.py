"""A suspend node whose duration passes while a `supplied` output was never set
(suspend_test.go TestSuspendNodeTimeoutWithoutDefaultValue / WithDefaultValue)."""
from pathlib import Path

import pytest

from tiphys.testing.engine import Simulation

E2E = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "e2e"


def sim_of(name: str) -> Simulation:
    path = E2E / f"{name}.yaml"
    if not path.exists():
        pytest.skip(f"../shared is absent: {path} not found")
    sim = Simulation(path.read_text())
    sim.run()
    return sim


def test_elapsed_suspend_without_a_supplied_value_or_default_errs_and_fails_the_workflow():
    sim = sim_of("TestSuspendNodeTimeoutWithoutDefaultValue")
    assert sim.status["phase"] == "Failed"
    approve = sim.nodes("approve")[0]
    assert approve["phase"] == "Error"
    assert approve["message"] == "raw output parameter 'message' has not been set and does not have a default value"
    assert not sim.nodes("release")
    assert not sim.started


def test_elapsed_suspend_takes_the_supplied_outputs_default():
    sim = sim_of("TestSuspendNodeTimeoutWithDefaultValue")
    assert sim.status["phase"] == "Succeeded"
    release = sim.nodes("release")[0]
    assert release["inputs"]["parameters"] == [{"name": "message", "value": "default message"}]
