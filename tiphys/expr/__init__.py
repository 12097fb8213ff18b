"""Expressions and templating, pure and free of I/O.

* `template`  Argo's `{{name}}` / `{{=expr}}` substitution over a flat scope.
* `exprlang`  the expr-lang subset (with Argo's `asInt`, `jsonpath`, `sprig.*`, ...).
* `govaluate` `when` conditions; `depends` DAG dependency logic.
Everything raises only `tiphys.errors.ExpressionError` on bad input.
"""
