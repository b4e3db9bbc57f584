"""The few statements every answer and every connect run, without the ORM's per-call query building.

Why: on the answer path Django spends 0.3–0.4 ms of CPU building and compiling
each query, against about 0.08 ms to send it and read the reply
(docs/benchmarks-history.md, "The third round"), and an answer runs about a dozen.
These helpers build their SQL once per (model, columns, database vendor) and
prepare values with the model fields' own get_db_prep_save, so JSON, dates and
UUIDs are stored exactly as the ORM stores them. Table and column names come
from the models' _meta. Use them only where a profile says so; everything else
goes through the ORM. tests/chat/test_fastsql.py runs them on SQLite and on
PostgreSQL.
"""

from __future__ import annotations

import functools
import json
from typing import Any, TypeVar

from django.db import connection, transaction
from django.db.models import Model

M = TypeVar("M", bound=Model)


def insert(model: type[M], **values: Any) -> M:
    """`model.objects.create(**values)` for a model without save() overrides or signals.

    Every field's value is what the ORM would store: defaults, auto_now(_add), then
    get_db_prep_save. Without INSERT … RETURNING (SQLite before 3.35) it is the ORM's create.
    """
    if not connection.features.can_return_columns_from_insert:
        return model.objects.create(**values)
    instance, attnames, params = insert_values(model, **values)
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(model, attnames, connection.vendor), params)
        return stored(instance, cursor.fetchone()[0])


def insert_values(model: type[M], **values: Any) -> tuple[M, tuple[str, ...], list[Any]]:
    """What insert() stores: the unsaved instance, its columns' attnames and their values
    for the database. For a statement of one's own that inserts it (then `stored`)."""
    instance = model(**values)
    fields = [f for f in model._meta.concrete_fields if not f.primary_key or getattr(instance, f.attname) is not None]
    params = [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]
    return instance, tuple(f.attname for f in fields), params


def stored(instance: M, pk: Any) -> M:
    """An instance from insert_values, once its row is in the database with this pk."""
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = connection.alias
    return instance


def update_by_pk(model: type[Model], pk: int, *, only_if: dict[str, Any] | None = None, **values: Any) -> int:
    """UPDATE model SET <values> WHERE pk = pk [AND <only_if's field = value>...]; the number
    of rows updated (0 or 1)."""
    names, conditions = tuple(values), tuple(only_if or ())
    sql = _update_sql(model, names, connection.vendor, conditions)
    params = [model._meta.get_field(name).get_db_prep_save(values[name], connection) for name in names]
    checks = [model._meta.get_field(name).get_db_prep_save(only_if[name], connection) for name in conditions]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, pk, *checks])
        return cursor.rowcount


def merge_json_by_pk(model: type[Model], pk: int, field_name: str, patch: dict) -> int:
    """Set the top-level keys of `patch` in a JSON column, merged by the database (no read, no lock).

    PostgreSQL: jsonb `||`; SQLite: json_patch, the same for patches without null
    values (json_patch deletes those keys).
    """
    sql = _merge_sql(model, field_name, connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [json.dumps(patch, cls=model._meta.get_field(field_name).encoder), pk])
        return cursor.rowcount


def update_and_merge_json(
    model: type[Model],
    pk: int,
    values: dict[str, Any],
    *,
    into: type[Model],
    into_pk: int,
    field_name: str,
    patch: dict,
) -> None:
    """update_by_pk(model, pk, **values) and merge_json_by_pk(into, into_pk, field_name, patch).

    One statement on PostgreSQL, a data-modifying WITH, which runs to completion whether
    or not the outer statement reads it: every answer runs these two, and each round
    trip costs the caller and the server about 0.3 ms of CPU. Elsewhere (SQLite, in the
    process: no round trip) the two statements in one transaction: one turn of the
    writers' lock (csbot/sqlite/base.py), not two.
    """
    if connection.vendor != "postgresql":
        with transaction.atomic():
            update_by_pk(model, pk, **values)
            merge_json_by_pk(into, into_pk, field_name, patch)
        return
    names = tuple(values)
    fields = [model._meta.get_field(name) for name in names]
    params = [field.get_db_prep_save(values[field.name], connection) for field in fields]
    merged = json.dumps(patch, cls=into._meta.get_field(field_name).encoder)
    merge_sql, update_sql = _merge_sql(into, field_name, "postgresql"), _update_sql(model, names, "postgresql")
    sql = f"WITH merged AS ({merge_sql}) {update_sql}"
    with connection.cursor() as cursor:
        cursor.execute(sql, [merged, into_pk, *params, pk])


def select_rows(sql: str, params: list[Any]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def json_value(raw: Any) -> Any:
    """A JSON column's value as a raw cursor returns it (text on SQLite and, with Django's
    psycopg setup, on PostgreSQL too) decoded like JSONField does."""
    return json.loads(raw) if isinstance(raw, str | bytes) else raw


def table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def column(model: type[Model], field_name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(field_name).column)


@functools.cache
def _insert_sql(model: type[Model], attnames: tuple[str, ...], vendor: str) -> str:
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    columns = ", ".join(connection.ops.quote_name(by_attname[a].column) for a in attnames)
    placeholders = ", ".join(["%s"] * len(attnames))
    pk = column(model, model._meta.pk.name)
    return f"INSERT INTO {table(model)} ({columns}) VALUES ({placeholders}) RETURNING {pk}"


@functools.cache
def _update_sql(model: type[Model], names: tuple[str, ...], vendor: str, conditions: tuple[str, ...] = ()) -> str:
    sets = ", ".join(f"{column(model, name)} = %s" for name in names)
    where = " AND ".join(f"{column(model, name)} = %s" for name in (model._meta.pk.name, *conditions))
    return f"UPDATE {table(model)} SET {sets} WHERE {where}"


@functools.cache
def _merge_sql(model: type[Model], field_name: str, vendor: str) -> str:
    col = column(model, field_name)
    merged = f"{col} || %s::jsonb" if vendor == "postgresql" else f"json_patch({col}, %s)"
    return f"UPDATE {table(model)} SET {col} = {merged} WHERE {column(model, model._meta.pk.name)} = %s"


def select_models(model: type[M], sql: str, params: list[Any]) -> list[M]:
    """Instances of `model` from `sql`, which must start with select_sql(model), the values
    converted as the ORM converts them (JSON decoded; on SQLite datetimes, UUIDs, booleans)."""
    rows = select_rows(sql, params)
    if not rows:
        return []
    converters = _converters(model)
    names = _attnames(model)
    instances = []
    for row in rows:
        values = list(row)
        for i, field_converters, col in converters:
            for convert in field_converters:
                values[i] = convert(values[i], col, connection)
        instances.append(model.from_db(connection.alias, names, values))
    return instances


def get_by_pk(model: type[M], pk: Any) -> M | None:
    """`model.objects.filter(pk=pk).first()`."""
    found = select_models(model, _by_pk_sql(model, connection.vendor), [pk])
    return found[0] if found else None


@functools.cache
def select_sql(model: type[Model], vendor: str) -> str:
    """SELECT every concrete column of `model`, in _meta order, FROM its table: for select_models."""
    columns = ", ".join(connection.ops.quote_name(f.column) for f in model._meta.concrete_fields)
    return f"SELECT {columns} FROM {table(model)}"


def _converters(model: type[Model]) -> list[tuple[int, list, Any]]:
    # Bound to this thread's connection, so looked up per call; only for the few fields that have any.
    return [
        (i, connection.ops.get_db_converters(f.cached_col) + f.get_db_converters(connection), f.cached_col)
        for i, f in _converted_fields(model, connection.vendor)
    ]


@functools.cache
def _converted_fields(model: type[Model], vendor: str) -> tuple[tuple[int, Any], ...]:
    fields = enumerate(model._meta.concrete_fields)
    return tuple(
        (i, f) for i, f in fields if connection.ops.get_db_converters(f.cached_col) or f.get_db_converters(connection)
    )


@functools.cache
def _attnames(model: type[Model]) -> tuple[str, ...]:
    return tuple(f.attname for f in model._meta.concrete_fields)


@functools.cache
def _by_pk_sql(model: type[Model], vendor: str) -> str:
    return f"{select_sql(model, vendor)} WHERE {column(model, model._meta.pk.name)} = %s"
