"""Hera programs as data and ML teams write them; each function builds one Hera Workflow (or
WorkflowTemplate). No `from __future__ import annotations`: Hera reads the functions' annotations
as classes. The tests turn them into YAML with Hera itself (`to_dict()`), so what runs
is exactly what Hera submits to Argo."""

from hera.workflows import (
    DAG, Artifact, Container, EmptyDirVolume, Parameter, Resources, RetryStrategy, Steps, Volume,
    Workflow, WorkflowTemplate, script,
)
from hera.workflows import models as m


@script()
def gen(n: int):
    import json
    import sys
    json.dump([{"i": i, "sq": i * i} for i in range(n)], sys.stdout)


@script()
def consume(i: int, sq: int):
    print(f"item {i} -> {sq}")


@script()
def flip():
    print("heads")


@script()
def say(msg: str):
    print(msg)


@script(outputs=[Parameter(name="model", value_from=m.ValueFrom(path="/tmp/model.txt")),
                 Artifact(name="data", path="/tmp/data")])
def train(lr: float = 0.1):
    import os
    os.makedirs("/tmp/data", exist_ok=True)
    with open("/tmp/data/weights.csv", "w") as f:
        f.write(f"lr,{lr}\n")
    with open("/tmp/model.txt", "w") as f:
        f.write(f"model-lr-{lr}")


@script(inputs=[Artifact(name="data", path="/tmp/in")])
def evaluate(model: str):
    print(model, open("/tmp/in/weights.csv").read().strip())


@script()
def fail(code: int = 2):
    import sys
    sys.exit(code)


@script(volume_mounts=[m.VolumeMount(name="work", mount_path="/mnt/vol")],
        retry_strategy=RetryStrategy(limit="3", retry_policy="OnFailure"))
def flaky():
    import os
    import sys
    p = "/mnt/vol/count"
    n = int(open(p).read()) if os.path.exists(p) else 0
    open(p, "w").write(str(n + 1))
    print("attempt", n)
    sys.exit(0 if n >= 2 else 1)


@script(resources=Resources(cpu_request="100m", memory_request="64Mi", memory_limit="256Mi", cpu_limit="1"))
def square(x: int):
    print(x * x)


@script()
def total(xs: str):
    print(sum(int(v) for v in xs))


@script(volume_mounts=[m.VolumeMount(name="scratch", mount_path="/scratch")])
def scratch_write():
    open("/scratch/note", "w").write("mine")
    print(open("/scratch/note").read())


cowsay = Container(name="cowsay", image="docker/whalesay", command=["cowsay"], args=["{{inputs.parameters.msg}}"],
                   inputs=[Parameter(name="msg", default="moo")])


def dag_fan_out() -> Workflow:
    """with_param over a script's JSON result, and `when` on another script's result."""
    with Workflow(generate_name="hera-dag-", entrypoint="d", arguments={"n": 3}) as w:
        with DAG(name="d", inputs=[Parameter(name="n")]):
            g = gen(arguments={"n": "{{inputs.parameters.n}}"})
            c = consume(with_param=g.result, arguments={"i": "{{item.i}}", "sq": "{{item.sq}}"})
            f = flip()
            heads = say(name="heads", arguments={"msg": "it was heads"}, when=f"{f.result} == heads")
            tails = say(name="tails", arguments={"msg": "it was tails"}, when=f"{f.result} == tails")
            g >> c
            f >> [heads, tails]
    return w


def ml_pipeline() -> Workflow:
    """Parameters and artifacts between tasks, continue_on, an exit handler, workflow arguments."""
    with Workflow(generate_name="hera-ml-", entrypoint="pipeline", on_exit="exit", arguments={"lr": "0.5"}) as w:
        with Steps(name="exit"):
            say(name="notify", arguments={"msg": "{{workflow.status}}"})
        with DAG(name="pipeline"):
            t = train(arguments={"lr": "{{workflow.parameters.lr}}"})
            e = evaluate(arguments=[Parameter(name="model", value=t.get_parameter("model").value),
                                    t.get_artifact("data").with_name("data")])
            f = fail(continue_on=m.ContinueOn(failed=True))
            after = say(name="after", arguments={"msg": "{{tasks.fail.status}}"})
            t >> e
            f >> after
    return w


def steps_retry_loop() -> Workflow:
    """Retries sharing a claim, a parallel group, with_items, a loop's aggregated result, a
    skipped `when`, resources, an emptyDir per pod."""
    with Workflow(generate_name="hera-steps-", entrypoint="main",
                  volumes=[Volume(name="work", size="1Gi"), EmptyDirVolume(name="scratch")]) as w:
        with Steps(name="main") as s:
            flaky()
            with s.parallel():
                cowsay(name="say-default")
                cowsay(name="say-hi", arguments={"msg": "hi"})
                scratch_write()
            square(with_items=[1, 2, 3], arguments={"x": "{{item}}"})
            total(arguments={"xs": "{{steps.square.outputs.result}}"})
            cowsay(name="skipped", arguments={"msg": "never"}, when="{{steps.square.status}} != Succeeded")
    return w


def depends_logic() -> Workflow:
    """Hera's depends operators: on_failure, `|` (or), and a task that fails the DAG."""
    with Workflow(generate_name="hera-depends-", entrypoint="d") as w:
        with DAG(name="d"):
            a = fail(name="a", arguments={"code": 3})
            b = say(name="b", arguments={"msg": "b"})
            recover = say(name="recover", arguments={"msg": "a failed"})
            either = say(name="either", arguments={"msg": "either"})
            a.on_failure(recover)
            [a, b] >> either   # needs both to succeed: a failed, so it is omitted
            c = say(name="c", arguments={"msg": "c"})
            b >> c
            # `a.failed || b.succeeded`
            say(name="d", arguments={"msg": "d"}, depends=f"{a.name}.Failed || {b.name}.Succeeded")
    return w


def library_template() -> WorkflowTemplate:
    """A WorkflowTemplate other workflows call with templateRef."""
    with WorkflowTemplate(name="hera-lib", entrypoint="greet") as wt:
        say(name="greet-step")   # nothing: templates below are the library
        with Steps(name="greet", inputs=[Parameter(name="who", default="world")]):
            say(arguments={"msg": "hello {{inputs.parameters.who}}"})
    return wt


def uses_library() -> Workflow:
    from hera.workflows import Step
    with Workflow(generate_name="hera-ref-", entrypoint="main") as w:
        with Steps(name="main"):
            Step(name="call", template_ref=m.TemplateRef(name="hera-lib", template="greet"),
                 arguments={"who": "hera"})
            Step(name="say-direct", template_ref=m.TemplateRef(name="hera-lib", template="say"),
                 arguments={"msg": "direct"})
    return w
