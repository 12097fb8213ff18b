"""Tests of Argo {{...}} templating, expansion and result formatting."""
from __future__ import annotations

from typing import Any

import pytest

from tiphys.errors import ExpressionError
from tiphys.expr.template import expand, render, render_obj, tags

SCOPE: dict[str, Any] = {
    "inputs.parameters.foo": "3",
    "inputs.parameters.my-param": "hyphen",
    "inputs.parameters.json": '{"a": [{"name": "x", "age": 43}]}',
    "inputs.parameters": '[{"name":"foo","value":"3"}]',
    "workflow.name": "wf-1",
    "workflow.creationTimestamp": "2023-05-06T07:08:09Z",
    "workflow.creationTimestamp.Y": "2023",
    "steps.flip-coin.outputs.result": "heads",
    "tasks.A.outputs.parameters.p": "v",
    "flag": True,
    "count": 3,
    "ratio": 30.0,
    "half": 0.5,
    "none": None,
    "obj": {"b": 1, "a": [1, 2]},
    "multi": "line1\nline2 \"quoted\"",
}

CASES = [
    ("no tags here", "no tags here"),
    ("{{inputs.parameters.foo}}", "3"),
    ("x={{ inputs.parameters.foo }}!", "x=3!"),
    ("{{flag}} {{count}} {{ratio}} {{half}}", "true 3 30 0.5"),
    ("[{{none}}]", "[]"),
    ("{{obj}}", '{"a":[1,2],"b":1}'),
    ("{{multi}}", "line1\nline2 \"quoted\""),
    ("{{unknown.var}}", "{{unknown.var}}"),
    ("{{item}} and {{ item.name }}", "{{item}} and {{ item.name }}"),
    ("{{=asInt(inputs.parameters.foo) * 10}}", "30"),
    ("{{=inputs.parameters['my-param']}}", "hyphen"),
    ("{{=steps['flip-coin'].outputs.result == 'heads' ? 'yes' : 'no'}}", "yes"),
    ("{{=sprig.date('2006', workflow.creationTimestamp)}}", "2023"),
    ("{{=workflow.creationTimestamp}}", "2023-05-06T07:08:09Z"),
    ("{{=toJson(filter([1, 3], {# > 1}))}}", "[3]"),
    ("{{=filter([1, 3], {# > 1})}}", "[3]"),
    ("{{=jsonpath(inputs.parameters.json, '$.a[?(@.age > 42)].name')}}", '["x"]'),
    ("{{=inputs.parameters.foo + 'x'}}", "3x"),
    ("{{=1.5 * 2}}", "3"),
    ("{{=7 / 2}}", "3.5"),
    ("{{=true}}", "true"),
    ("{{=item}}", "{{=item}}"),
    ("{{=item.x + 1}}", "{{=item.x + 1}}"),
    ("{{=sprig.int(retries)}}", "{{=sprig.int(retries)}}"),
    ("{{=workflow.status}}", "{{=workflow.status}}"),
    ("{{=workflow.failures}}", "{{=workflow.failures}}"),
    ("{{=tasks.A.outputs.parameters.missing}}", "{{=tasks.A.outputs.parameters.missing}}"),
    ("{{=tasks.A.outputs.parameters.missing ?? 'd'}}", "d"),
    ("{{=tasks.B.outputs.result ?? 'd'}}", "d"),
    ("{{=date('2024-01-02T03:04:05Z')}}", "2024-01-02T03:04:05Z"),
    ("a {{ }} b", "a {{ }} b"),
    ("{{ inputs.parameters.foo }}{{inputs.parameters.foo}}", "33"),
    ("{{ = 1 }}", "{{ = 1 }}"),
    ("open {{ only", "open {{ only"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_render(text: str, expected: str) -> None:
    assert render(text, SCOPE) == expected


def test_strict_prefixes_raise_for_unknown_simple_tags() -> None:
    with pytest.raises(ExpressionError):
        render("{{inputs.parameters.nope}}", SCOPE, strict=("inputs.",))
    assert render("{{item}}", SCOPE, strict=("inputs.",)) == "{{item}}"


@pytest.mark.parametrize("text", ["{{=1 +}}", "{{=1 / 0}}", "{{=asInt('x')}}", "{{=}}",
                                  "{{={'a': 1}}}"])
def test_bad_expressions_raise(text: str) -> None:
    with pytest.raises(ExpressionError):
        render(text, SCOPE)


def test_expand_nests_dotted_keys_and_leaves_win() -> None:
    env = expand(SCOPE)
    assert env["inputs"]["parameters"]["foo"] == "3"
    assert env["inputs"]["parameters"]["my-param"] == "hyphen"
    assert env["workflow"]["creationTimestamp"] == "2023-05-06T07:08:09Z"
    assert env["steps"]["flip-coin"]["outputs"]["result"] == "heads"
    assert env["flag"] is True


def test_expand_conflicts() -> None:
    assert expand({"a.b": 1, "a.b.c": 2, "a": 3}) == {"a": 3}
    assert expand({"a.b": "x", "a.b.c": 2}) == {"a": {"b": "x"}}
    assert expand({"a.b": '{"c": 1}', "a.b.c": 2}) == {"a": {"b": {"c": 2}}}
    assert expand({"item": {"k": 1}, "item.k": 2}) == {"item": {"k": 1}}


def test_render_obj_walks_structures_and_keys() -> None:
    obj = {"name": "{{workflow.name}}", "{{inputs.parameters.foo}}": [1, "{{count}}", {"n": None}]}
    assert render_obj(obj, SCOPE) == {"name": "wf-1", "3": [1, "3", {"n": None}]}
    assert obj["name"] == "{{workflow.name}}"


def test_tags_lists_every_tag() -> None:
    assert tags("{{ a.b }} x {{=c + 1}} {{d}}") == [("simple", "a.b"), ("expr", "c + 1"), ("simple", "d")]
    assert tags("plain") == []
