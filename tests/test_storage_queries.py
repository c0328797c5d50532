"""Unit tests of the named-query loader and migration discovery (no database)."""

import pytest

from storage.migrations import load_migrations
from storage.queries import load_queries, parse_queries


def test_parse_queries_splits_named_blocks() -> None:
    text = "-- preamble\n-- name: first\nSELECT 1;\n\n-- name: second\n-- a comment\nSELECT 2;\n"
    assert parse_queries(text) == {"first": "SELECT 1;", "second": "-- a comment\nSELECT 2;"}


def test_parse_queries_rejects_duplicates() -> None:
    with pytest.raises(ValueError, match="twice"):
        parse_queries("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;\n")


def test_every_query_the_repository_uses_exists() -> None:
    queries = load_queries()
    for name in ("insert_run", "get_run", "list_runs", "start_attempt", "finish_run", "cancel_run",
                 "upsert_step", "insert_artifact", "fail_unstarted_run"):
        assert queries.get(name)


def test_migrations_are_numbered_in_order() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
