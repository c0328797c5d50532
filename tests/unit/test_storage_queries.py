"""Unit tests of the named-query loader and migration discovery (no database)."""

import ast

import pytest

from storage.migrations import load_migrations
from storage.queries import load_queries, parse_queries

from services import REPO_ROOT

STORAGE_DIR = REPO_ROOT / "storage"


def query_names_in_code() -> dict[str, list[str]]:
    """Every `self._sql["name"]` (any `..._sql[<literal>]`) in the storage package: name -> where."""
    used: dict[str, list[str]] = {}
    for path in sorted(STORAGE_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute)
                    and node.value.attr == "_sql" and isinstance(node.slice, ast.Constant)):
                used.setdefault(str(node.slice.value), []).append(f"{path.name}:{node.lineno}")
    return used


def test_parse_queries_splits_named_blocks() -> None:
    text = "-- preamble\n-- name: first\nSELECT 1;\n\n-- name: second\n-- a comment\nSELECT 2;\n"
    assert parse_queries(text) == {"first": "SELECT 1;", "second": "-- a comment\nSELECT 2;"}


def test_parse_queries_rejects_duplicates() -> None:
    with pytest.raises(ValueError, match="twice"):
        parse_queries("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;\n")


def test_every_query_the_code_names_exists_and_every_query_is_used() -> None:
    defined = set(load_queries())
    used = query_names_in_code()
    missing = {name: where for name, where in used.items() if name not in defined}
    assert not missing, f"queries named in the code but not in queries.sql: {missing}"
    assert defined - set(used) == set(), f"queries in queries.sql that no code uses: {sorted(defined - set(used))}"
    assert len(used) >= 30  # the scan itself found the repository's queries


def test_no_inline_sql_in_the_repositories() -> None:
    """SQL lives in queries.sql (migrations.py keeps its bootstrap statements: it runs before any query file
    can be trusted to match the schema)."""
    for path in sorted(STORAGE_DIR.glob("*.py")):
        if path.name == "migrations.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value.lstrip()
                assert not text.startswith(("SELECT ", "UPDATE ", "INSERT INTO ", "DELETE FROM ", "WITH ")), \
                    f"inline SQL in {path.name}:{node.lineno}: {node.value[:60]!r}"


def test_migrations_are_numbered_in_order() -> None:
    """Unique and increasing from 1; a gap is allowed (numbers are reserved per branch and the runner applies
    the missing versions as a set)."""
    versions = [m.version for m in load_migrations()]
    assert versions[0] == 1 and versions == sorted(set(versions))
