"""tiphys.spec.load: reading manifests."""
from __future__ import annotations

import json

import pytest
import yaml

from tiphys.errors import SpecError
from tiphys.spec.load import Manifest, load_file, load_text, load_text_all

WF = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: hello-}
spec:
  entrypoint: main
  templates: [{name: main, container: {image: alpine}}]
"""


def test_single_document():
    [m] = load_text(WF, "wf.yaml")
    assert isinstance(m, Manifest)
    assert (m.kind, m.name, m.file, m.index) == ("Workflow", "hello-", "wf.yaml", 0)
    assert m.raw["spec"]["entrypoint"] == "main"


def test_name_prefers_metadata_name():
    [m] = load_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, generateName: b-}\n")
    assert m.name == "a"


def test_multi_document_skips_empty_documents_but_keeps_positions():
    text = "---\n" + WF + "---\n---\n# only a comment\n---\n" + WF.replace("hello-", "second-")
    ms = load_text(text, "x.yaml")
    assert [(m.name, m.index) for m in ms] == [("hello-", 0), ("second-", 3)]


def test_other_kinds_are_returned():
    ms = load_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {a: b}\n")
    assert [(m.kind, m.name) for m in ms] == [("ConfigMap", "cm")]


def test_timestamps_stay_strings_and_scalars_resolve_like_yaml11():
    [m] = load_text("apiVersion: v1\nkind: X\nmetadata: {name: t}\n"
                    "d: 2024-01-02\nn: 3\nf: 1.5\nb: true\nz: null\ns: '7'\n")
    raw = m.raw
    assert raw["d"] == "2024-01-02" and raw["n"] == 3 and raw["f"] == 1.5
    assert raw["b"] is True and raw["z"] is None and raw["s"] == "7"
    json.dumps(raw)  # JSON-compatible


@pytest.mark.parametrize("text", [
    "a: &x {b: [1, 2]}\nc: *x\nd: 'q'\ne: |\n  line\n",
    "base: &b {x: 1}\nm:\n  <<: *b\n  y: 2\n",
    "t: !!str 12\nl: [yes, no, ~, 0x1f, .inf, '']\n",
    "k:\n  - - a\n    - b\n  - []\n  - {}\n",
])
def test_same_data_as_pyyaml(text):
    from tiphys.spec.load import _Loader
    [m] = load_text("apiVersion: v1\nkind: X\n" + text)
    [ref] = list(yaml.load_all("apiVersion: v1\nkind: X\n" + text, Loader=_Loader))
    assert m.raw == ref


@pytest.mark.parametrize("text, index, needle", [
    ("a: [unclosed\n", 1, "line 1, column 4"),
    ("a: b: c\n", 1, "(line 1, column 5)"),
    (WF + "---\nkind: [\n", 2, "invalid YAML"),
    ("- a\n- b\n", 1, "not a mapping"),
    ("kind: Workflow\nmetadata: {name: x}\n", 1, "missing apiVersion"),
    ("apiVersion: v1\n", 1, "missing kind"),
    (WF + "---\n" + "just a string\n", 2, "not a mapping"),
])
def test_errors_name_file_document_and_problem(text, index, needle):
    with pytest.raises(SpecError) as e:
        load_text(text, "f.yaml")
    assert e.value.file == "f.yaml"
    assert e.value.document == index
    assert needle in str(e.value)
    assert str(e.value).startswith(f"f.yaml: document {index}: ")


def test_load_text_all_keeps_going():
    ms, errs = load_text_all(WF + "---\n- x\n---\n" + WF, "f.yaml")
    assert len(ms) == 2 and len(errs) == 1 and errs[0].document == 2


def test_load_file_and_json(tmp_path):
    p = tmp_path / "wf.yaml"
    p.write_text(WF)
    assert load_file(p)[0].file == str(p)
    j = tmp_path / "wf.json"
    j.write_text(json.dumps(yaml.safe_load(WF)))
    [m] = load_file(j)
    assert m.kind == "Workflow"
    with pytest.raises(SpecError, match="no such file"):
        load_file(tmp_path / "missing.yaml")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(SpecError, match="invalid JSON"):
        load_file(tmp_path / "bad.json")


def test_manifest_is_frozen():
    [m] = load_text(WF)
    with pytest.raises(Exception):
        m.kind = "Other"  # type: ignore[misc]


def big_workflow(n: int) -> str:
    tasks = [{"name": f"t{i}", "template": "echo",
              **({"dependencies": [f"t{i - 1}"]} if i else {}),
              "arguments": {"parameters": [{"name": "msg", "value": f"task {i}"}]}} for i in range(n)]
    wf = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "big"},
          "spec": {"entrypoint": "main", "templates": [
              {"name": "main", "dag": {"tasks": tasks}},
              {"name": "echo", "inputs": {"parameters": [{"name": "msg"}]},
               "container": {"image": "alpine", "args": ["{{inputs.parameters.msg}}"]}}]}}
    return yaml.safe_dump(wf)


def test_ten_thousand_tasks_load():
    text = big_workflow(10_000)
    [m] = load_text(text)
    assert len(m.raw["spec"]["templates"][0]["dag"]["tasks"]) == 10_000
