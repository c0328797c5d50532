"""How waits and assertions compare what the page shows with what the step expects, and how their messages
say it."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from runner.formats.patterns import pattern_search
from runner.formats.steps import CountOperator, Selectors, TextMatch, describe_selectors

COMPARE: Mapping[CountOperator, Callable[[int, int], bool]] = {
    ">=": lambda found, wanted: found >= wanted,
    "==": lambda found, wanted: found == wanted,
    "<=": lambda found, wanted: found <= wanted,
}
VERB: Mapping[TextMatch, str] = {"equals": "equal", "contains": "contain", "matches": "match"}


def text_matches(actual: str, expected: str, mode: TextMatch) -> bool:
    """`equals`, `contains`, or `matches` (a regular expression, searched by RE2: linear time, so a pattern
    such as `^(a+)+$` cannot block the worker's event loop)."""
    if mode == "matches":
        return pattern_search(expected, actual)
    return actual == expected if mode == "equals" else expected in actual


def plural(selectors: Selectors) -> str:
    """`selector "#a"` or `selectors "#a", "aria/Go"`."""
    return f"{'selector' if len(selectors) == 1 else 'selectors'} {describe_selectors(selectors)}"
