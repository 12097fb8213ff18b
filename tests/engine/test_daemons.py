"""Daemon steps (engine/daemons.py): daemoned nodes, release at the boundary's end, retries."""
from tiphys.engine import actions as A
from tiphys.testing.engine import Outcome, Simulation

STEPS = """
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: server
        template: server
    - - name: client
        template: client
        arguments: {parameters: [{name: ip, value: "{{steps.server.ip}}"}]}
  - name: server
    daemon: true
    container: {image: alpine, command: [sleep, "999"]}
  - name: client
    inputs: {parameters: [{name: ip}]}
    container: {image: alpine, command: [echo, "{{inputs.parameters.ip}}"]}
"""

DAG = """
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: server, template: server}
      - {name: client, template: client, depends: "server.Daemoned",
         arguments: {parameters: [{name: ip, value: "{{tasks.server.ip}}"}]}}
      - {name: plain, template: client, depends: server,
         arguments: {parameters: [{name: ip, value: x}]}}
  - name: server
    daemon: true
    container: {image: alpine, command: [sleep, "999"]}
  - name: client
    inputs: {parameters: [{name: ip}]}
    container: {image: alpine, command: [echo, "{{inputs.parameters.ip}}"]}
"""


def node(sim, display):
    found = sim.nodes(display)
    assert len(found) == 1, display
    return found[0]


def test_steps_daemon_serves_the_next_group_and_is_released():
    sim = Simulation(STEPS, {"server": Outcome(duration=1000, ready=2.0, ip="10.1.2.3"),
                             "client": Outcome(duration=5)})
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    server = node(sim, "server")
    assert server["phase"] == "Succeeded" and "daemoned" not in server
    assert server["podIP"] == "10.1.2.3"
    client = [s for s in sim.started if s.template["name"] == "client"][0]
    assert client.template["container"]["command"] == ["echo", "10.1.2.3"]
    # the client started once the server was ready, and the workflow ended with the client
    assert sim.now - sim.start_time == 2.0 + 5


def test_daemoned_node_is_running_while_it_serves():
    sim = Simulation(STEPS, {"server": Outcome(duration=1000, ready=1.0), "client": Outcome(duration=5)})
    eng = sim.engine
    actions = eng.start(sim.now)
    server_id = next(a.node_id for a in actions if isinstance(a, A.StartPod))
    eng.handle([A.PodStarted(server_id, "127.0.0.1")], sim.now + 1)
    assert eng.nodes[server_id]["phase"] == "Running" and eng.nodes[server_id]["daemoned"] is True
    out = eng.handle([], sim.now + 1)
    assert not out  # nothing more to do until the client ends
    client_id = next(n["id"] for n in eng.nodes.values() if n["displayName"] == "client")
    out = eng.handle([A.PodExited(client_id, 0)], sim.now + 6)
    assert any(isinstance(a, A.StopPod) and a.node_id == server_id for a in out)
    assert eng.nodes[server_id]["phase"] == "Succeeded" and eng.finished


def test_dag_daemoned_and_plain_depends():
    sim = Simulation(DAG, {"server": Outcome(duration=1000, ready=1.0), "client": Outcome(duration=3)})
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    assert {n["displayName"]: n["phase"] for n in sim.status["nodes"].values()} == {
        "wf": "Succeeded", "server": "Succeeded", "client": "Succeeded", "plain": "Succeeded"}
    commands = sorted(s.template["container"]["command"][1] for s in sim.started if s.template["name"] == "client")
    assert commands == ["127.0.0.1", "x"]


def test_daemon_exiting_zero_by_itself_is_failed():
    sim = Simulation(STEPS, {"server": Outcome(duration=3, ready=1.0, exit_code=0),
                             "client": Outcome(duration=10)})
    sim.run()
    assert node(sim, "server")["phase"] == "Failed"
    assert "daemoned" not in node(sim, "server")
    # it was fulfilled when daemoned: the next group ran and the steps completed
    assert node(sim, "client")["phase"] == "Succeeded"


def test_daemon_failing_before_ready_fails_the_steps():
    sim = Simulation(STEPS, {"server": Outcome(duration=1, ready=5.0, exit_code=1)})
    sim.run()
    assert node(sim, "server")["phase"] == "Failed"
    assert sim.status["phase"] == "Failed"
    assert not sim.nodes("client")


def test_daemon_retry_attempt_fails_then_next_one_is_released():
    """TestDaemonPodRetry: daemoned(0) fails while serving, daemoned(1) is released Succeeded."""
    wf = """
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: daemoned, template: daemoned}
      - {name: whale, dependencies: [daemoned], template: whale}
  - name: daemoned
    retryStrategy: {limit: 2}
    daemon: true
    container: {image: alpine, command: [sleep, "1"]}
  - name: whale
    container: {image: alpine}
"""
    sim = Simulation(wf, {"daemoned": [Outcome(duration=10, exit_code=1), Outcome(duration=120, exit_code=1)],
                          "whale": Outcome(duration=15)})
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    assert node(sim, "daemoned(0)")["phase"] == "Failed"
    assert node(sim, "daemoned(1)")["phase"] == "Succeeded"
    assert node(sim, "daemoned")["phase"] == "Succeeded"
    assert len(sim.nodes("daemoned(2)")) == 0


def test_entrypoint_daemon_is_released_at_once():
    wf = """
spec:
  entrypoint: server
  templates:
  - name: server
    daemon: true
    container: {image: alpine}
"""
    sim = Simulation(wf, {"server": Outcome(duration=100, ready=1.0)})
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    assert sim.now - sim.start_time == 1.0


def test_stop_fails_a_running_daemon():
    sim = Simulation(STEPS, {"server": Outcome(duration=1000, ready=1.0), "client": Outcome(duration=500)})
    sim.send(10, A.StopRequested("Stopped by user", terminate=True))
    sim.run()
    assert sim.status["phase"] == "Failed"
    assert node(sim, "client")["phase"] == "Failed"
