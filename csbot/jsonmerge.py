"""JSONMerge: set keys of a JSON column in the UPDATE itself (no read, no row lock)."""

from __future__ import annotations

from django.db.models import Func, JSONField, Value


class JSONMerge(Func):
    """`column` with the top-level keys of `patch` set: `.update(meta=JSONMerge("meta", {...}))`.

    The database merges, so a concurrent writer of other keys is never lost and no
    SELECT … FOR UPDATE is needed. PostgreSQL: jsonb `||`; SQLite: json_patch, which
    is the same for patches without null values (json_patch deletes those keys).
    """

    output_field = JSONField()

    def __init__(self, column: str, patch: dict) -> None:
        super().__init__(column, Value(patch, output_field=JSONField()))

    def _operands(self, compiler):
        column, patch = (compiler.compile(expression) for expression in self.get_source_expressions())
        return column, patch

    def as_postgresql(self, compiler, connection, **extra):
        (column, column_params), (patch, patch_params) = self._operands(compiler)
        return f"({column} || {patch})", (*column_params, *patch_params)

    def as_sqlite(self, compiler, connection, **extra):
        (column, column_params), (patch, patch_params) = self._operands(compiler)
        return f"json_patch({column}, {patch})", (*column_params, *patch_params)
