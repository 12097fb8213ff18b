"""Fields Argo substitutes from a template's inputs and the globals before reading them:
dag.target, retryStrategy, raw artifacts' data; and expressions see the engine's clock."""
import textwrap

from tiphys.engine import names

from tiphys.testing.engine import Outcome, Simulation


def sim_of(text: str, outcomes=None, **kw) -> Simulation:
    return Simulation(textwrap.dedent(text), outcomes, **kw)


def displays(sim: Simulation) -> set[str]:
    return {n["displayName"] for n in sim.status["nodes"].values()}


DAG_TARGET = """
    metadata: {name: tgt}
    spec:
      entrypoint: main
      arguments: {parameters: [{name: target, value: "C"}]}
      templates:
      - name: main
        dag:
          target: "{{workflow.parameters.target}}"
          tasks:
          - {name: A, template: ok}
          - {name: B, template: ok, depends: A}
          - {name: C, template: ok, depends: A}
          - {name: D, template: ok, depends: C}
      - name: ok
        container: {image: alpine, command: ["true"]}
"""


def test_dag_target_from_a_parameter():
    sim = sim_of(DAG_TARGET)
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    assert displays(sim) == {"tgt", "A", "C"}


def test_dag_target_from_an_input_names_two_tasks():
    text = DAG_TARGET.replace('target: "{{workflow.parameters.target}}"', 'target: "{{inputs.parameters.t}}"') \
        .replace("      - name: main\n        dag:", "      - name: main\n        inputs: {parameters: [{name: t, value: B D}]}\n        dag:")
    sim = sim_of(text)
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    assert displays(sim) == {"tgt", "A", "B", "C", "D"}


RETRY = """
    metadata: {name: rl}
    spec:
      entrypoint: main
      arguments: {parameters: [{name: limit, value: "2"}, {name: wait, value: "10s"}]}
      templates:
      - name: main
        inputs: {parameters: [{name: limit}]}
        retryStrategy:
          limit: "{{inputs.parameters.limit}}"
          backoff: {duration: "{{workflow.parameters.wait}}", factor: "{{=asInt(inputs.parameters.limit)}}"}
        container: {image: alpine, command: ["false"]}
"""


def test_retry_limit_and_backoff_from_parameters():
    sim = sim_of(RETRY, {"main": Outcome(exit_code=1, duration=1)})
    sim.run()
    attempts = sorted(n["displayName"] for n in sim.status["nodes"].values() if n["type"] == "Pod")
    assert attempts == ["rl(0)", "rl(1)", "rl(2)"]
    assert sim.status["phase"] == "Failed"
    starts = sorted(names.parse_timestamp(n["startedAt"]) for n in sim.status["nodes"].values()
                    if n["type"] == "Pod")
    # 1 s run + 10 s, then 1 s run + 10 s * 2: the third attempt starts 32 s after the first
    assert [t - starts[0] for t in starts] == [0, 11, 32]


def test_retry_limit_that_is_not_a_number_is_a_clear_error():
    sim = sim_of(RETRY.replace('value: "2"', 'value: "two"'), {"main": Outcome(exit_code=1)})
    sim.run()
    assert sim.status["phase"] == "Error"
    root = sim.status["nodes"][next(iter(sim.status["nodes"]))]
    assert "two" in root["message"]
    assert [n for n in sim.status["nodes"].values() if n["type"] == "Pod"] == []


def test_retry_limit_unresolved_names_the_field():
    sim = sim_of(RETRY.replace("{{inputs.parameters.limit}}", "{{workflow.parameters.nope}}"),
                 {"main": Outcome(exit_code=1)})
    sim.run()
    root = sim.status["nodes"][next(iter(sim.status["nodes"]))]
    assert (root["phase"], sim.status["phase"]) == ("Error", "Error")
    assert "retryStrategy.limit" in root["message"]


RAW = """
    metadata: {name: raw}
    spec:
      entrypoint: main
      arguments: {parameters: [{name: who, value: world}]}
      templates:
      - name: main
        inputs:
          parameters: [{name: greeting, value: hello}]
          artifacts:
          - name: msg
            path: /tmp/msg
            raw: {data: "{{inputs.parameters.greeting}} {{workflow.parameters.who}}"}
        container: {image: alpine, command: [cat, /tmp/msg]}
"""


def test_raw_artifact_data_is_substituted():
    sim = sim_of(RAW)
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    (art,) = sim.started[0].inputs
    assert art.raw == "hello world"


def test_looped_step_over_nothing_is_one_skipped_node():
    sim = sim_of("""
        metadata: {name: empty}
        spec:
          entrypoint: main
          templates:
          - name: main
            steps:
            - - {name: loop, template: ok, withParam: "[]"}
            - - {name: after, template: ok}
          - name: ok
            container: {image: alpine, command: ["true"]}
    """)
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    (skipped,) = sim.nodes("loop")
    assert (skipped["type"], skipped["phase"], skipped["message"]) == ("Skipped", "Skipped", "Skipped, empty params")
    assert sim.phase("after") == "Succeeded"


def test_input_default_may_use_another_input_and_when_filters_map_items():
    sim = sim_of("""
        metadata: {name: wf}
        spec:
          entrypoint: main
          templates:
          - name: main
            inputs:
              parameters:
              - {name: test, value: "false"}
              - name: list
                value: "{{= concat(['always'], inputs.parameters.test == 'true' ? ['test'] : []) | toJSON() }}"
            steps:
            - - name: fst
                template: ok
                when: '"{{= get(item, ''type'') ?? ''always'' }}" in ("{{= inputs.parameters.list | fromJSON() | join(''","'') }}")'
                withParam: '[{"name": "a", "type": "always"}, {"name": "b", "type": "test"}, {"name": "c"}]'
          - name: ok
            container: {image: alpine, command: ["true"]}
    """)
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    root = sim.status["nodes"][next(iter(sim.status["nodes"]))]
    assert [p["value"] for p in root["inputs"]["parameters"]] == ["false", '[\n  "always"\n]']
    assert sim.phase("fst(0:name:a,type:always)") == "Succeeded"
    assert sim.phase("fst(1:name:b,type:test)") == "Skipped"
    assert sim.phase("fst(2:name:c)") == "Succeeded"


def test_expressions_see_the_engine_clock():
    sim = sim_of("""
        metadata: {name: clk}
        spec:
          entrypoint: main
          templates:
          - name: main
            steps:
            - - {name: a, template: show}
            - - {name: b, template: show}
          - name: show
            container:
              image: alpine
              args: ["{{=sprig.date('2006-01-02 15:04:05', now())}}", "{{=sprig.date('15:04:05', sprig.now())}}",
                     "{{=sprig.unixEpoch(sprig.now())}}"]
    """, {"show": Outcome(duration=90)}, start=1_000_000_000.0)
    sim.run()
    assert sim.status["phase"] == "Succeeded"
    first, second = (s.template["container"]["args"] for s in sim.started)
    assert first == ["2001-09-09 01:46:40", "01:46:40", "1000000000"]
    assert second == ["2001-09-09 01:48:10", "01:48:10", "1000000090"]


HOOK = """
    metadata: {name: hk}
    spec:
      entrypoint: main
      hooks:
        exit:
          template: report
          arguments:
            parameters:
            - {name: ternary, value: '{{= workflow.status == "Succeeded" ? "yes" : "no" }}'}
            - {name: status, value: "{{workflow.status}}"}
      templates:
      - name: main
        container: {image: alpine, command: ["true"]}
      - name: report
        inputs: {parameters: [{name: ternary}, {name: status}]}
        container: {image: alpine, args: ["{{inputs.parameters.ternary}}", "{{inputs.parameters.status}}"]}
"""


def test_workflow_exit_hook_arguments_see_the_workflow_status():
    for outcome, expected in ((Outcome(), ["yes", "Succeeded"]), (Outcome(exit_code=1), ["no", "Failed"])):
        sim = sim_of(HOOK, {"main": outcome})
        sim.run()
        report = [s for s in sim.started if s.template.get("name") == "report"]
        assert report[0].template["container"]["args"] == expected
