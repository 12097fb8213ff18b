"""Evaluator for the expr-lang (github.com/expr-lang/expr) subset that Argo uses.

`evaluate(source, env)` parses (cached per source text) and walks the AST.  No Python
`eval` is involved.  Work is budgeted (closure calls, ranges, string and list sizes) so
hostile expressions end in ExpressionError instead of hanging; a name missing from the
env raises `UnknownVariable` so the templater can leave late variables unresolved.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cmp_to_key, lru_cache
from typing import Any, Callable, Mapping

from tiphys.errors import ExpressionError
from tiphys.expr import exprfuncs, exprops, jsonpath, sprig, sprigmore
from tiphys.expr.exprfuncs import Builtin, Namespace
from tiphys.expr.exprparse import (ArrayLit, Binary, Call, Closure, Conditional, Const, Let, MapLit,
                                   Member, Method, Name, Node, Pointer, Slice, Unary, parse)
from tiphys.expr.exprvalues import (compare, fetch, is_int, is_number, require_bool, require_list,
                                    require_str, slice_of, type_name, wrap_int)

MAX_STEPS = 3_000_000
_UNSET = object()


class UnknownVariable(ExpressionError):
    """The expression names a variable that is not in the environment (yet)."""

    def __init__(self, name: str, expression: str | None = None):
        where = f" in expression {expression!r}" if expression is not None else ""
        super().__init__(f"unknown name {name}{where}")
        self.name = name


def _jsonpath(document: Any, path: Any) -> Any:
    if isinstance(document, str):
        document = exprfuncs.from_json(document, "jsonpath()")
    return jsonpath.query(document, require_str(path, "jsonpath()"))


FUNCTIONS: dict[str, Builtin] = {**exprfuncs.FUNCTIONS, "jsonpath": Builtin("jsonpath", _jsonpath, 2, 2)}
GLOBALS: dict[str, Any] = {"sprig": sprig.NAMESPACE}
assert sprigmore.FUNCTIONS is sprig.FUNCTIONS  # sprigmore registers into the sprig namespace
_PREDICATE_ARITY = {"count": (1, 2), "sum": (1, 2), "sortBy": (2, 3), "reduce": (2, 3)}


@lru_cache(maxsize=2048)
def compile_expression(source: str) -> Node:
    """Parse `source` once; later calls with the same text reuse the AST."""
    try:
        return parse(source)
    except ExpressionError as exc:
        raise ExpressionError(f"{exc.message} in expression {source!r}") from None
    except RecursionError:
        raise ExpressionError(f"expression is nested too deeply: {source!r}") from None


def evaluate(source: str, env: Mapping[str, Any]) -> Any:
    """Evaluate expr-lang `source` over `env`; every failure is an ExpressionError."""
    if not isinstance(source, str):
        raise ExpressionError(f"expression must be a string, got {type_name(source)}")
    node = compile_expression(source)
    try:
        return _Evaluator(env).eval(node)
    except UnknownVariable as exc:
        raise UnknownVariable(exc.name, source) from None
    except ExpressionError as exc:
        raise ExpressionError(f"{exc.message} in expression {source!r}") from None
    except RecursionError:
        raise ExpressionError(f"expression is nested too deeply: {source!r}") from None
    except (ArithmeticError, ValueError) as exc:
        raise ExpressionError(f"{exc} in expression {source!r}") from None


@dataclass(slots=True)
class _Frame:
    item: Any
    index: int
    acc: Any = _UNSET


class _Evaluator:
    def __init__(self, env: Mapping[str, Any]):
        self.env = env
        self.locals: dict[str, Any] = {}
        self.frames: list[_Frame] = []
        self.steps = 0

    def charge(self, amount: int) -> None:
        self.steps += amount
        if self.steps > MAX_STEPS:
            raise ExpressionError(f"expression does too much work (more than {MAX_STEPS} steps)")

    def charge_size(self, value: Any) -> Any:
        if isinstance(value, (str, list, dict)):
            self.charge(len(value))
        return value

    def eval(self, node: Node) -> Any:
        return _DISPATCH[type(node)](self, node)

    def const(self, node: Const) -> Any:
        return node.value

    def name(self, node: Name) -> Any:
        for scope in (self.locals, self.env, GLOBALS):
            if node.name in scope:
                return scope[node.name]
        raise UnknownVariable(node.name)

    def pointer(self, node: Pointer) -> Any:
        if not self.frames:
            raise ExpressionError("# is only allowed inside a predicate")
        frame = self.frames[-1]
        if node.name == "":
            return frame.item
        if node.name == "index":
            return frame.index
        if node.name == "acc" and frame.acc is not _UNSET:
            return frame.acc
        raise ExpressionError(f"unknown pointer #{node.name}")

    def chain(self, node: Node, soft: bool) -> tuple[Any, bool]:
        """Evaluate a member/method/slice chain; (value, stopped by a nil under ?. or ??)."""
        if not isinstance(node, (Member, Method, Slice)):
            return self.eval(node), False
        subject, stopped = self.chain(node.subject, soft)
        if stopped or (subject is None and (soft or getattr(node, "optional", False))):
            return None, True
        return self.step(node, subject), False

    def step(self, node: Member | Method | Slice, subject: Any) -> Any:
        if isinstance(node, Slice):
            low = None if node.low is None else self.eval(node.low)
            high = None if node.high is None else self.eval(node.high)
            return slice_of(subject, low, high)
        if isinstance(node, Method):
            args = [self.eval(arg) for arg in node.args]
            if isinstance(subject, Namespace):
                return self.charge_size(subject.call(node.name, args))
            return exprops.call_method(subject, node.name, args)
        key = self.eval(node.key)
        if subject is None or isinstance(subject, Namespace):
            raise ExpressionError(f"cannot fetch {key!r} from {type_name(subject)}")
        return fetch(subject, key)

    def accessor(self, node: Member | Method | Slice) -> Any:
        return self.chain(node, soft=False)[0]

    def unary(self, node: Unary) -> Any:
        value = self.eval(node.operand)
        if node.op in ("!", "not"):
            return not require_bool(value, f"operator {node.op}")
        if node.op == "-":
            return exprops.negate(value)
        if not is_number(value):
            raise ExpressionError(f"invalid operation: +{type_name(value)}")
        return value

    def binary(self, node: Binary) -> Any:
        op = node.op
        if op in ("&&", "and", "||", "or"):
            left = require_bool(self.eval(node.left), f"operator {op}")
            if left is (op in ("||", "or")):
                return left
            return require_bool(self.eval(node.right), f"operator {op}")
        if op == "??":
            left = self.chain(node.left, soft=True)[0]
            return self.eval(node.right) if left is None else left
        result = exprops.BINARY[op](self.eval(node.left), self.eval(node.right))
        return self.charge_size(result)

    def conditional(self, node: Conditional) -> Any:
        test = require_bool(self.eval(node.test), "ternary condition")
        return self.eval(node.yes if test else node.no)

    def array(self, node: ArrayLit) -> list[Any]:
        return self.charge_size([self.eval(item) for item in node.items])

    def mapping(self, node: MapLit) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.pairs:
            key = self.eval(key_node)
            if not isinstance(key, str):
                raise ExpressionError(f"map key must be a string, got {type_name(key)}")
            out[key] = self.eval(value_node)
        return self.charge_size(out)

    def let(self, node: Let) -> Any:
        saved = self.locals.get(node.name, _UNSET)
        self.locals[node.name] = self.eval(node.value)
        try:
            return self.eval(node.body)
        finally:
            if saved is _UNSET:
                del self.locals[node.name]
            else:
                self.locals[node.name] = saved

    def closure(self, node: Closure) -> Any:
        raise ExpressionError("a closure is only allowed as a predicate argument")

    def call(self, node: Call) -> Any:
        if node.name in _PREDICATES:
            return self.predicate(node)
        args = [self.eval(arg) for arg in node.args]
        if node.name == "now" and "now" in self.env:
            now = self.env["now"]
            return now(*args) if callable(now) else now
        function = FUNCTIONS.get(node.name)
        if function is None:
            raise ExpressionError(f"unknown function {node.name}()")
        return self.charge_size(function(*args))

    def predicate(self, node: Call) -> Any:
        low, high = _PREDICATE_ARITY.get(node.name, (2, 2))
        if not low <= len(node.args) <= high:
            raise ExpressionError(f"{node.name}() takes {low} to {high} arguments, got {len(node.args)}")
        items = require_list(self.eval(node.args[0]), f"{node.name}()")
        closure = node.args[1] if len(node.args) > 1 else None
        extra = [self.eval(arg) for arg in node.args[2:]]
        assert closure is None or isinstance(closure, Closure)
        return self.charge_size(_PREDICATES[node.name](self, items, closure, *extra))

    def apply(self, closure: Closure, item: Any, index: int, acc: Any = _UNSET) -> Any:
        self.charge(1)
        self.frames.append(_Frame(item, index, acc))
        try:
            return self.eval(closure.body)
        finally:
            self.frames.pop()

    def test(self, closure: Closure, item: Any, index: int) -> bool:
        return require_bool(self.apply(closure, item, index), "predicate")


_DISPATCH: dict[type, Callable[[_Evaluator, Any], Any]] = {
    Const: _Evaluator.const, Name: _Evaluator.name, Pointer: _Evaluator.pointer,
    Member: _Evaluator.accessor, Method: _Evaluator.accessor, Slice: _Evaluator.accessor,
    Unary: _Evaluator.unary, Binary: _Evaluator.binary, Conditional: _Evaluator.conditional,
    ArrayLit: _Evaluator.array, MapLit: _Evaluator.mapping, Let: _Evaluator.let,
    Closure: _Evaluator.closure, Call: _Evaluator.call,
}

_Items = list[Any]


def _find_index(ev: _Evaluator, items: _Items, fn: Closure, reverse: bool) -> int:
    order = range(len(items) - 1, -1, -1) if reverse else range(len(items))
    return next((i for i in order if ev.test(fn, items[i], i)), -1)


def _find(ev: _Evaluator, items: _Items, fn: Closure, reverse: bool) -> Any:
    index = _find_index(ev, items, fn, reverse)
    return items[index] if index >= 0 else None


def _sum(ev: _Evaluator, items: _Items, fn: Closure | None) -> Any:
    values = items if fn is None else [ev.apply(fn, x, i) for i, x in enumerate(items)]
    total: Any = 0
    for value in values:
        if not is_number(value):
            raise ExpressionError(f"sum() needs numbers, got {type_name(value)}")
        total = wrap_int(total + value) if is_int(total) and is_int(value) else float(total) + float(value)
    return total


def _count(ev: _Evaluator, items: _Items, fn: Closure | None) -> int:
    if fn is None:
        return sum(1 for item in items if require_bool(item, "count()"))
    return sum(1 for i, x in enumerate(items) if ev.test(fn, x, i))


def _group_by(ev: _Evaluator, items: _Items, fn: Closure) -> dict[Any, list[Any]]:
    groups: dict[Any, list[Any]] = {}
    for i, item in enumerate(items):
        key = ev.apply(fn, item, i)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise ExpressionError(f"groupBy() key must be a scalar, got {type_name(key)}")
        groups.setdefault(key, []).append(item)
    return groups


def _sort_by(ev: _Evaluator, items: _Items, fn: Closure, order: Any = "asc") -> list[Any]:
    if order not in ("asc", "desc"):
        raise ExpressionError(f"sortBy() order must be 'asc' or 'desc', got {order!r}")
    keyed = [(ev.apply(fn, x, i), x) for i, x in enumerate(items)]
    before = cmp_to_key(lambda a, b: -1 if compare("<", a[0], b[0]) else (1 if compare(">", a[0], b[0]) else 0))
    return [x for _, x in sorted(keyed, key=before, reverse=order == "desc")]


def _reduce(ev: _Evaluator, items: _Items, fn: Closure, *initial: Any) -> Any:
    if not initial and not items:
        raise ExpressionError("reduce() of an empty array needs an initial value")
    acc, start = (initial[0], 0) if initial else (items[0], 1)
    for i in range(start, len(items)):
        acc = ev.apply(fn, items[i], i, acc)
    return acc


def _one(ev: _Evaluator, items: _Items, fn: Closure) -> bool:
    return sum(1 for i, x in enumerate(items) if ev.test(fn, x, i)) == 1


_PREDICATES: dict[str, Callable[..., Any]] = {
    "filter": lambda ev, xs, fn: [x for i, x in enumerate(xs) if ev.test(fn, x, i)],
    "map": lambda ev, xs, fn: [ev.apply(fn, x, i) for i, x in enumerate(xs)],
    "all": lambda ev, xs, fn: all(ev.test(fn, x, i) for i, x in enumerate(xs)),
    "any": lambda ev, xs, fn: any(ev.test(fn, x, i) for i, x in enumerate(xs)),
    "none": lambda ev, xs, fn: not any(ev.test(fn, x, i) for i, x in enumerate(xs)),
    "one": _one,
    "count": _count,
    "sum": _sum,
    "find": lambda ev, xs, fn: _find(ev, xs, fn, False),
    "findLast": lambda ev, xs, fn: _find(ev, xs, fn, True),
    "findIndex": lambda ev, xs, fn: _find_index(ev, xs, fn, False),
    "findLastIndex": lambda ev, xs, fn: _find_index(ev, xs, fn, True),
    "groupBy": _group_by,
    "sortBy": _sort_by,
    "reduce": _reduce,
}
