"""More of sprig's GenericFuncMap: lists, dicts, strings, regexes, paths, hashes and math.

Argo hands expressions all of sprig (less `env` and `expandenv`), so workflows written for
Argo call `sprig.dict`, `sprig.cat`, `sprig.concat`, `sprig.regexFind`... These follow
sprig's argument order and its forgiving conversions (see sprig.py); list functions given a
non-list fail as sprig's do ("Cannot ... on type ...").
"""
from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import math
import posixpath
import re
import zlib
from typing import Any

from tiphys.errors import ExpressionError
from tiphys.expr import gofmt
from tiphys.expr.exprfuncs import Builtin, check_size, registry
from tiphys.expr.exprvalues import regex
from tiphys.expr.sprig import FUNCTIONS, empty, strval, to_float, to_int

_more = registry(FUNCTIONS)
_MANY = 1000


def _alias(name: str, target: str) -> None:
    found = FUNCTIONS[target]
    FUNCTIONS[name] = Builtin(name, found.function, found.min_args, found.max_args)


def _items(value: Any, what: str) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return list(value)
    raise ExpressionError(f"sprig.{what}: Cannot {what} on type {_kind(value)}")


def _dict(value: Any, what: str) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    raise ExpressionError(f"sprig.{what}: expected a map, got {_kind(value)}")


def _kind(value: Any) -> str:
    if value is None:
        return "invalid"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "slice"
    if isinstance(value, dict):
        return "map"
    return "struct"


def strslice(value: Any) -> list[str]:
    """sprig's strslice: a list's non-nil items as strings; a scalar as a one-item list."""
    if isinstance(value, (list, tuple)):
        return [strval(v) for v in value if v is not None]
    return [] if value is None else [strval(value)]


# ------------------------------------------------------------------ strings
@_more("cat", 0, _MANY)
def _cat(*values: Any) -> str:
    return " ".join(gofmt.sprint(v) for v in values if v is not None)


@_more("trunc", 2)
def _trunc(count: Any, value: Any) -> str:
    c, text = to_int(count), strval(value)
    if c < 0 and len(text) + c > 0:
        return text[len(text) + c:]
    return text[:c] if 0 <= c < len(text) else text


@_more("abbrev", 2)
def _abbrev(width: Any, value: Any) -> str:
    w, text = to_int(width), strval(value)
    if w < 4 or len(text) <= w:
        return text
    return text[:w - 3] + "..."


@_more("nospace", 1)
def _nospace(value: Any) -> str:
    return "".join(strval(value).split())


@_more("untitle", 1)
def _untitle(value: Any) -> str:
    text = strval(value)
    return text[:1].lower() + text[1:]


@_more("initials", 1)
def _initials(value: Any) -> str:
    return "".join(word[0] for word in strval(value).split())


@_more("swapcase", 1)
def _swapcase(value: Any) -> str:
    return strval(value).swapcase()


@_more("indent", 2)
def _indent(spaces: Any, value: Any) -> str:
    pad = " " * max(to_int(spaces), 0)
    return pad + strval(value).replace("\n", "\n" + pad)


@_more("nindent", 2)
def _nindent(spaces: Any, value: Any) -> str:
    return "\n" + _indent(spaces, value)


@_more("plural", 3)
def _plural(one: Any, many: Any, count: Any) -> str:
    return strval(one) if to_int(count) == 1 else strval(many)


@_more("split", 2)
def _split(separator: Any, value: Any) -> dict[str, str]:
    return {f"_{i}": part for i, part in enumerate(strval(value).split(strval(separator)))}


@_more("splitn", 3)
def _splitn(separator: Any, count: Any, value: Any) -> dict[str, str]:
    n = to_int(count)
    if n == 0:
        return {}
    parts = strval(value).split(strval(separator), n - 1 if n > 0 else -1)
    return {f"_{i}": part for i, part in enumerate(parts)}


@_more("toStrings", 1)
def _to_strings(value: Any) -> list[str]:
    return strslice(value)


@_more("sortAlpha", 1)
def _sort_alpha(value: Any) -> list[str]:
    return sorted(strslice(value)) if isinstance(value, (list, tuple)) else [strval(value)]


@_more("b32enc", 1)
def _b32enc(value: Any) -> str:
    return base64.b32encode(strval(value).encode()).decode()


@_more("b32dec", 1)
def _b32dec(value: Any) -> str:
    try:
        return base64.b32decode(strval(value)).decode(errors="replace")
    except (binascii.Error, ValueError) as exc:
        return f"illegal base32 data: {exc}"


@_more("sha1sum", 1)
def _sha1sum(value: Any) -> str:
    return hashlib.sha1(strval(value).encode()).hexdigest()


@_more("sha256sum", 1)
def _sha256sum(value: Any) -> str:
    return hashlib.sha256(strval(value).encode()).hexdigest()


@_more("adler32sum", 1)
def _adler32sum(value: Any) -> str:
    return str(zlib.adler32(strval(value).encode()))


@_more("fail", 1)
def _fail(message: Any) -> str:
    raise ExpressionError(strval(message))


# ------------------------------------------------------------------ regular expressions
@_more("regexMatch", 2)
def _regex_match(pattern: Any, value: Any) -> bool:
    return regex(strval(pattern)).search(strval(value)) is not None


@_more("regexFind", 2)
def _regex_find(pattern: Any, value: Any) -> str:
    found = regex(strval(pattern)).search(strval(value))
    return found.group(0) if found else ""


@_more("regexFindAll", 3)
def _regex_find_all(pattern: Any, value: Any, count: Any) -> list[str]:
    n = to_int(count)
    found = [m.group(0) for m in regex(strval(pattern)).finditer(strval(value))]
    return found if n < 0 else found[:n]


def _go_replacement(template: str) -> str:
    """Go's `$1`/`${name}` expansion syntax in Python's `\\g<...>` form."""
    out = template.replace("\\", "\\\\")
    out = re.sub(r"\$\{(\w+)\}", r"\\g<\1>", out)
    return re.sub(r"\$(\w+)", r"\\g<\1>", out)


@_more("regexReplaceAll", 3)
def _regex_replace_all(pattern: Any, value: Any, replacement: Any) -> str:
    try:
        return regex(strval(pattern)).sub(_go_replacement(strval(replacement)), strval(value))
    except (re.error, IndexError):
        return regex(strval(pattern)).sub("", strval(value))


@_more("regexReplaceAllLiteral", 3)
def _regex_replace_literal(pattern: Any, value: Any, replacement: Any) -> str:
    literal = strval(replacement)
    return regex(strval(pattern)).sub(lambda _m: literal, strval(value))


@_more("regexSplit", 3)
def _regex_split(pattern: Any, value: Any, count: Any) -> list[str]:
    n = to_int(count)
    if n == 0:
        return []
    return regex(strval(pattern)).split(strval(value), maxsplit=max(n - 1, 0))


@_more("regexQuoteMeta", 1)
def _regex_quote_meta(value: Any) -> str:
    return re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", strval(value))


# ------------------------------------------------------------------ lists
@_more("first", 1)
def _first(value: Any) -> Any:
    items = _items(value, "first")
    return items[0] if items else None


@_more("last", 1)
def _last(value: Any) -> Any:
    items = _items(value, "last")
    return items[-1] if items else None


@_more("rest", 1)
def _rest(value: Any) -> list[Any] | None:
    items = _items(value, "rest")
    return items[1:] if items else None


@_more("initial", 1)
def _initial(value: Any) -> list[Any] | None:
    items = _items(value, "initial")
    return items[:-1] if items else None


@_more("append", 2)
def _append(value: Any, item: Any) -> list[Any]:
    return _items(value, "push") + [item]


@_more("prepend", 2)
def _prepend(value: Any, item: Any) -> list[Any]:
    return [item] + _items(value, "prepend")


@_more("reverse", 1)
def _reverse(value: Any) -> list[Any]:
    return _items(value, "reverse")[::-1]


@_more("uniq", 1)
def _uniq(value: Any) -> list[Any]:
    found: list[Any] = []
    for item in _items(value, "uniq"):
        if not any(_same(item, seen) for seen in found):
            found.append(item)
    return found


def _same(a: Any, b: Any) -> bool:
    """reflect.DeepEqual: types must match too (1 is not 1.0, true is not 1)."""
    return type(a) is type(b) and a == b


@_more("without", 1, _MANY)
def _without(value: Any, *omit: Any) -> list[Any]:
    return [item for item in _items(value, "without") if not any(_same(item, o) for o in omit)]


@_more("has", 2)
def _has(needle: Any, haystack: Any) -> bool:
    return any(_same(needle, item) for item in _items(haystack, "has"))


@_more("compact", 1)
def _compact(value: Any) -> list[Any]:
    return [item for item in _items(value, "compact") if not empty(item)]


@_more("slice", 1, 3)
def _slice(value: Any, *indices: Any) -> Any:
    items = _items(value, "slice")
    if not items:
        return None
    start = to_int(indices[0]) if indices else 0
    end = to_int(indices[1]) if len(indices) > 1 else len(items)
    if not 0 <= start <= end <= len(items):
        raise ExpressionError(f"sprig.slice: slice bounds out of range [{start}:{end}] with length {len(items)}")
    return items[start:end]


@_more("concat", 0, _MANY)
def _concat(*lists: Any) -> list[Any]:
    found: list[Any] = []
    for value in lists:
        if not isinstance(value, (list, tuple)):
            raise ExpressionError(f"sprig.concat: Cannot concat type {_kind(value)} as list")
        found.extend(value)
    check_size(len(found), "sprig.concat() result")
    return found


@_more("chunk", 2)
def _chunk(size: Any, value: Any) -> list[list[Any]]:
    n, items = to_int(size), _items(value, "chunk")
    if n <= 0:
        raise ExpressionError("sprig.chunk: size must be positive")
    return [items[i:i + n] for i in range(0, len(items), n)]


@_more("seq", 0, 3)
def _seq(*params: Any) -> str:
    nums = [to_int(p) for p in params]
    if len(nums) == 1:
        start, end, step = 1, nums[0], 1 if nums[0] >= 1 else -1
    elif len(nums) == 2:
        start, end = nums
        step = 1 if end >= start else -1
    elif len(nums) == 3:
        start, step, end = nums
        if end < start and step > 0:
            return ""
    else:
        return ""
    stop = end + (1 if end >= start else -1)
    return " ".join(str(v) for v in _until_step(start, stop, step))


def _until_step(start: int, stop: int, step: int) -> list[int]:
    if (stop < start and step >= 0) or (stop >= start and step <= 0):
        return []
    check_size(abs(stop - start) // abs(step), "sprig sequence")
    return list(range(start, stop, step))


@_more("untilStep", 3)
def _until_step_fn(start: Any, stop: Any, step: Any) -> list[int]:
    return _until_step(to_int(start), to_int(stop), to_int(step))


# ------------------------------------------------------------------ dicts
@_more("dict", 0, _MANY)
def _make_dict(*pairs: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for i in range(0, len(pairs), 2):
        found[strval(pairs[i])] = pairs[i + 1] if i + 1 < len(pairs) else ""
    return found


@_more("get", 2)
def _get(mapping: Any, key: Any) -> Any:
    return _dict(mapping, "get").get(strval(key), "")


@_more("set", 3)
def _set(mapping: Any, key: Any, value: Any) -> dict[str, Any]:
    return {**_dict(mapping, "set"), strval(key): value}


@_more("unset", 2)
def _unset(mapping: Any, key: Any) -> dict[str, Any]:
    return {k: v for k, v in _dict(mapping, "unset").items() if k != strval(key)}


@_more("hasKey", 2)
def _has_key(mapping: Any, key: Any) -> bool:
    return strval(key) in _dict(mapping, "hasKey")


@_more("pluck", 1, _MANY)
def _pluck(key: Any, *mappings: Any) -> list[Any]:
    name = strval(key)
    return [m[name] for m in (_dict(d, "pluck") for d in mappings) if name in m]


@_more("keys", 0, _MANY)
def _keys(*mappings: Any) -> list[str]:
    return [k for m in mappings for k in _dict(m, "keys")]


@_more("values", 1)
def _values(mapping: Any) -> list[Any]:
    return list(_dict(mapping, "values").values())


@_more("pick", 1, _MANY)
def _pick(mapping: Any, *names: Any) -> dict[str, Any]:
    source, wanted = _dict(mapping, "pick"), [strval(n) for n in names]
    return {k: source[k] for k in wanted if k in source}


@_more("omit", 1, _MANY)
def _omit(mapping: Any, *names: Any) -> dict[str, Any]:
    dropped = {strval(n) for n in names}
    return {k: v for k, v in _dict(mapping, "omit").items() if k not in dropped}


def _merge_into(dst: dict[str, Any], src: dict[str, Any], overwrite: bool) -> None:
    """mergo.Merge: nested maps merge key by key; other values fill only empty slots
    (or, with overwrite, are replaced by non-empty source values)."""
    for key, value in src.items():
        here = dst.get(key)
        if isinstance(here, dict) and isinstance(value, dict):
            _merge_into(here, value, overwrite)
        elif key not in dst or empty(here) or (overwrite and not empty(value)):
            dst[key] = copy.deepcopy(value)


@_more("merge", 1, _MANY)
def _merge(dst: Any, *sources: Any) -> dict[str, Any]:
    merged = copy.deepcopy(_dict(dst, "merge"))
    for src in sources:
        _merge_into(merged, _dict(src, "merge"), overwrite=False)
    return merged


@_more("mergeOverwrite", 1, _MANY)
def _merge_overwrite(dst: Any, *sources: Any) -> dict[str, Any]:
    merged = copy.deepcopy(_dict(dst, "mergeOverwrite"))
    for src in sources:
        _merge_into(merged, _dict(src, "mergeOverwrite"), overwrite=True)
    return merged


@_more("dig", 3, _MANY)
def _dig(*args: Any) -> Any:
    *path, fallback, mapping = args
    node: Any = _dict(mapping, "dig")
    for step in path:
        if not isinstance(node, dict) or strval(step) not in node:
            return fallback
        node = node[strval(step)]
    return node


@_more("deepCopy", 1)
def _deep_copy(value: Any) -> Any:
    return copy.deepcopy(value)


# ------------------------------------------------------------------ defaults, reflection, json
@_more("all", 0, _MANY)
def _all(*values: Any) -> bool:
    return all(not empty(v) for v in values)


@_more("any", 0, _MANY)
def _any(*values: Any) -> bool:
    return any(not empty(v) for v in values)


@_more("toPrettyJson", 1)
def _to_pretty_json(value: Any) -> str:
    return gofmt.marshal(value, indent="  ")


@_more("kindOf", 1)
def _kind_of(value: Any) -> str:
    return _kind(value)


@_more("kindIs", 2)
def _kind_is(kind: Any, value: Any) -> bool:
    return strval(kind) == _kind(value)


@_more("deepEqual", 2)
def _deep_equal(a: Any, b: Any) -> bool:
    return _same(a, b)


# ------------------------------------------------------------------ math and paths
@_more("floor", 1)
def _floor(value: Any) -> float:
    return float(math.floor(to_float(value)))


@_more("ceil", 1)
def _ceil(value: Any) -> float:
    return float(math.ceil(to_float(value)))


@_more("round", 2, 3)
def _round(value: Any, places: Any, *round_on: Any) -> float:
    pivot = to_float(round_on[0]) if round_on else 0.5
    power = 10.0 ** to_float(places)
    digit = power * to_float(value)
    fraction = math.modf(digit)[0]
    return (math.ceil(digit) if fraction >= pivot else math.floor(digit)) / power


@_more("toDecimal", 1)
def _to_decimal(value: Any) -> int:
    try:
        return int(gofmt.sprint(value), 8)
    except ValueError:
        return 0


@_more("base", 1)
def _base(value: Any) -> str:
    text = strval(value).rstrip("/")
    return posixpath.basename(text) or ("/" if strval(value).startswith("/") else ".")


@_more("dir", 1)
def _dir(value: Any) -> str:
    return posixpath.normpath(posixpath.dirname(strval(value)) or ".")


@_more("clean", 1)
def _clean(value: Any) -> str:
    text = strval(value)
    return posixpath.normpath(text) if text else "."


@_more("ext", 1)
def _ext(value: Any) -> str:
    return posixpath.splitext(posixpath.basename(strval(value)))[1]


@_more("isAbs", 1)
def _is_abs(value: Any) -> bool:
    return strval(value).startswith("/")


for _name, _target in (("tuple", "list"), ("push", "append"), ("trimall", "trimAll")):
    _alias(_name, _target)
