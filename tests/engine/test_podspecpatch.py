"""podSpecPatch where it maps onto a local step: the main container's resources and env, the
pod's deadline; what has no effect on one machine is named, not dropped silently."""
from tiphys.engine import podspecpatch
from tiphys.testing.engine import Outcome, Simulation

WF = """
spec:
  entrypoint: main
  podSpecPatch: |
    containers:
    - name: main
      env: [{name: FROM_WF, value: "1"}]
  arguments: {parameters: [{name: mem, value: 64Mi}]}
  templates:
  - name: main
    podSpecPatch: '{"containers":[{"name":"main","resources":{"limits":{"memory":"{{workflow.parameters.mem}}"}},
                    "env":[{"name":"A","value":"patched"}]}], "activeDeadlineSeconds": 5,
                    "nodeSelector": {"disk": "ssd"}}'
    container:
      image: alpine
      command: [sleep, "60"]
      env: [{name: A, value: original}, {name: B, value: kept}]
      resources: {limits: {cpu: 100m}}
"""


def test_the_patch_reaches_the_main_container_and_the_deadline():
    sim = Simulation(WF, {"main": Outcome(duration=30)})
    sim.run()
    started = sim.started[0].template["container"]
    assert started["resources"] == {"limits": {"cpu": "100m", "memory": "64Mi"}}
    assert {e["name"]: e["value"] for e in started["env"]} == {"A": "patched", "B": "kept", "FROM_WF": "1"}
    # activeDeadlineSeconds from the patch ends the 30 s step after 5 s, as Argo's pod deadline
    assert sim.phase(sim.engine.name) == "Failed"
    assert "deadline" in sim.status["nodes"][sim.engine.name]["message"]


def test_fields_without_effect_are_named():
    spec = {"podSpecPatch": '{"containers":[{"name":"main","env":[]}]}'}
    tmpl = {"name": "t", "container": {}, "podSpecPatch":
            '{"nodeSelector":{"a":"b"},"containers":[{"name":"main","livenessProbe":{}},{"name":"wait"}]}'}
    assert podspecpatch.ignored(spec, tmpl) == ["nodeSelector", "containers[main].livenessProbe", "containers[wait]"]


def test_a_patch_that_does_not_parse_errors_the_node():
    sim = Simulation("""
spec:
  entrypoint: main
  templates:
  - name: main
    podSpecPatch: '{"containers": ['
    container: {image: alpine}
""")
    sim.run()
    node = sim.status["nodes"][sim.engine.name]
    assert node["phase"] == "Error" and "Failed to parse podSpecPatch" in node["message"]
