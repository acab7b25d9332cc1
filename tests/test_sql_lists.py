"""one_of: IN a list, the same rows on SQLite and PostgreSQL; compiled once on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    case,
    create_engine,
    select,
    update,
)
from sqlalchemy.engine.default import DefaultExecutionContext

from intake_service.sql_lists import one_of

metadata = MetaData()
rows = Table("rows", metadata, Column("id", Integer, primary_key=True), Column("tag", String(10)))
TAGS = ["a", "b", "c", "d", "a", "b", None]


@pytest.fixture(params=["sqlite", "postgresql"])
def connection(request: pytest.FixtureRequest) -> Iterator[Connection]:
    url = "sqlite://" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    engine = create_engine(url)
    with engine.connect() as connection:
        metadata.create_all(connection)
        connection.execute(rows.insert(), [{"id": i, "tag": t} for i, t in enumerate(TAGS)])
        connection.commit()
        yield connection
    engine.dispose()


def ids(connection: Connection, *where: object, **params: object) -> list[int]:
    statement = select(rows.c.id).where(*where).order_by(rows.c.id)  # type: ignore[arg-type]
    return list(connection.scalars(statement, params))


def test_the_rows_of_the_list_given_at_execution(connection: Connection) -> None:
    assert ids(connection, one_of(rows.c.tag, "tags"), tags=["a", "c"]) == [0, 2, 4]
    assert ids(connection, one_of(rows.c.tag, "tags"), tags=["b", "d"]) == [1, 3, 5]
    assert ids(connection, one_of(rows.c.tag, "tags"), tags=[]) == []
    # NULL is in no list, and NOT one_of leaves it out too, as NOT IN does.
    assert ids(connection, ~one_of(rows.c.tag, "tags"), tags=["a", "b"]) == [2, 3]


def test_two_lists_in_one_statement_keep_their_own_values(connection: Connection) -> None:
    both = (one_of(rows.c.tag, "tags"), one_of(rows.c.id, "ids"))
    assert ids(connection, *both, tags=["a", "b"], ids=[1, 4, 6]) == [1, 4]
    # The same statement again with other values: the cached one's values are not reused.
    assert ids(connection, *both, tags=["c", "d"], ids=[2]) == [2]


def test_in_an_order_by_and_an_update(connection: Connection) -> None:
    first = case((one_of(rows.c.tag, "first"), 0), else_=1)
    ordered = connection.scalars(
        select(rows.c.id).order_by(first, rows.c.id), {"first": ["c"]}
    ).all()
    assert ordered[0] == 2
    moved = connection.execute(
        update(rows).where(one_of(rows.c.id, "ids"), one_of(rows.c.tag, "tags")).values(tag="z"),
        {"ids": [0, 1, 4], "tags": ["a"]},
    )
    assert moved.rowcount == 2
    assert ids(connection, rows.c.tag == "z") == [0, 4]


@settings(max_examples=40, deadline=None)
@given(wanted=st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), max_size=6))
def test_the_same_rows_as_in(wanted: list[str]) -> None:
    engine = create_engine("sqlite://")
    with engine.connect() as connection:
        metadata.create_all(connection)
        connection.execute(rows.insert(), [{"id": i, "tag": t} for i, t in enumerate(TAGS)])
        assert ids(connection, one_of(rows.c.tag, "w"), w=wanted) == ids(
            connection, rows.c.tag.in_(wanted)
        )


def test_postgresql_compiles_it_once_whatever_the_length(pg_url: str) -> None:
    engine = create_engine(pg_url)
    statement = select(rows.c.id).where(one_of(rows.c.tag, "tags"))
    with engine.connect() as connection:
        metadata.create_all(connection)
        sql = set()
        for tags in (["a"], ["a", "b"], ["a", "b", "c", "d"]):
            result = connection.execute(statement, {"tags": tags})
            context = result.context
            assert isinstance(context, DefaultExecutionContext)
            sql.add(context.statement)
        # One SQL text for every length (an IN list is rendered anew for each), from the cache.
        assert len(sql) == 1
        assert "ANY" in sql.pop()
        assert context.cache_hit == context.cache_hit.CACHE_HIT  # type: ignore[attr-defined]
    engine.dispose()
