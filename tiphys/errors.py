"""The whole error hierarchy of Tiphys, in one place.

    TiphysError
    ├── SpecError            user input is wrong (file, document, field path, message)
    │   ├── SchemaError      a field has the wrong shape or is missing
    │   └── ExpressionError  a {{...}} tag, expr-lang expression, `when` or `depends` is bad
    ├── InfrastructureError  executor, store or host trouble (Argo phase Error)
    │   └── StepStartError   a step's process could not be started
    └── NotFoundError        a named workflow/template does not exist

Inside the engine, expected failures are data (a node phase and a message); these
exceptions are for the edges: parsing, evaluating user expressions, the shell.
"""
from __future__ import annotations


class TiphysError(Exception):
    """Root of every error Tiphys raises on purpose."""


class SpecError(TiphysError):
    """User input is invalid. `path` is a field path such as spec.templates[0].dag."""

    def __init__(self, message: str, *, file: str | None = None, document: int | None = None,
                 path: str | None = None):
        super().__init__(message)
        self.message, self.file, self.document, self.path = message, file, document, path

    def __str__(self) -> str:
        where = ": ".join(x for x in (self.file, f"document {self.document}" if self.document is not None else None,
                                       self.path) if x)
        return f"{where}: {self.message}" if where else self.message


class SchemaError(SpecError):
    """A field has the wrong type, is unknown where it matters, or is missing."""


class ExpressionError(SpecError):
    """A template tag or an expression cannot be parsed or evaluated."""


class InfrastructureError(TiphysError):
    """Something outside the user's step failed: executor, store, host."""


class StepStartError(InfrastructureError):
    """A step's process could not be started (missing command, sandbox failure)."""


class NotFoundError(TiphysError):
    """A workflow, template or node that was named does not exist."""
