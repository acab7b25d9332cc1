"""`column IN (a list given at execution)`, compiled once on PostgreSQL.

SQLAlchemy renders an IN list into the SQL at every execution ("post-compile"): each value
becomes a parameter of its own, so the statement's string is rebuilt and its binds processed
again each time, even for a statement built once. In a submission's block-list lookup (a
phone's prefixes, the words of a message) that was about 40% of the statement's CPU.
PostgreSQL takes the whole list as one array parameter, `column = ANY(%(list)s)`, the plan
it makes for IN, so the statement compiles once and stays in SQLAlchemy's cache and
psycopg's prepared statements whatever the list's length. SQLite has no arrays: it keeps IN.

    one_of(BlockedValue.value, "words")   # IN the list given at execution as `words`
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal


class OneOf(ColumnElement[bool]):
    """`column` equal to one of the list bound at execution as the parameter `name`."""

    __visit_name__ = "one_of"
    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a comparison: SQLite is not to append "= 1"
    # What the statement's cache key is made of.
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("name", InternalTraversal.dp_string),
    ]

    def __init__(self, column: ColumnElement[Any], name: str):
        self.column = column
        self.name = name


def one_of(column: Any, name: str) -> OneOf:
    """`column` IN the list given at execution as the parameter `name`."""
    return OneOf(column, name)


@compiles(OneOf)
def _in(element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.in_(bindparam(element.name, expanding=True)), **kw)


@compiles(OneOf, "postgresql")
def _any(element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    values = bindparam(element.name, type_=ARRAY(element.column.type))
    return compiler.process(element.column == any_(values), **kw)
