"""How a called template is put together before it runs: `templateDefaults` merged under it,
keeping its own kind (Argo's `Template.SetType` after the merge)."""
from tiphys.testing.engine import Simulation

DEFAULTS = """
spec:
  entrypoint: main
  templateDefaults:
    script: {image: py, command: [sh], workingDir: /src}
    container: {image: box, command: [sh, -c], workingDir: /src}
  templates:
    - name: main
      steps:
      - - {name: s, template: s}
        - {name: c, template: c}
    - name: s
      script: {source: pwd}
    - name: c
      container: {args: [pwd]}
"""


def test_template_defaults_of_several_kinds_keep_each_template_its_own_kind():
    sim = Simulation(DEFAULTS)
    sim.run()
    assert sim.status["phase"] == "Succeeded", sim.status.get("message")
    by_name = {s.template["name"]: s.template for s in sim.started}
    assert "container" not in by_name["s"] and by_name["s"]["script"]["command"] == ["sh"]
    assert "script" not in by_name["c"] and by_name["c"]["container"]["command"] == ["sh", "-c"]
    assert by_name["c"]["container"]["workingDir"] == "/src"

