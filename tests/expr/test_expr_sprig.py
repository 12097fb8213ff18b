"""sprig functions as Argo exposes them: sprig's own arities (many are variadic) and values."""
from __future__ import annotations

from typing import Any

import pytest

from tiphys.errors import ExpressionError
from tiphys.expr.exprlang import evaluate

ENV: dict[str, Any] = {"m": {"a": 1, "n": {"x": 1}}, "l": [1, 2, 2, "2", None, ""]}

CASES: list[tuple[str, Any]] = [
    # arity: variadic as in sprig's GenericFuncMap
    ("sprig.add(1, 2, 3, 4, 5)", 15), ("sprig.add()", 0), ("sprig.add(7)", 7), ("sprig.add('3', 1, 'x')", 4),
    ("sprig.mul(2, 3, 4, 5)", 120), ("sprig.max(1, 9, 3, 7)", 9), ("sprig.min(4, 2, 8)", 2),
    ("sprig.biggest(3, 11)", 11),
    ("sprig.addf(1.1, 2.2)", 3.3), ("sprig.addf(1.5, 2, 3)", 6.5), ("sprig.addf()", 0.0),
    ("sprig.subf(1.1, 0.2, 0.3)", 0.6), ("sprig.mulf(1.1, 3)", 3.3), ("sprig.divf(10, 4)", 2.5),
    ("sprig.divf(100, 2, 5)", 10.0), ("sprig.add1f(1.5)", 2.5), ("sprig.maxf(1, 2.5, 2)", 2.5),
    ("sprig.minf(1, -2.5)", -2.5),
    ("sprig.default('d', '', 'x')", "d"), ("sprig.default('d')", "d"), ("sprig.default('d', 'v', 'x')", "v"),
    ("sprig.coalesce('', nil, 0, 'c', 'd')", "c"), ("sprig.list()", []), ("sprig.list(1, 'a', nil)", [1, "a", None]),
    ("sprig.quote('a', nil, 'b')", '"a" "b"'),
    # strings
    ("sprig.cat('a', nil, 1, [1, 2])", "a 1 [1 2]"), ("sprig.cat()", ""),
    ("sprig.trunc(3, 'abcdef')", "abc"), ("sprig.trunc(-2, 'abcdef')", "ef"), ("sprig.trunc(10, 'ab')", "ab"),
    ("sprig.abbrev(5, 'hello world')", "he..."), ("sprig.nospace('a b\tc')", "abc"),
    ("sprig.untitle('Hello')", "hello"), ("sprig.initials('Hello big World')", "HbW"),
    ("sprig.indent(2, 'a\\nb')", "  a\n  b"), ("sprig.nindent(1, 'a')", "\n a"),
    ("sprig.plural('one', 'many', 2)", "many"), ("sprig.plural('one', 'many', 1)", "one"),
    ("sprig.split('$', 'foo$bar')", {"_0": "foo", "_1": "bar"}),
    ("sprig.splitn('$', 2, 'a$b$c')", {"_0": "a", "_1": "b$c"}),
    ("sprig.toStrings([1, nil, 'x'])", ["1", "x"]), ("sprig.sortAlpha(['b', 'a', 'c'])", ["a", "b", "c"]),
    ("sprig.sha256sum('hello world')", "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"),
    ("sprig.sha1sum('a')", "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8"), ("sprig.adler32sum('a')", "6422626"),
    ("sprig.b32enc('hi')", "NBUQ===="), ("sprig.b32dec('NBUQ====')", "hi"), ("sprig.trimall('$', '$a$')", "a"),
    # regexes
    ("sprig.regexMatch('^[a-z]+$', 'abc')", True), ("sprig.regexFind('[0-9]+', 'ab12cd34')", "12"),
    ("sprig.regexFindAll('[0-9]', 'a1b2c3', -1)", ["1", "2", "3"]),
    ("sprig.regexFindAll('[0-9]', 'a1b2c3', 2)", ["1", "2"]),
    ("sprig.regexReplaceAll('a(x*)b', '-ab-axxb-', '${1}W')", "-W-xxW-"),
    ("sprig.regexReplaceAllLiteral('a(x*)b', '-ab-', '${1}')", "-${1}-"),
    ("sprig.regexSplit('z+', 'pizza', -1)", ["pi", "a"]), ("sprig.regexQuoteMeta('1.2')", "1\\.2"),
    # lists
    ("sprig.first([3, 4])", 3), ("sprig.last([3, 4])", 4), ("sprig.rest([3, 4, 5])", [4, 5]),
    ("sprig.initial([3, 4, 5])", [3, 4]), ("sprig.append([1], 2)", [1, 2]), ("sprig.push([1], 2)", [1, 2]),
    ("sprig.prepend([1], 0)", [0, 1]), ("sprig.reverse([1, 2, 3])", [3, 2, 1]),
    ("sprig.uniq(l)", [1, 2, "2", None, ""]), ("sprig.without([1, 2, 3, 2], 2)", [1, 3]),
    ("sprig.has(2, [1, 2])", True), ("sprig.has('2', [1, 2])", False), ("sprig.compact(l)", [1, 2, 2, "2"]),
    ("sprig.slice([1, 2, 3, 4], 1, 3)", [2, 3]), ("sprig.slice([1, 2, 3], 1)", [2, 3]),
    ("sprig.concat([1], [2, 3], [])", [1, 2, 3]), ("sprig.chunk(2, [1, 2, 3])", [[1, 2], [3]]),
    ("sprig.seq(3)", "1 2 3"), ("sprig.seq(2, -1)", "2 1 0 -1"), ("sprig.seq(1, 2, 7)", "1 3 5 7"),
    ("sprig.untilStep(0, 10, 4)", [0, 4, 8]),
    # dicts
    ("sprig.dict('a', 1, 'b')", {"a": 1, "b": ""}), ("sprig.dict()", {}),
    ("sprig.get(m, 'a')", 1), ("sprig.get(m, 'zz')", ""), ("sprig.set(m, 'b', 2)", {"a": 1, "n": {"x": 1}, "b": 2}),
    ("sprig.unset(m, 'n')", {"a": 1}), ("sprig.hasKey(m, 'a')", True), ("sprig.hasKey(m, 'b')", False),
    ("sprig.pluck('a', m, {'a': 5}, {})", [1, 5]), ("sprig.keys(m, {'z': 1})", ["a", "n", "z"]),
    ("sprig.values({'a': 1})", [1]), ("sprig.pick(m, 'a', 'q')", {"a": 1}), ("sprig.omit(m, 'a')", {"n": {"x": 1}}),
    ("sprig.merge({'a': 1, 'n': {'x': 1}}, {'a': 2, 'b': 3, 'n': {'y': 2}})", {"a": 1, "b": 3, "n": {"x": 1, "y": 2}}),
    ("sprig.mergeOverwrite({'a': 1}, {'a': 2, 'b': 3})", {"a": 2, "b": 3}),
    ("sprig.dig('n', 'x', 'none', m)", 1), ("sprig.dig('n', 'q', 'none', m)", "none"),
    # defaults, reflection, math, paths
    ("sprig.all(1, 'a')", True), ("sprig.all(1, '')", False), ("sprig.any('', 0, 'x')", True),
    ("sprig.toPrettyJson({'a': 1})", '{\n  "a": 1\n}'), ("sprig.kindOf([1])", "slice"), ("sprig.kindIs('string', 'a')", True),
    ("sprig.deepEqual([1, 2], [1, 2])", True), ("sprig.floor(1.7)", 1.0), ("sprig.ceil(1.2)", 2.0),
    ("sprig.round(123.555555, 3)", 123.556), ("sprig.round(123.5, 0, 0.6)", 123.0), ("sprig.toDecimal('0777')", 511),
    ("sprig.base('/a/b.txt')", "b.txt"), ("sprig.dir('/a/b.txt')", "/a"), ("sprig.ext('b.tar.gz')", ".gz"),
    ("sprig.clean('a//b/../c')", "a/c"), ("sprig.isAbs('/x')", True),
]


@pytest.mark.parametrize("source,expected", CASES)
def test_sprig(source: str, expected: Any) -> None:
    result = evaluate(source, ENV)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize("source", [
    "sprig.sub(1)", "sprig.sub(1, 2, 3)", "sprig.div(1)", "sprig.add1()", "sprig.mul()", "sprig.max()",
    "sprig.ternary(1, 2)", "sprig.concat(1)", "sprig.first(1)", "sprig.get(1, 'a')", "sprig.fail('boom')",
    "sprig.divf(1, 0)", "sprig.env('HOME')", "sprig.expandenv('$HOME')", "sprig.printf('%d', 1)",
])
def test_sprig_errors(source: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate(source, ENV)
