"""SELECT, INSERT and UPDATE statements for the execution hot path, built once from the models' fields.

Compiling a query is most of what the ORM costs for the small statements an execution makes (a few
hundred µs of CPU each on a 2-core machine, more than SQLite takes to run them), and a webhook
execution makes several. These helpers write the same SQL the ORM would, derived from the models'
field definitions and cached per model and column set, and adapt each value exactly as the ORM
does (`Field.get_db_prep_save` / `get_db_prep_value` going in, the backend's and the field's
converters coming out), so they behave alike on SQLite and PostgreSQL.
They do only plain values (no expressions, no `None` in a WHERE clause); anything else uses the ORM.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connections, models, router
from django.db.backends.base.base import BaseDatabaseWrapper

type Column = models.Field[Any, Any]
_cache: dict[tuple[Any, ...], tuple[str, list[Column], list[Column]]] = {}
# Rows per INSERT: well under SQLite's limit of bound parameters for any of our tables.
INSERT_BATCH = 100


def _connection(model: type[models.Model]) -> BaseDatabaseWrapper:
    return connections[router.db_for_write(model)]


def _expression(value: Any) -> bool:
    # F() is no Expression subclass; anything the ORM would resolve has resolve_expression.
    return hasattr(value, "resolve_expression")


def _column(model: type[models.Model], name: str) -> Column:
    field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.concrete:
        raise ValueError(f"{model.__name__}.{name} is not a column")
    return field


# Field classes whose adaptation (`get_db_prep_save`) of a value already of their Python type is
# that value itself: skipping the call is the same statement, for a fraction of the cost.
_PLAIN: dict[type[models.Field[Any, Any]], type] = {
    models.CharField: str,
    models.TextField: str,
    models.IntegerField: int,
    models.PositiveIntegerField: int,
    models.PositiveSmallIntegerField: int,
    models.SmallIntegerField: int,
    models.BigIntegerField: int,
    models.BooleanField: bool,
}


def _save_value(field: Column, value: Any, connection: BaseDatabaseWrapper) -> Any:
    kind = _PLAIN.get(type(field))
    if kind is not None and isinstance(value, kind) and (kind is bool or not isinstance(value, bool)):
        return value
    return field.get_db_prep_save(value, connection=connection)


def _value_of(field: Column, obj: models.Model) -> Any:
    # pre_save matters only where a field overrides it (auto_now dates, files); else it reads the value.
    if type(field).pre_save is models.Field.pre_save:
        return getattr(obj, field.attname)
    return field.pre_save(obj, True)


def insert(objs: Sequence[models.Model]) -> None:
    """INSERT `objs` (all of one model) as `bulk_create` would, without reading back generated ids."""
    if not objs:
        return
    model = type(objs[0])
    connection = _connection(model)
    key = ("insert", model, connection.alias)
    if key not in _cache:
        meta = model._meta
        fields = [f for f in meta.local_concrete_fields if f is not meta.auto_field]
        quote = connection.ops.quote_name
        sql = (
            f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(str(f.column)) for f in fields)}) VALUES "
        )
        _cache[key] = (sql, fields, [])
    sql, fields, _ = _cache[key]
    row = f"({', '.join(['%s'] * len(fields))})"
    values = [[_save_value(f, _value_of(f, obj), connection) for f in fields] for obj in objs]
    with connection.cursor() as cursor:
        # One statement of many rows, not executemany: a round trip per batch instead of per row.
        for start in range(0, len(values), INSERT_BATCH):
            batch = values[start : start + INSERT_BATCH]
            cursor.execute(sql + ", ".join([row] * len(batch)), [v for one in batch for v in one])
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias


def update(model: type[models.Model], where: dict[str, Any], values: dict[str, Any]) -> int:
    """UPDATE the rows of `model` matching every `where` field exactly; returns how many changed."""
    if any(value is None or _expression(value) for value in where.values()):
        raise ValueError("statements.update matches plain values only; use the ORM")
    if any(_expression(value) for value in values.values()):
        raise ValueError("statements.update sets plain values only; use the ORM")
    connection = _connection(model)
    key = ("update", model, connection.alias, tuple(values), tuple(where))
    if key not in _cache:
        meta = model._meta
        set_fields = [_column(model, name) for name in values]
        where_fields = [_column(model, name) for name in where]
        quote = connection.ops.quote_name
        assignments = ", ".join(f"{quote(str(f.column))} = %s" for f in set_fields)
        sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {_conditions(where_fields, quote)}"
        _cache[key] = (sql, set_fields, where_fields)
    sql, set_fields, where_fields = _cache[key]
    params = _update_params(set_fields, list(values.values()), where_fields, where, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def _conditions(where_fields: list[Column], quote: Any) -> str:
    return " AND ".join(f"{quote(str(f.column))} = %s" for f in where_fields)


def _update_params(
    set_fields: list[Column],
    set_values: list[Any],
    where_fields: list[Column],
    where: dict[str, Any],
    connection: BaseDatabaseWrapper,
) -> list[Any]:
    """An UPDATE's parameters: the values to set as saved, then the WHERE values as looked up."""
    params = [_save_value(f, value, connection) for f, value in zip(set_fields, set_values, strict=True)]
    params += [
        f.get_db_prep_value(value, connection=connection, prepared=False)
        for f, value in zip(where_fields, where.values(), strict=True)
    ]
    return params


def claim(
    model: type[models.Model], where: dict[str, Any], values: dict[str, Any], first: dict[str, Any]
) -> int | None:
    """Claim the row matching `where` in one statement: `attempt` goes up by one, `values` are set,
    and each of `first` only where still NULL. Returns the new attempt, or None when no row
    matched (another worker claimed it first, or it no longer waits)."""
    if any(
        value is None or _expression(value) for value in [*where.values(), *values.values(), *first.values()]
    ):
        raise ValueError("statements.claim takes plain values only; use the ORM")
    connection = _connection(model)
    key = ("claim", model, connection.alias, tuple(values), tuple(first), tuple(where))
    if key not in _cache:
        quote = connection.ops.quote_name
        attempt = quote(str(_column(model, "attempt").column))
        set_fields = [_column(model, name) for name in (*values, *first)]
        assignments = [f"{attempt} = {attempt} + 1"]
        assignments += [f"{quote(str(f.column))} = %s" for f in set_fields[: len(values)]]
        assignments += [
            f"{quote(str(f.column))} = COALESCE({quote(str(f.column))}, %s)"
            for f in set_fields[len(values) :]
        ]
        where_fields = [_column(model, name) for name in where]
        sql = (
            f"UPDATE {quote(model._meta.db_table)} SET {', '.join(assignments)} "
            f"WHERE {_conditions(where_fields, quote)} RETURNING {attempt}"
        )
        _cache[key] = (sql, set_fields, where_fields)
    sql, set_fields, where_fields = _cache[key]
    params = _update_params(set_fields, [*values.values(), *first.values()], where_fields, where, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def select[M: models.Model](model: type[M], names: Sequence[str], where: dict[str, Any]) -> list[M]:
    """The rows of `model` matching every `where` value (a list means IN), as instances with only
    the fields `names` loaded (the others are deferred, loaded on access as the ORM does)."""
    if any(value is None or _expression(value) for value in where.values()):
        raise ValueError("statements.select matches plain values only; use the ORM")
    if any(isinstance(value, list) and not value for value in where.values()):
        return []  # IN () matches nothing (and is not SQL everywhere)
    connection = connections[router.db_for_read(model)]
    shape = tuple((name, len(value) if isinstance(value, list) else -1) for name, value in where.items())
    key = ("select", model, connection.alias, tuple(names), shape)
    if key not in _selects:
        meta = model._meta
        # In the model's order, whatever the caller's: `from_db` matches values to fields so.
        wanted = {_column(model, name) for name in names}
        fields = [f for f in meta.concrete_fields if f in wanted]
        quote = connection.ops.quote_name
        conditions = []
        for name, size in shape:
            quoted = quote(str(_column(model, name).column))
            conditions.append(f"{quoted} = %s" if size < 0 else f"{quoted} IN ({', '.join(['%s'] * size)})")
        sql = (
            f"SELECT {', '.join(quote(str(f.column)) for f in fields)} FROM {quote(meta.db_table)} "
            f"WHERE {' AND '.join(conditions) or '1 = 1'}"
        )
        converters = []
        for field in fields:
            col = field.get_col(meta.db_table)
            converters.append(
                (connection.ops.get_db_converters(col) + col.get_db_converters(connection), col)
            )
        _selects[key] = (sql, [f.attname for f in fields], converters)
    sql, attnames, converters = _selects[key]
    params: list[Any] = []
    for name, value in where.items():
        field = _column(model, name)
        for one in value if isinstance(value, list) else [value]:
            params.append(field.get_db_prep_value(one, connection=connection, prepared=False))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    instances: list[M] = []
    for row in rows:
        values = []
        for value, (functions, col) in zip(row, converters, strict=True):
            for convert in functions:
                value = convert(value, col, connection)
            values.append(value)
        instances.append(model.from_db(connection.alias, attnames, values))
    return instances


_selects: dict[tuple[Any, ...], tuple[str, list[str], list[tuple[list[Any], Any]]]] = {}
