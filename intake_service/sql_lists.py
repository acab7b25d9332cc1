"""`column IN (a list)`, compiled once on PostgreSQL.

SQLAlchemy renders an IN list into the SQL at every execution ("post-compile"): each value
becomes a parameter of its own, so the statement's string is rebuilt and its binds processed
again each time, even for a statement built once. In a submission's block-list lookup (a
phone's prefixes, the words of a message) that was about 40% of the statement's CPU.
PostgreSQL takes the whole list as one array parameter, `column = ANY(%(list)s)`, the plan
it makes for IN, so the statement compiles once and stays in SQLAlchemy's cache and
psycopg's prepared statements whatever the list's length. SQLite has no arrays: it keeps IN.

    one_of(Message.status, ("planned", "queued"))   # a list fixed when the statement is built
    one_of(BlockedValue.value, "words")             # a list given at execution as `words`
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Boolean, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal


class OneOf(ColumnElement[bool]):
    """`column` equal to one of a list: fixed (`values`) or bound at execution (`name`)."""

    __visit_name__ = "one_of"
    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a comparison: SQLite is not to append "= 1"
    # What the statement's cache key is made of: a fixed list is part of the SQL's identity.
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("name", InternalTraversal.dp_string),
        ("values", InternalTraversal.dp_plain_obj),
    ]

    def __init__(self, column: ColumnElement[Any], name: str, values: tuple[Any, ...] | None):
        self.column = column
        self.name = name
        self.values = values


def one_of(column: Any, values: Iterable[Any] | str) -> OneOf:
    """`column` IN `values`, or IN the list given at execution as the parameter named `values`."""
    if isinstance(values, str):
        return OneOf(column, values, None)
    return OneOf(column, f"{column.key}_list", tuple(values))


def _list(element: OneOf, type_: Any) -> Any:
    """The list's parameter: of `type_` (an array of the column's type), or expanding for IN
    when `type_` is None."""
    if element.values is None:
        return bindparam(element.name, type_=type_, expanding=type_ is None)
    # A fixed list's parameter gets a name of its own in each statement (unique), and its
    # value comes with the compiled statement from the cache: it is not in the cache key's
    # parameters, and does not need to be, as it never changes.
    return bindparam(
        element.name, list(element.values), type_=type_, expanding=type_ is None, unique=True
    )


@compiles(OneOf)
def _in(element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.in_(_list(element, None)), **kw)


@compiles(OneOf, "postgresql")
def _any(element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    values = _list(element, ARRAY(element.column.type))
    return compiler.process(element.column == any_(values), **kw)
