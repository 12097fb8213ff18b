"""Bad input costs little: an alias bomb is refused while it is read, and parameter values that
are lists or mappings (Argo's AnyString takes only a string, number or bool) are lint errors."""
from __future__ import annotations

import resource
import time

import pytest

from tiphys.errors import SpecError
from tiphys.spec import load
from tiphys.spec.lint import lint_manifests
from tiphys.spec.load import load_text, load_text_all


def bomb(levels: int = 8, merge: bool = False) -> str:
    lines = ["apiVersion: argoproj.io/v1alpha1", "kind: Workflow", "metadata: {name: bomb}", "spec:",
             "  entrypoint: main", "  arguments:", "    parameters:", "    - name: p0",
             "      value: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels + 1):
        lines += [f"    - name: p{i}", f"      value: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]"]
    if merge:    # a merge key sends the document through PyYAML's own reader
        lines += ["  podMetadata: &m {labels: {a: b}}", "  podSpecPatch: {<<: *m}"]
    lines += ["  templates:", "  - name: main", "    container: {image: alpine, command: [echo]}"]
    return "---\nkind: ConfigMap\napiVersion: v1\n---\n" + "\n".join(lines) + "\n"


@pytest.mark.parametrize("merge", [False, True])
def test_an_alias_bomb_is_refused_quickly_naming_the_file_and_document(merge):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began = time.perf_counter()
    with pytest.raises(SpecError) as err:
        load_text(bomb(merge=merge), "bomb.yaml")
    assert time.perf_counter() - began < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000   # KiB
    assert (err.value.file, err.value.document) == ("bomb.yaml", 2)
    assert "aliases expand this document" in str(err.value) and str(err.value).startswith("bomb.yaml: document 2")


def test_load_text_all_keeps_the_documents_before_a_bomb():
    manifests, errors = load_text_all(bomb(), "b.yaml")
    assert [m.kind for m in manifests] == ["ConfigMap"]
    assert len(errors) == 1 and errors[0].document == 2


@pytest.mark.parametrize("merge", [False, True])
def test_aliases_within_the_limit_still_load(merge, monkeypatch):
    monkeypatch.setattr(load, "MAX_ALIAS_NODES", 100_000)
    docs = load_text(bomb(levels=4, merge=merge), "ok.yaml")     # 9**5 nodes: within the limit
    params = docs[1].raw["spec"]["arguments"]["parameters"]
    assert len(params[4]["value"]) == 9 and params[4]["value"][0][0][0][0] == params[0]["value"]
    monkeypatch.setattr(load, "MAX_ALIAS_NODES", 10_000)
    with pytest.raises(SpecError, match="aliases expand"):
        load_text(bomb(levels=4, merge=merge), "ok.yaml")


@pytest.mark.parametrize("text", ["a: &x [1, *x]\n", "a: &x {b: *x}\n", "a: &x {b: *x, <<: {c: 1}}\n"])
def test_a_self_referring_alias_is_refused(text):
    with pytest.raises(SpecError, match="refers to a node that contains it"):
        load_text("apiVersion: v1\nkind: X\n" + text, "r.yaml")


def test_a_large_document_without_aliases_is_not_refused(monkeypatch):
    monkeypatch.setattr(load, "MAX_ALIAS_NODES", 10)
    text = "apiVersion: v1\nkind: List\nitems:\n" + "".join(f"- {{n: {i}}}\n" for i in range(5000))
    assert len(load_text(text)[0].raw["items"]) == 5000


WF = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: vals}
spec:
  entrypoint: main
  arguments:
    parameters:
    - {name: a, value: P_ARG}
  templates:
  - name: main
    inputs:
      parameters:
      - {name: i, default: P_IN}
    outputs:
      parameters:
      - {name: o, value: P_OUT}
      - {name: f, valueFrom: {path: /tmp/f, default: P_VF}}
    container: {image: alpine, command: [echo]}
"""


def lint(text):
    return [(i.path, i.message) for i in lint_manifests(load_text(text, "v.yaml"))]


def test_scalar_parameter_values_are_fine():
    assert lint(WF.replace("P_ARG", "x").replace("P_IN", "3").replace("P_VF", "true").replace("P_OUT", "1.5")) == []


@pytest.mark.parametrize("field, path", [
    ("P_ARG", "spec.arguments.parameters[0].value"),
    ("P_IN", "templates.main.inputs.parameters.i.default"),
    ("P_OUT", "templates.main.outputs.parameters.o.value"),
    ("P_VF", "templates.main.outputs.parameters.f.valueFrom.default"),
])
@pytest.mark.parametrize("bad, what", [("[1, 2]", "a list"), ("{k: v}", "a mapping")])
def test_list_or_map_parameter_values_are_located_lint_errors(field, path, bad, what):
    text = WF.replace(field, bad)
    for other in ("P_ARG", "P_IN", "P_VF", "P_OUT"):
        text = text.replace(other, "x")
    found = lint(text)
    assert any(p.endswith(path) and f"must be a string, number or bool, not {what}" in m for p, m in found), found


def test_a_list_valued_parameter_is_refused_by_tiphys_run_before_any_step():
    issues = lint(WF.replace("P_ARG", "[[1], [2]]").replace("P_IN", "x").replace("P_VF", "x").replace("P_OUT", "x"))
    assert len(issues) == 1
