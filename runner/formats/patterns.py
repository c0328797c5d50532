"""Regular expressions in recordings (`match: "matches"`), run by RE2: linear time in the text's length
whatever the pattern, so `^(a+)+$` cannot hold a worker's event loop (its heartbeat) or the API.

RE2 has no backreferences or lookaround; a pattern that needs them is refused when the run is queued
(InvalidScript naming the field), as is one longer than `contract.limits.MAX_PATTERN_CHARS`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2

from contract import limits

ENGINE = "re2"


@lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> Any:
    """The compiled RE2 pattern; re2.error (a ValueError) when RE2 cannot compile it."""
    options = re2.Options()
    options.max_mem = 8 << 20  # a pattern's automaton, bounded (RE2's default is 8 MiB too)
    options.log_errors = False
    return re2.compile(pattern, options)


def pattern_problem(pattern: str) -> str | None:
    """Why `pattern` cannot be used: too long, or not a regular expression RE2 accepts."""
    if len(pattern) > limits.MAX_PATTERN_CHARS:
        return f"the regular expression is {len(pattern):,} characters long; the limit is {limits.MAX_PATTERN_CHARS:,}"
    try:
        compile_pattern(pattern)
    except Exception as error:  # re2.error; RE2 reports any pattern it cannot compile this way
        return (f"is not a valid regular expression (RE2 syntax: no backreferences or lookaround): "
                f"{str(error) or type(error).__name__}")
    return None


def pattern_search(pattern: str, text: str) -> bool:
    """Whether `pattern` occurs anywhere in `text` (like re.search), in time linear in `len(text)`."""
    return compile_pattern(pattern).search(text) is not None
