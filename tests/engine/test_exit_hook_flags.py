"""The node an exit handler (`onExit` / `hooks.exit`) or a step's exit hook runs as is flagged
`nodeFlag.hooked`, as Argo flags it (hooks_test.go TestExitHandlerWithWorkflowLevelDeadline)."""
from tiphys.testing.engine import Simulation

EXIT_HOOKS = """
metadata: {name: x}
spec:
  entrypoint: main
  onExit: bye
  templates:
  - name: main
    steps:
    - - {name: work, template: echo, hooks: {exit: {template: echo}}}
  - name: bye
    steps:
    - - {name: say, template: echo}
  - name: echo
    container: {image: alpine, command: [echo, hi]}
"""


def test_exit_handler_and_exit_hook_nodes_are_flagged_hooked():
    sim = Simulation(EXIT_HOOKS)
    sim.run()
    nodes = {n["name"]: n for n in sim.status["nodes"].values()}
    assert sim.status["phase"] == "Succeeded"
    assert nodes["x.onExit"]["type"] == "Steps" and nodes["x.onExit"]["nodeFlag"] == {"hooked": True}
    assert nodes["x[0].work.onExit"]["nodeFlag"] == {"hooked": True}
    assert nodes["x[0].work.onExit"]["displayName"] == "work.onExit"
    assert "nodeFlag" not in nodes["x[0].work"] and "nodeFlag" not in nodes["x.onExit[0].say"]
