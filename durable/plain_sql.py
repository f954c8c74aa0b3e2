"""The hot writes as plain statements, built from the model's fields with Django's public API and sent
through the DB-API cursor: one UPDATE by equality (`update`; `update_returning` also reads the rows it
changed), one multi-row INSERT (`insert`; `update_then_insert` makes it depend on an UPDATE, in one
statement on PostgreSQL; `insert_if` on another row's state), and one SELECT by equality (`select`).

Every execution sends two INSERTs (the execution, its node runs) and UPDATEs (a lease's fenced write
per commit, one per node run that changed after it was inserted). Compiling them with the ORM cost more CPU than SQLite
or PostgreSQL takes to run them (docs/performance.md). Values are prepared as the ORM prepares them
(`pre_save`, `get_db_prep_save`), so a JSON field, a date, a UUID or an `auto_now_add` time is stored
exactly as `save()`, `bulk_create()` or `update()` would store it; tests/durability/test_plain_sql.py
compares them. Anything else (expressions, lookups, signals) is the ORM's job.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections, models, router, transaction
from django.db.models.functions import Coalesce


class IfNull(Coalesce):
    """The value of field `name` where it is set, else `value` (`Coalesce(F(name), Value(value))`):
    a claim sets `started_at` so. The ORM takes it as that Coalesce; `update` writes it as
    `COALESCE(column, %s)`."""

    def __init__(self, name: str, value: Any, output_field: models.Field[Any, Any] | None = None) -> None:
        value_expression = models.Value(value, output_field=output_field)
        super().__init__(models.F(name), value_expression, output_field=output_field)
        self.field_name = name
        self.value = value


def update(model: type[models.Model], where: dict[str, Any], values: dict[str, Any]) -> int:
    """`model.objects.filter(**where).update(**values)` for plain values (or `IfNull` of one) and
    equality filters; the number of rows changed."""
    if not _plain_values(values):
        return model._default_manager.filter(**where).update(**values)
    connection = connections[router.db_for_write(model)]
    statement, params = update_statement(model, where, values, connection)
    # As the ORM's update does: a failure inside an atomic block marks it for rollback.
    with transaction.mark_for_rollback_on_error(connection.alias), connection.cursor() as cursor:
        cursor.execute(statement, params)
        return int(cursor.rowcount)


def update_returning[M: models.Model](
    model: type[M], where: dict[str, Any], values: dict[str, Any], related: str
) -> list[tuple[M, Any]]:
    """`update` (plain values only) that also reads the rows it changed, as `select` reads them, each
    with field `related` ("fk__field") of the row its foreign key `fk` points to: one statement
    (UPDATE … RETURNING) where the update and two reads took three."""
    if not _plain_values(values):
        raise TypeError("update_returning sets plain values (or IfNull of one) only.")
    connection = connections[router.db_for_write(model)]
    statement, params = update_statement(model, where, values, connection)
    columns, names, converting = reading(model, (), connection)
    subquery, related_column, related_converters = _related(model, related, connection.alias)
    statement += f" RETURNING {columns}, {subquery}"
    with transaction.mark_for_rollback_on_error(connection.alias), connection.cursor() as cursor:
        cursor.execute(statement, params)
        rows = cursor.fetchall()
    found = []
    for row in rows:
        read = instance(model, list(row[:-1]), names, converting, connection)
        value = row[-1]
        for convert in related_converters:
            value = convert(value, related_column, connection)
        found.append((read, value))
    return found


@functools.cache
def _related(model: type[models.Model], related: str, alias: str) -> tuple[str, Any, list[Any]]:
    """The subquery `update_returning` reads field `related` ("fk__field") with, that field's column
    and its converters: the same for every call, so found once."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    fk_name, target_name = related.split("__")
    fk = _field(model, fk_name)
    target_model = fk.related_model
    assert isinstance(target_model, type) and issubclass(target_model, models.Model)
    target, target_pk = _field(target_model, target_name), target_model._meta.pk
    assert target_pk is not None
    table, target_table = quote(model._meta.db_table), quote(target_model._meta.db_table)
    subquery = (
        f"(SELECT {target_table}.{quote(str(target.column))} FROM {target_table}"
        f" WHERE {target_table}.{quote(str(target_pk.column))} = {table}.{quote(str(fk.column))})"
    )
    column = target.get_col(target_model._meta.db_table)
    return subquery, column, connection.ops.get_db_converters(column) + column.get_db_converters(connection)


def update_statement(
    model: type[models.Model], where: dict[str, Any], values: dict[str, Any], connection: Any
) -> tuple[str, list[Any]]:
    """The UPDATE statement of `update`, and its parameters (for a statement that builds on it)."""
    sets, params = assignments(model, values, connection)
    condition, condition_params = _equal(model, where, connection)
    return (
        f"UPDATE {connection.ops.quote_name(model._meta.db_table)} SET {sets} WHERE {condition}",
        params + condition_params,
    )


def assignments(model: type[models.Model], values: dict[str, Any], connection: Any) -> tuple[str, list[Any]]:
    """The SET list of an UPDATE that sets `values` (plain, or `IfNull` of one), and its parameters."""
    quote = connection.ops.quote_name
    sets: list[str] = []
    params: list[Any] = []
    for name, value in values.items():
        field = _field(model, name)
        column = quote(str(field.column))
        if isinstance(value, IfNull):
            sets.append(f"{column} = COALESCE({column}, %s)")
            value = value.value
        else:
            sets.append(f"{column} = %s")
        params.append(field.get_db_prep_save(value, connection))
    return ", ".join(sets), params


def select[M: models.Model](
    model: type[M], where: dict[str, Any], fields: Sequence[str] | None = None
) -> list[M]:
    """`list(model.objects.filter(**where))` for equality filters (or `name__in` a list), unordered:
    each row's values converted as the ORM converts them (its backend's and fields' converters), then
    made an instance by `Model.from_db`. With `fields` (the primary key among them), only those are
    read, as `.only(*fields)` would."""
    connection = connections[router.db_for_read(model)]
    columns, names, converting = reading(model, tuple(fields or ()), connection)
    condition, params = _equal(model, where, connection)
    statement = f"SELECT {columns} FROM {connection.ops.quote_name(model._meta.db_table)} WHERE {condition}"
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        rows = cursor.fetchall()
    return [instance(model, list(row), names, converting, connection) for row in rows]


def instance[M: models.Model](
    model: type[M], values: list[Any], names: list[str], converting: Converting, connection: Any
) -> M:
    """The instance of one row's values as the ORM makes it: converted, then `Model.from_db`."""
    for n, converters, column in converting:
        for convert in converters:
            values[n] = convert(values[n], column, connection)
    return model.from_db(connection.alias, names, values)


Converting = list[tuple[int, list[Any], Any]]
_readers: dict[tuple[type[models.Model], tuple[str, ...], str, str], tuple[str, list[str], Converting]] = {}


def reading(
    model: type[models.Model], fields: tuple[str, ...], connection: Any, table: str = ""
) -> tuple[str, list[str], Converting]:
    """The columns `select` reads, their attribute names, and the converters of each column that has
    some (as the ORM's compiler finds them): the same for every call, so found once. With `table`,
    the columns are named as that table's (or alias's), for a statement that reads several."""
    key = (model, fields, connection.alias, table)
    if key not in _readers:
        wanted = {_field(model, name) for name in fields}
        # In the model's order: `from_db` takes the values of some fields in that order.
        read = [field for field in model._meta.concrete_fields if not fields or field in wanted]
        converting: Converting = []
        for n, field in enumerate(read):
            column = field.get_col(model._meta.db_table)
            converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if converters:
                converting.append((n, converters, column))
        prefix = f"{connection.ops.quote_name(table)}." if table else ""
        columns = ", ".join(prefix + connection.ops.quote_name(str(field.column)) for field in read)
        _readers[key] = (columns, [field.attname for field in read], converting)
    return _readers[key]


def _equal(model: type[models.Model], where: dict[str, Any], connection: Any) -> tuple[str, list[Any]]:
    """`column = %s AND …` (or `column IN (%s, …)` for `name__in`, `column IS [NOT] NULL` for
    `name__isnull`) for the filters `where`, with their values as the ORM sends them."""
    quote = connection.ops.quote_name
    conditions: list[str] = []
    params: list[Any] = []
    for name, value in where.items():
        if name.endswith("__isnull"):
            field = _field(model, name.removesuffix("__isnull"))
            conditions.append(f"{quote(str(field.column))} IS {'' if value else 'NOT '}NULL")
            continue
        if name.endswith("__in"):
            field = _field(model, name.removesuffix("__in"))
            values = list(value)
            if not values:
                conditions.append("1 = 0")  # as the ORM's empty IN: nothing matches
                continue
            conditions.append(f"{quote(str(field.column))} IN ({', '.join(['%s'] * len(values))})")
            params += [field.get_db_prep_value(item, connection) for item in values]
            continue
        field = _field(model, name)
        conditions.append(f"{quote(str(field.column))} = %s")
        params.append(field.get_db_prep_value(value, connection))
    return " AND ".join(conditions), params


def update_then_insert(
    model: type[models.Model], where: dict[str, Any], values: dict[str, Any], objs: Sequence[models.Model]
) -> bool:
    """`update` and, only if it changed a row, `insert(objs)`, as one all-or-nothing write: whether
    it changed a row. On PostgreSQL it is one statement (a data-modifying WITH), so a commit that
    needs nothing else sends it alone instead of BEGIN, UPDATE, INSERT and COMMIT."""
    connection = connections[router.db_for_write(model)]
    parts = _inserted_parts(objs, connection)
    if parts is None or connection.vendor != "postgresql" or not _plain_values(values):
        with transaction.atomic(using=connection.alias, savepoint=False):
            if not update(model, where, values):
                return False
            insert(objs)
            return True
    statement, params = update_statement(model, where, values, connection)
    for obj in objs:
        params += _row(obj, parts, connection)
    # Typed placeholders: inside WITH … SELECT, PostgreSQL cannot take the columns' types from the
    # INSERT, and a NULL or a string would otherwise be text.
    statement = (
        f"WITH changed AS ({statement} RETURNING 1) INSERT INTO {parts.table} ({parts.columns})"
        f" SELECT * FROM (VALUES {', '.join([parts.typed_row] * len(objs))}) AS added"
        f" WHERE EXISTS (SELECT 1 FROM changed){parts.returning}"
    )
    with transaction.mark_for_rollback_on_error(connection.alias), connection.cursor() as cursor:
        cursor.execute(statement, params)
        returned = cursor.fetchall() if parts.returning else []
        if not cursor.rowcount:
            return False
    _saved(objs, [pk for (pk,) in returned] if parts.returning else None, connection)
    return True


def _plain_values(values: dict[str, Any]) -> bool:
    return not any(
        hasattr(value, "resolve_expression") and not _plain_if_null(name, value)
        for name, value in values.items()
    )


@dataclass(frozen=True)
class Inserting:
    """An INSERT's pieces for one model: the same for every call, so built once."""

    fields: list[models.Field[Any, Any]]
    table: str
    columns: str
    row: str  # (%s, …)
    typed_row: str  # (CAST(%s AS type), …)
    returning: str  # " RETURNING pk" when the database generates the keys, else ""


@functools.cache
def _inserting(model: type[models.Model], generated: bool, alias: str) -> Inserting:
    connection = connections[alias]
    quote = connection.ops.quote_name
    meta = model._meta
    assert meta.pk is not None
    fields = [field for field in meta.concrete_fields if not (generated and field is meta.pk)]
    return Inserting(
        fields=fields,
        table=quote(meta.db_table),
        columns=", ".join(quote(str(field.column)) for field in fields),
        row=f"({', '.join(['%s'] * len(fields))})",
        typed_row="(" + ", ".join(f"CAST(%s AS {field.cast_db_type(connection)})" for field in fields) + ")",
        returning=f" RETURNING {quote(str(meta.pk.column))}" if generated else "",
    )


def _row(obj: models.Model, parts: Inserting, connection: Any) -> list[Any]:
    """The values an INSERT stores for `obj`, prepared as the ORM's save prepares them."""
    return [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in parts.fields]


def _generated(objs: Sequence[models.Model]) -> bool:
    """Whether the database makes the new rows' keys."""
    return isinstance(objs[0]._meta.pk, models.AutoField) and any(obj.pk is None for obj in objs)


def _inserted_parts(objs: Sequence[models.Model], connection: Any) -> Inserting | None:
    """What `update_then_insert` writes `objs` with in one statement, or None when they need more
    than one INSERT (or none)."""
    if not objs:
        return None
    parts = _inserting(type(objs[0]), _generated(objs), connection.alias)
    if connection.ops.bulk_batch_size(parts.fields, objs) < len(objs):
        return None
    return parts


def _saved(objs: Sequence[models.Model], pks: list[Any] | None, connection: Any) -> None:
    """Leave inserted objects as the ORM leaves saved ones: their generated keys set, stored in this
    database (Model._state, documented)."""
    for n, obj in enumerate(objs):
        if pks is not None:
            obj.pk = pks[n]
        obj._state.adding = False
        obj._state.db = connection.alias


def insert(objs: Sequence[models.Model]) -> None:
    """`Model.objects.bulk_create(objs)` for new rows of one model without signals or expressions:
    one INSERT of every concrete column; an auto-increment primary key comes back into each object
    (RETURNING, in the order of the rows, as bulk_create relies on too). Raises what the database
    raises (an IntegrityError for a duplicate, say), as bulk_create does."""
    if not objs:
        return
    model = type(objs[0])
    connection = connections[router.db_for_write(model)]
    generated = _generated(objs)
    if generated and not connection.features.can_return_rows_from_bulk_insert:
        model._default_manager.bulk_create(objs)
        return
    parts = _inserting(model, generated, connection.alias)
    # As many rows a statement as the database takes parameters (bulk_create's batches).
    size = max(1, connection.ops.bulk_batch_size(parts.fields, objs))
    for start in range(0, len(objs), size):
        batch = objs[start : start + size]
        params: list[Any] = []
        for obj in batch:
            params += _row(obj, parts, connection)
        statement = (
            f"INSERT INTO {parts.table} ({parts.columns}) VALUES {', '.join([parts.row] * len(batch))}"
        )
        # As the ORM's save does: a failure inside an atomic block marks it for rollback.
        with transaction.mark_for_rollback_on_error(connection.alias), connection.cursor() as cursor:
            cursor.execute(statement + parts.returning, params)
            returned = cursor.fetchall() if generated else []
        _saved(batch, [pk for (pk,) in returned] if generated else None, connection)


def insert_if(obj: models.Model, model: type[models.Model], where: dict[str, Any]) -> bool:
    """`insert([obj])` only while a row of `model` matches the equality filters `where`, checked in
    the same statement (`INSERT … SELECT … WHERE EXISTS`): whether it was inserted. For a row whose
    key is set (not generated by the database)."""
    if _generated([obj]):
        raise TypeError("insert_if takes a row whose primary key is set.")
    connection = connections[router.db_for_write(type(obj))]
    parts = _inserting(type(obj), False, connection.alias)
    condition, condition_params = _equal(model, where, connection)
    params = _row(obj, parts, connection)
    # PostgreSQL takes a SELECT's placeholders as text unless told their types (see update_then_insert).
    row = parts.typed_row if connection.vendor == "postgresql" else parts.row
    statement = (
        f"INSERT INTO {parts.table} ({parts.columns}) SELECT * FROM (VALUES {row}) AS added"
        f" WHERE EXISTS (SELECT 1 FROM {connection.ops.quote_name(model._meta.db_table)} WHERE {condition})"
    )
    with transaction.mark_for_rollback_on_error(connection.alias), connection.cursor() as cursor:
        cursor.execute(statement, params + condition_params)
        inserted = cursor.rowcount == 1
    if inserted:
        _saved([obj], None, connection)
    return inserted


def _plain_if_null(name: str, value: Any) -> bool:
    # Of the field it sets, with a plain value: an expression inside is the ORM's to build.
    return (
        isinstance(value, IfNull)
        and value.field_name == name
        and not hasattr(value.value, "resolve_expression")
    )


def _field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    if not isinstance(field, models.Field):
        raise TypeError(f"{model.__name__}.{name} is not a column.")
    return field
