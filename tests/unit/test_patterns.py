"""Regular expressions of recordings run by RE2 (issue 16, finding 5): linear time whatever the pattern, and
refused at parse time when RE2 cannot run them or they are too long."""

from __future__ import annotations

import re2

from contract import limits
from runner.formats import InvalidScript, prepare_script
from runner.formats.patterns import ENGINE, compile_pattern, pattern_problem, pattern_search
from runner.replay.handlers.matching import text_matches


def test_the_engine_is_re2() -> None:
    assert ENGINE == "re2" and isinstance(compile_pattern("^a+$"), re2._Regexp)


def test_catastrophic_backtracking_patterns_answer_correctly() -> None:
    # `^(a+)+$` against 30 a's and a b: ~2^30 steps for a backtracking engine, one pass for RE2.
    title = "a" * 30 + "b"
    assert text_matches(title, "^(a+)+$", "matches") is False
    assert text_matches("a" * 30, "^(a+)+$", "matches") is True
    assert pattern_search(r"(x+x+)+y", "x" * 5000) is False


def test_search_semantics_as_before() -> None:
    assert text_matches("Order #42 confirmed", r"#\d+", "matches")
    assert not text_matches("Order confirmed", r"^#\d+", "matches")
    assert text_matches("Café", "^caf", "contains") is False


def test_patterns_re2_cannot_run_or_too_long_are_problems() -> None:
    assert pattern_problem(r"(a)\1") is not None  # a backreference
    assert pattern_problem("(?<=a)b") is not None  # lookbehind
    assert pattern_problem("[") is not None
    assert pattern_problem("a" * (limits.MAX_PATTERN_CHARS + 1)) is not None
    assert pattern_problem(r"^Order #\d+$") is None


def test_prepare_script_refuses_them_naming_the_step() -> None:
    for script in (
        {"version": 1, "name": "n", "steps": [{"action": "assertTitle", "text": r"(a)\1", "match": "matches"}]},
        {"version": 1, "name": "n", "steps": [{"action": "assertUrl", "url": "(?=x)", "match": "matches"}]},
    ):
        try:
            prepare_script(script, {}, {})
        except InvalidScript as error:
            assert error.field.startswith("steps[0]"), error
            assert "RE2" in error.message
        else:
            raise AssertionError(f"accepted {script}")
