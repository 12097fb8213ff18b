"""Typical Kubeflow Pipelines v1 pipelines; `python kfp_pipelines.py OUTDIR` (with kfp 1.8.22) compiles
each to Argo Workflow YAML (kfp-*.yaml here). See README.md."""
import sys
from typing import NamedTuple

import kfp
from kfp import dsl
from kfp.components import InputPath, OutputPath, create_component_from_func, load_component_from_text

OUT = sys.argv[1]
IMAGE = "python:3.7"


def produce_list(n: int) -> str:
    import json
    return json.dumps([{"a": i, "b": i * 10} for i in range(n)])


def add(a: int, b: int) -> int:
    print(a + b)
    return a + b


def flip_coin() -> str:
    return "heads"


def print_msg(msg):
    print(msg)


def write_data(n: int, data_path: OutputPath(str)):
    with open(data_path, "w") as f:
        for i in range(n):
            f.write(f"{i}\n")


def read_data(data_path: InputPath(str)) -> int:
    total = sum(int(x) for x in open(data_path).read().split())
    print("total", total)
    return total


def train(lr: float, epochs: int) -> NamedTuple("Out", [("accuracy", float), ("model", str)]):
    from collections import namedtuple
    return namedtuple("Out", ["accuracy", "model"])(0.5 + lr * epochs / 100, f"model-{lr}-{epochs}")


def fail_once_marker(msg: str):
    import sys
    print("failing:", msg)
    sys.exit(1)


op = lambda f: create_component_from_func(f, base_image=IMAGE)
produce_list_op, add_op, flip_op, print_op = op(produce_list), op(add), op(flip_coin), op(print_msg)
write_op, read_op, train_op, fail_op = op(write_data), op(read_data), op(train), op(fail_once_marker)


@dsl.pipeline(name="parallelfor-static")
def parallelfor_static():
    with dsl.ParallelFor([{"a": 1, "b": 2}, {"a": 3, "b": 4}]) as item:
        add_op(item.a, item.b)
    with dsl.ParallelFor([1, 2, 3], parallelism=2) as x:
        print_op(x)


@dsl.pipeline(name="parallelfor-dynamic")
def parallelfor_dynamic(n: int = 3):
    lst = produce_list_op(n)
    with dsl.ParallelFor(lst.output) as item:
        s = add_op(item.a, item.b)
        print_op(s.output)


@dsl.pipeline(name="condition")
def condition():
    flip = flip_op()
    with dsl.Condition(flip.output == "heads"):
        print_op("it was heads")
    with dsl.Condition(flip.output == "tails"):
        print_op("it was tails")


@dsl.pipeline(name="exit-handler")
def exit_handler(msg: str = "hello"):
    done = print_op("exit handler ran")
    with dsl.ExitHandler(done):
        print_op(msg)
        fail_op(msg).set_retry(2)


@dsl.pipeline(name="artifacts-and-params")
def artifacts_and_params(n: int = 4, lr: float = 0.1):
    w = write_op(n)
    r = read_op(w.outputs["data"])
    t = train_op(lr, r.output).set_memory_limit("512Mi").set_cpu_limit("1").set_memory_request("64Mi")
    t.set_retry(3)
    p = print_op(t.outputs["model"]).after(t)
    print_op("last").after(p, r)


@dsl.pipeline(name="nested")
def nested():
    a = add_op(1, 2)
    with dsl.Condition(a.output > 2):
        with dsl.ParallelFor([1, 2]) as i:
            with dsl.Condition(i == 2):
                print_op("inner two")
            add_op(i, a.output)


producer = load_component_from_text("""
name: Make dataset
inputs:
- {name: rows, type: Integer}
outputs:
- {name: dataset, type: Dataset}
- {name: count, type: Integer}
implementation:
  container:
    image: python:3.7
    command:
    - sh
    - -c
    - |
      mkdir -p "$(dirname "$1")" "$(dirname "$2")"
      seq 1 "$0" > "$1"
      wc -l < "$1" | tr -d ' ' > "$2"
    - {inputValue: rows}
    - {outputPath: dataset}
    - {outputPath: count}
""")

consumer = load_component_from_text("""
name: Sum dataset
inputs:
- {name: dataset, type: Dataset}
- {name: label, type: String, default: sum}
outputs:
- {name: total, type: Integer}
implementation:
  container:
    image: python:3.7
    command: [python3, -c, "import sys, os; t = sum(int(x) for x in open(sys.argv[1]).read().split()); print(sys.argv[2], t); os.makedirs(os.path.dirname(sys.argv[3]), exist_ok=True); open(sys.argv[3], 'w').write(str(t))"]
    args: [{inputPath: dataset}, {inputValue: label}, {outputPath: total}]
""")


def metrics_op(total):
    return dsl.ContainerOp(
        name="report",
        image="python:3.7",
        command=["sh", "-c"],
        arguments=["echo '{\"metrics\": [{\"name\": \"total\", \"numberValue\": '\"$0\"'}]}' > /mlpipeline-metrics.json && "
                   "echo '{\"outputs\": []}' > /mlpipeline-ui-metadata.json && echo run $1 pod $2", total,
                   dsl.RUN_ID_PLACEHOLDER, "{{pod.name}}"],
        file_outputs={"mlpipeline-metrics": "/mlpipeline-metrics.json",
                      "mlpipeline-ui-metadata": "/mlpipeline-ui-metadata.json"},
    )


@dsl.pipeline(name="components-and-metrics")
def components_and_metrics(rows: int = 5, names: list = ["x", "y"]):
    d = producer(rows=rows)
    d.set_display_name("make the data").set_caching_options(False)
    d.add_env_variable(__import__("kubernetes").client.V1EnvVar(name="MODE", value="test"))
    s = consumer(dataset=d.outputs["dataset"], label="total")
    m = metrics_op(s.outputs["total"])
    m.set_timeout(300)
    with dsl.ParallelFor(names) as name:
        consumer(dataset=d.outputs["dataset"], label=name)
    dsl.get_pipeline_conf().set_parallelism(4)
    dsl.get_pipeline_conf().set_ttl_seconds_after_finished(3600)
    dsl.get_pipeline_conf().set_timeout(1800)




for fn in (components_and_metrics, parallelfor_static, parallelfor_dynamic, condition, exit_handler, artifacts_and_params, nested):
    kfp.compiler.Compiler().compile(fn, f"{OUT}/kfp-{fn.__name__.replace('_', '-')}.yaml")
