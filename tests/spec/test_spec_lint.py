"""tiphys.spec.lint: argo-lint-like checks."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tiphys.spec.lint import LintIssue, depends_task_names, lint_manifests, lint_paths
from tiphys.spec.load import load_text

HERE = Path(__file__).parent
TESTDATA = HERE / "testdata"
SHARED = Path(__file__).parents[2].parent / "shared"
CONFORMANCE = SHARED / "conformance" / "examples"
SEED = SHARED / "seed" / "examples"

needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared examples folder {SHARED} is absent")


def registry(kind, name):
    if (kind, name) == ("ClusterWorkflowTemplate", "registered"):
        return {"apiVersion": "argoproj.io/v1alpha1", "kind": kind, "metadata": {"name": name},
                "spec": {"templates": [{"name": "reg", "container": {"image": "alpine"}}]}}
    return None


def lint_text(text: str, reg=None) -> list[LintIssue]:
    return lint_manifests(load_text(text, "t.yaml"), reg)


def texts(issues) -> list[str]:
    return [str(i) for i in issues]


def assert_reports(issues, needles):
    out = "\n".join(texts(issues))
    for n in needles:
        assert n in out, f"{n!r} not reported in:\n{out}"


# --------------------------------------------------------------------------------------------
# fixtures: every listed problem must be reported (all of them, not only the first)

FIXTURES = {
    "good-all-features.yaml": [],
    "bad-structure.yaml": [
        'templates.dup: template name "dup" is not unique',
        'spec.entrypoint: entrypoint template "missing-entry" not found',
        "templates.no-type: template type unspecified",
        "templates.two-types: multiple template types specified (container, script)",
        "templates.flat-steps.steps[0]: steps must be a list of lists",
        'templates.bad-timeout.timeout: invalid duration "10"',
        "templates.bad-timeout.activeDeadlineSeconds: activeDeadlineSeconds must be a positive integer",
        'retryStrategy.retryPolicy: "Sometimes" is not a valid retryPolicy',
        'retryStrategy.backoff.duration: invalid duration "5 minutes"',
        'retryStrategy.backoff.maxDuration: invalid duration "1x"',
        'templates.bad-durations.suspend.duration: invalid duration "soon"',
    ],
    "bad-dag.yaml": [
        'templates.main.tasks.a: task name "a" is not unique',
        "dependency cycle detected: a -> c -> b -> a",
        'templates.main.tasks.d: dependency "ghost" not defined',
        'templates.main.tasks.e: dependency "phantom" not defined',
        "templates.main.tasks.e: cannot use both 'depends' and 'dependencies' in the same task",
        "cannot use both 'depends' and 'dependencies' in the same DAG template",
        'templates.main.tasks.f: template "no-such-template" not found',
        "templates.main.tasks.g.withItems: withItems must be a list",
        "templates.main.tasks.h: only one of withItems, withParam, withSequence",
        "templates.main.tasks.i.withSequence: withSequence needs count or end",
    ],
    "bad-refs.yaml": [
        'value "loud" for input parameter "mode" of template "echo" is not in its enum',
        '{{steps.second.outputs.result}}: step "second" runs after "first"',
        "steps[1].second.arguments.parameters[0].value: failed to resolve {{item}}",
        'step "first" has no output parameter "nope"',
        'step "second" runs in parallel with "third"',
        'input parameter "required-one" of template "needs-art" is not supplied',
        'input artifact "data" of template "needs-art" is not supplied',
        "{{workflow.parameters.unknown}}",
        "{{workflow.bogus}}: unknown workflow variable",
        "templates.echo.container.args[0]: failed to resolve {{inputs.parameters.typo}}",
        "{{inputs.artifacts.none}}",
        "{{outputs.parameters.undeclared.path}}",
        "{{tasks.x.outputs.result}}: tasks.* variables are only available inside a dag template",
        "{{item.key}}",
        'expression {{=inputs.parameters.msg + (1}}: unclosed "("',
    ],
    "bad-templateref.yaml": [
        'unknown-wft.templateRef: WorkflowTemplate "no-such-wft" not found',
        'unknown-template.templateRef: template "missing" not found in WorkflowTemplate "lib"',
        'cluster-not-namespaced.templateRef: ClusterWorkflowTemplate "lib" not found',
        'missing-param: input parameter "who" of template "lib/hello" is not supplied',
        "document 3 (Workflow uses-ref-): spec.entrypoint: spec.entrypoint is required",
        'spec.schedules[0]: cron schedule "0 25 * * *" is malformed: hour: 25 is out of range',
        'spec.schedules[1]: cron schedule "* * *" is malformed: expected exactly 5 fields',
        'spec.schedules[2]: cron schedule "@sometimes" is malformed',
        'spec.schedules[3]: cron schedule "*/0 * * * *" is malformed',
        'spec.concurrencyPolicy: "Sometimes" is not a valid concurrencyPolicy',
        "(CronWorkflow bad-cron): spec.workflowSpec.entrypoint: spec.entrypoint is required",
        '(WorkflowTemplate wrong-api): apiVersion: apiVersion must be "argoproj.io/v1alpha1"',
    ],
    "bad-yaml.yaml": [
        "bad-yaml.yaml: document 2: document is not a mapping",
        "bad-yaml.yaml: document 3: missing apiVersion",
        "bad-yaml.yaml: document 4: invalid YAML",
    ],
}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_fixture(name):
    issues = lint_paths([str(TESTDATA / name)], registry)
    expected = FIXTURES[name]
    if not expected:
        assert texts(issues) == []
    else:
        assert_reports(issues, expected)
        # nothing unexpected: every issue is accounted for by some needle
        out = texts(issues)
        unexplained = [i for i in out if not any(n in i for n in expected)]
        assert unexplained == [], "\n".join(unexplained)


def test_fixture_directory_covers_every_file():
    assert {p.name for p in TESTDATA.glob("*.yaml")} == set(FIXTURES)


# --------------------------------------------------------------------------------------------
# small inline cases: (yaml of the spec.templates + extra spec, expected needles; [] = clean)

def wf(templates: str, extra: str = "", entry: str = "main") -> str:
    return (f"apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {{generateName: t-}}\n"
            f"spec:\n  entrypoint: {entry}\n{extra}  templates:\n{templates}")


ECHO = """
  - name: echo
    inputs: {parameters: [{name: msg}]}
    container: {image: alpine, args: ["{{inputs.parameters.msg}}"]}
"""

CASES = [
    ("clean minimal", wf("  - {name: main, container: {image: alpine}}\n"), []),
    ("missing entrypoint", wf("  - {name: x, container: {image: alpine}}\n").replace("  entrypoint: main\n", ""),
     ["spec.entrypoint is required"]),
    ("entrypoint inputs come from spec.arguments",
     wf(ECHO, entry="echo", extra="  arguments: {parameters: [{name: msg}]}\n"), []),
    ("entrypoint input not supplied", wf(ECHO, entry="echo"),
     ['spec.entrypoint: input parameter "msg" of template "echo" is not supplied']),
    ("onExit unknown", wf("  - {name: main, container: {image: alpine}}\n", extra="  onExit: bye\n"),
     ['onExit template "bye" not found']),
    ("workflow argument enum", wf("  - {name: main, container: {image: alpine}}\n",
                                  extra="  arguments: {parameters: [{name: e, value: z, enum: [a, b]}]}\n"),
     ['value "z" of parameter "e" is not in its enum [a, b]']),
    ("step argument needs a value", wf("""  - name: main
    steps: [[{name: s, template: echo, arguments: {parameters: [{name: msg}]}}]]
""" + ECHO), ['parameter "msg": value or valueFrom is required']),
    ("item keys of withItems maps", wf("""  - name: main
    steps: [[{name: s, template: echo, withItems: [{a: 1}],
              arguments: {parameters: [{name: msg, value: "{{item.a}}{{item.b}}"}]}}]]
""" + ECHO), ['{{item.b}}: withItems entries have no key "b"']),
    ("withParam allows any item field", wf("""  - name: main
    steps: [[{name: s, template: echo, withParam: "[1]",
              arguments: {parameters: [{name: msg, value: "{{item.anything.deep}}"}]}}]]
""" + ECHO), []),
    ("task reference needs a dependency", wf("""  - name: main
    dag:
      tasks:
        - {name: a, template: echo, arguments: {parameters: [{name: msg, value: x}]}}
        - {name: b, template: echo, arguments: {parameters: [{name: msg, value: "{{tasks.a.outputs.result}}"}]}}
        - {name: c, template: echo, dependencies: [b], arguments: {parameters: [{name: msg, value: "{{tasks.a.outputs.result}}"}]}}
""" + ECHO), ['templates.main.tasks.b.arguments.parameters[0].value: failed to resolve {{tasks.a.outputs.result}}: '
              'task "a" is not a dependency of "b"']),
    ("unknown task", wf("""  - name: main
    dag:
      tasks:
        - {name: a, template: echo, arguments: {parameters: [{name: msg, value: "{{tasks.zz.outputs.result}}"}]}}
""" + ECHO), ['no task named "zz"']),
    ("steps refs in a dag", wf("""  - name: main
    dag:
      tasks:
        - {name: a, template: echo, arguments: {parameters: [{name: msg, value: "{{steps.a.outputs.result}}"}]}}
""" + ECHO), ["steps.* variables are only available inside a steps template"]),
    ("items-based depends needs a loop", wf("""  - name: main
    dag:
      tasks:
        - {name: a, template: main2}
        - {name: b, template: main2, depends: a.AnySucceeded}
  - {name: main2, container: {image: alpine}}
"""), ['dependency "a" uses an items-based condition']),
    ("bad depends syntax", wf("""  - name: main
    dag:
      tasks:
        - {name: a, template: x}
        - {name: b, template: x, depends: "a &&"}
  - {name: x, container: {image: alpine}}
"""), ["invalid depends expression"]),
    ("dag target unknown", wf("""  - name: main
    dag:
      target: a zz
      tasks: [{name: a, template: x}]
  - {name: x, container: {image: alpine}}
"""), ['target "zz" is not a task of this dag']),
    ("timeout on a steps template", wf("""  - name: main
    timeout: 10s
    steps: [[{name: a, template: x}]]
  - {name: x, container: {image: alpine}}
"""), ["steps template doesn't support timeout field"]),
    ("templated durations accepted", wf("""  - name: main
    inputs: {parameters: [{name: t, value: 5s}]}
    timeout: "{{inputs.parameters.t}}"
    retryStrategy: {limit: "{{inputs.parameters.t}}", backoff: {duration: "{{inputs.parameters.t}}"}}
    container: {image: alpine}
"""), []),
    ("output parameter without a source", wf("""  - name: main
    container: {image: alpine}
    outputs: {parameters: [{name: o}]}
"""), ['outputs.parameters.o: does not have valueFrom or value specified']),
    ("input artifact from location is fine", wf("""  - name: main
    steps: [[{name: a, template: x}]]
  - name: x
    inputs: {artifacts: [{name: src, path: /src, git: {repo: "https://example.com/r.git"}}]}
    container: {image: alpine}
"""), []),
    ("self reference only in hooks", wf("""  - name: main
    steps:
      - - name: a
          template: x
          arguments: {parameters: [{name: p, value: "{{steps.a.outputs.result}}"}]}
          hooks:
            exit: {template: x, arguments: {parameters: [{name: p, value: "{{steps.a.outputs.result}}"}]}}
  - {name: x, inputs: {parameters: [{name: p, default: ""}]}, script: {image: alpine, source: echo}}
"""), ['templates.main.steps[0].a.arguments.parameters[0].value: failed to resolve {{steps.a.outputs.result}}: '
       'a step cannot use its own outputs']),
    ("inline templates", wf("""  - name: main
    steps:
      - - name: a
          withItems: [1, 2]
          arguments: {parameters: [{name: n, value: "{{item}}"}]}
          inline:
            inputs: {parameters: [{name: n}]}
            container: {image: alpine, args: ["{{inputs.parameters.n}} {{item}} {{inputs.parameters.m}}"]}
"""), ["{{inputs.parameters.m}}"]),
    ("workflow parameters via workflowTemplateRef", """
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: lib}
spec:
  entrypoint: main
  arguments: {parameters: [{name: p, enum: [a, b]}]}
  templates:
    - {name: main, container: {image: alpine, args: ["{{workflow.parameters.p}} {{workflow.parameters.other}}"]}}
---
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: run-}
spec:
  workflowTemplateRef: {name: lib}
  arguments: {parameters: [{name: p, value: c}]}
""", ['spec.arguments.parameters[0]: value "c" of parameter "p" is not in its enum [a, b]']),
    ("workflowTemplateRef with templates", """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: run-}
spec:
  workflowTemplateRef: {name: nowhere}
  templates: [{name: x, container: {image: a}}]
""", ['WorkflowTemplate "nowhere" not found', "templates must not be set when workflowTemplateRef"]),
    ("registry lookup", wf("""  - name: main
    steps: [[{name: a, templateRef: {name: registered, template: reg, clusterScope: true}}]]
"""), []),
    ("legacy cron schedule", """
apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata: {name: c}
spec:
  schedule: "0 0 31 2 SUN"
  workflowSpec: {entrypoint: m, templates: [{name: m, container: {image: a}}]}
""", []),
    ("cron without schedule", """
apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata: {name: c}
spec:
  workflowSpec: {entrypoint: m, templates: [{name: m, container: {image: a}}]}
""", ["cron workflow must have at least one schedule"]),
    ("cluster workflow template without entrypoint", """
apiVersion: argoproj.io/v1alpha1
kind: ClusterWorkflowTemplate
metadata: {name: c}
spec:
  templates: [{name: m, inputs: {parameters: [{name: x}]}, container: {image: a, args: ["{{inputs.parameters.x}}"]}}]
""", []),
    ("empty image", wf("  - {name: main, container: {command: [echo]}}\n"), ["container.image: image may not be empty"]),
    ("invalid names", wf("  - {name: Main_1, container: {image: a}}\n", entry="Main_1"),
     ['template name "Main_1" is invalid']),
    ("expression tags are not checked deeply", wf("""  - name: main
    container: {image: a, args: ["{{=sprig.trim(inputs.parameters['x']) + '}'}}"]}
"""), []),
    ("unknown prefixes are ignored", wf("""  - name: main
    container: {image: a, args: ["{{mine.thing}} {{ workflow.name }} {{node.name}}"]}
"""), []),
]


@pytest.mark.parametrize("name, text, needles", CASES, ids=[c[0] for c in CASES])
def test_case(name, text, needles):
    issues = lint_text(text, registry)
    if not needles:
        assert texts(issues) == []
    else:
        assert_reports(issues, needles)


def test_issue_str_and_fields():
    [issue] = lint_text(wf("  - {name: x, container: {image: a}}\n"))
    assert issue == LintIssue("t.yaml", 0, "Workflow", "t-", "spec.entrypoint",
                              'entrypoint template "main" not found')
    assert str(issue) == 't.yaml: document 1 (Workflow t-): spec.entrypoint: entrypoint template "main" not found'


@pytest.mark.parametrize("expr, names, bad", [
    ("A", {"A"}, False),
    ("A && (B.Succeeded || C.Failed)", {"A", "B", "C"}, False),
    ("!A.Skipped || my-task.AnySucceeded", {"A", "my-task"}, False),
    ("A &&", {"A"}, True),
    ("(A", {"A"}, True),
    ("A B", {"A"}, True),
])
def test_depends_task_names(expr, names, bad):
    found, _, problem = depends_task_names(expr)
    assert found == names
    assert (problem is not None) == bad


def test_lint_paths_missing_and_directory(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.yml").write_text(wf("  - {name: main, container: {image: a}}\n"))
    (tmp_path / "notes.txt").write_text("not yaml: [")
    assert lint_paths([str(tmp_path)]) == []
    [issue] = lint_paths([str(tmp_path / "nope.yaml")])
    assert "no such file" in str(issue)


def test_other_kinds_ignored():
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: '{{inputs.parameters.zz}}'}\n"
    assert lint_text(text) == []


# --------------------------------------------------------------------------------------------
# the shared examples

@needs_shared
def test_conformance_examples_lint_clean():
    files = sorted(p for p in CONFORMANCE.glob("*.yaml"))
    assert files
    for f in files:
        assert texts(lint_paths([str(f)])) == [], f
    wt = CONFORMANCE / "workflow-template"
    for f in sorted(wt.glob("*.yaml")):
        assert texts(lint_paths([str(f), str(wt / "templates.yaml")])) == [], f
    assert texts(lint_paths([str(CONFORMANCE)])) == []


SEED_EXPECTED = {
    "07-fan-out.yaml": ["aggregate-results"],
    "14-backtest-parallelism.yaml": ["run-backtest", "inputs.parameters.batch.start"],
}


@needs_shared
def test_seed_examples():
    issues = lint_paths([str(SEED)])   # together: 09 uses the WorkflowTemplate of 08
    by_file: dict[str, list[str]] = {}
    for i in issues:
        by_file.setdefault(Path(i.file).name, []).append(str(i))
    assert set(by_file) == set(SEED_EXPECTED), "\n".join(texts(issues))
    for name, needles in SEED_EXPECTED.items():
        out = "\n".join(by_file[name])
        for n in needles:
            assert n in out, out


@needs_shared
def test_seed_workflow_needs_its_template():
    issues = lint_paths([str(SEED / "09-run-ci-from-template.yaml")])
    assert_reports(issues, ['WorkflowTemplate "ci-pipeline" not found'])
    assert lint_paths([str(SEED / "09-run-ci-from-template.yaml")],
                      lambda k, n: yaml.safe_load((SEED / "08-workflowtemplate-ci-pipeline.yaml").read_text())
                      if (k, n) == ("WorkflowTemplate", "ci-pipeline") else None) == []


# --------------------------------------------------------------------------------------------
def test_hundred_thousand_tasks_lint_clean():
    n = 100_000
    tasks = [{"name": f"t{i}", "template": "echo",
              **({"dependencies": [f"t{i - 1}", f"t{i // 2}"] if i > 1 else [f"t{i - 1}"]} if i else {}),
              "arguments": {"parameters": [{"name": "msg", "value":
                                            f"{{{{tasks.t{i - 1}.outputs.result}}}}" if i else "x"}]}}
             for i in range(n)]
    tasks.append({"name": "last", "template": "echo", "dependencies": [f"t{n - 1}"],
                  "arguments": {"parameters": [{"name": "msg", "value": "{{tasks.t0.outputs.result}}"}]}})
    raw = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "big"},
           "spec": {"entrypoint": "main", "templates": [
               {"name": "main", "dag": {"tasks": tasks}},
               {"name": "echo", "inputs": {"parameters": [{"name": "msg"}]},
                "container": {"image": "alpine", "args": ["{{inputs.parameters.msg}}"]}}]}}
    from tiphys.spec.load import Manifest
    m = Manifest("Workflow", "big", raw, "big.yaml", 0)
    issues = lint_manifests([m])
    assert issues == []


PARAMETERISED_OUTPUTS = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: po}
spec:
  entrypoint: main
  templates:
  - name: main
    inputs: {parameters: [{name: variable, value: car}]}
    script:
      image: alpine
      command: [sh, -c]
      args: ["echo {{inputs.parameters.variable}} > /r"]
    outputs:
      parameters:
      - {name: "p-{{inputs.parameters.variable}}", valueFrom: {path: /r}}
      artifacts:
      - {name: "result-{{inputs.parameters.variable}}", path: /r, globalName: "g-{{inputs.parameters.variable}}"}
"""


def test_output_names_from_inputs_and_script_without_source_are_accepted():
    # argo lint checks output names after substituting inputs, and a script may omit source
    assert texts(lint_text(PARAMETERISED_OUTPUTS)) == []


def test_output_names_still_checked_around_tags():
    bad = PARAMETERISED_OUTPUTS.replace('"result-{{', '"result bad-{{')
    assert_reports(lint_text(bad), ["outputs.artifacts[0].name", "is invalid"])


def test_input_names_with_tags_are_refused():
    bad = PARAMETERISED_OUTPUTS.replace("{name: variable, value: car}", "{name: variable, value: car}, {name: 'x-{{workflow.name}}'}")
    assert_reports(lint_text(bad), ["inputs.parameters[1].name", "is invalid"])


@pytest.mark.parametrize("kind,where", [("Workflow", "spec"), ("WorkflowTemplate", "spec"),
                                        ("CronWorkflow", "spec.workflowSpec")])
def test_an_unknown_workflow_spec_field_is_refused_as_argo_decodes_strictly(kind, where):
    """Argo's TestTemplateCommands/DirLintWithInvalidWFT: `entrypoints` is `unknown field "spec.entrypoints"`."""
    body = {"entrypoints": "main", "templates": [{"name": "main", "container": {"image": "a"}}],
            "podPriority": 1, "hostNetwork": False, "executorPlugins": []}
    spec = {"schedules": ["* * * * *"], "workflowSpec": body} if kind == "CronWorkflow" else body
    doc = {"apiVersion": "argoproj.io/v1alpha1", "kind": kind, "metadata": {"name": "x"}, "spec": spec}
    issues = texts(lint_text(yaml.safe_dump(doc)))
    assert [i for i in issues if "unknown field" in i] == \
        [f't.yaml: document 1 ({kind} x): {where}.entrypoints: unknown field "{where}.entrypoints"']
