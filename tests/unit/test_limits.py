"""The bounds of contract/limits.py as values (no service)."""

from __future__ import annotations

from typing import Any

from contract import limits
from runner.formats import InvalidScript, prepare_script


def deep(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def test_depth_is_measured_without_recursion() -> None:
    problem = limits.json_problem({"a": deep(100_000)})  # would be a RecursionError if walked recursively
    assert problem is not None and problem.field.startswith("a[0]") and "nested" in problem.message
    assert limits.json_problem({"a": deep(limits.MAX_DEPTH - 1)}) is None


def test_strings_keys_nul_and_totals() -> None:
    assert limits.json_problem({"s": "x" * (limits.MAX_STRING_CHARS + 1)}) == limits.Problem(
        "s", f"is {limits.MAX_STRING_CHARS + 1:,} characters long; the limit is {limits.MAX_STRING_CHARS:,}")
    nul = limits.json_problem({"steps": [{"value": "a\x00"}]})
    assert nul is not None and nul.field == "steps[0].value"
    assert limits.json_problem({"k\x00": 1}) is not None
    many = {"s": ["x" * 90_000] * 12}
    assert limits.json_problem(many) is not None and limits.json_problem({"s": ["x" * 90_000] * 11}) is None


def test_headers() -> None:
    assert limits.header_problem("X-Ok", "value; with = stuff") is None
    assert limits.header_problem("X-Bad", "a\r\nSet-Cookie: x") is not None
    assert limits.header_problem("Bad Name", "v") is not None
    assert limits.header_problem("", "v") is not None
    assert limits.header_problem("X-Tab", "a\tb") is None


def test_viewports() -> None:
    assert limits.viewport_problem(1280, 720) is None
    assert limits.viewport_problem(100_000, 100_000) is not None
    assert limits.viewport_problem(800, 600, 50) is not None


def test_limits_apply_after_substitution() -> None:
    script = {"version": 1, "name": "${A}${A}", "steps": [{"action": "navigate", "url": "http://a.test/"}]}
    prepare_script(script, {"A": "x" * 150}, {})  # 300 characters: at the limit
    try:
        prepare_script(script, {"A": "x" * 151}, {})
    except InvalidScript as error:
        assert error.field == "name" and str(limits.MAX_NAME_CHARS) in error.message
    else:
        raise AssertionError("a 302-character name was accepted")
