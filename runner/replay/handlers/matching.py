"""How waits and assertions compare what the page shows with what the step expects, and how their messages
say it."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from runner.formats.steps import CountOperator, Selectors, TextMatch, describe_selectors

COMPARE: Mapping[CountOperator, Callable[[int, int], bool]] = {
    ">=": lambda found, wanted: found >= wanted,
    "==": lambda found, wanted: found == wanted,
    "<=": lambda found, wanted: found <= wanted,
}
VERB: Mapping[TextMatch, str] = {"equals": "equal", "contains": "contain", "matches": "match"}


def text_matches(actual: str, expected: str, mode: TextMatch) -> bool:
    """`equals`, `contains`, or `matches` (a regular expression, searched)."""
    if mode == "matches":
        return re.search(expected, actual) is not None
    return actual == expected if mode == "equals" else expected in actual


def plural(selectors: Selectors) -> str:
    """`selector "#a"` or `selectors "#a", "aria/Go"`."""
    return f"{'selector' if len(selectors) == 1 else 'selectors'} {describe_selectors(selectors)}"
