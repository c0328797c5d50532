"""Every bound on what a client can send, in one place (docs/limits.md lists them with the error each gives).

Hostile or careless input must end as a 4xx naming the field, never as a 500, a stalled worker or a row no
page can show. The request-wide bounds (body size, rate, event streams) are settings (contract/settings.py);
the bounds on a recording and a run's options are here, used by the API's models (contract/options.py), by
`runner.formats.prepare_script` (after `${NAME}` substitution too) and so by the worker and `reprise run`.

`json_problem` walks decoded JSON without recursion (a document nested 100,000 deep must not raise
RecursionError) and returns the first problem as a value, `(field path, message)`, or None.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_STEPS = 1_000  # steps (actions) in one recording
MAX_BATCH_RUNS = 1_000  # runs in one `POST /api/runs/batch` (the body is bound by API_MAX_BODY_BYTES too)
MAX_DEPTH = 32  # nesting of any JSON document a client sends (recording, storageState, options)
MAX_STRING_CHARS = 100_000  # any one string of a recording or an option (fill values, selectors, URLs)
MAX_DOCUMENT_CHARS = 1_000_000  # all strings of one recording together, after variable substitution
MAX_NAME_CHARS = 300  # a run's or a recording's name, after substitution
MAX_PATTERN_CHARS = 1_000  # a regular expression (`match: matches`)
MAX_VARIABLES = 200
MAX_MASK_SELECTORS = 50  # a run's maskSelectors
MAX_SELECTOR_CHARS = 1_000  # one of them
MAX_VARIABLE_CHARS = 10_000  # one variable's value
MAX_HEADERS = 50  # extraHttpHeaders entries
MAX_HEADER_NAME_CHARS = 256
MAX_HEADER_VALUE_CHARS = 8_192
MAX_COOKIES = 500  # storageState cookies
MAX_ORIGINS = 100  # storageState origins
MAX_VIEWPORT_WIDTH = 7_680
MAX_VIEWPORT_HEIGHT = 4_320
MAX_DEVICE_SCALE_FACTOR = 4.0
MAX_INT64 = 2**63 - 1  # ids, cursors and offsets (Postgres bigint)
MIN_YEAR = 1970  # date filters: earlier or later than this is refused, not overflowed
MAX_YEAR = 9999

# RFC 9110 token characters: a header name is one token.
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True)
class Problem:
    field: str
    message: str


def _child(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def json_problem(data: Any, path: str = "", *, max_depth: int = MAX_DEPTH, max_string: int = MAX_STRING_CHARS,
                 max_total: int = MAX_DOCUMENT_CHARS) -> Problem | None:
    """The first thing in `data` (decoded JSON) that cannot be stored or replayed safely: nesting deeper
    than `max_depth`, a string (or key) longer than `max_string` or holding a NUL character (Postgres
    text and jsonb refuse it), all strings together over `max_total` characters. None when it is fine."""
    total = 0
    stack: list[tuple[Any, str, int]] = [(data, path, 0)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, str):
            if len(value) > max_string:
                return Problem(where, f"is {len(value):,} characters long; the limit is {max_string:,}")
            if "\x00" in value:
                return Problem(where, "contains a NUL character (\\u0000), which cannot be stored")
            total += len(value)
            if total > max_total:
                return Problem(where or "body", f"the strings of this document add up to more than "
                                                f"{max_total:,} characters")
        elif isinstance(value, dict | list):
            if depth >= max_depth:
                return Problem(where or "body", f"is nested more than {max_depth} levels deep")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            children = []
            for key, child in items:
                if isinstance(key, str):
                    if len(key) > max_string or "\x00" in key:
                        return Problem(where or "body", "has a key that is too long or holds a NUL character")
                    total += len(key)
                children.append((child, _child(where, key), depth + 1))
            stack.extend(reversed(children))
    return None


def text_problem(value: str, max_chars: int) -> str | None:
    """Why a plain text field cannot be stored: too long, or a NUL character."""
    if len(value) > max_chars:
        return f"is {len(value):,} characters long; the limit is {max_chars:,}"
    if "\x00" in value:
        return "contains a NUL character (\\u0000), which cannot be stored"
    return None


def header_problem(name: str, value: str) -> str | None:
    """Why an HTTP header cannot be sent: a name that is not an RFC 9110 token, a value with CR, LF or NUL
    (header injection), or either too long."""
    if not name or len(name) > MAX_HEADER_NAME_CHARS or not set(name) <= _TOKEN_CHARS:
        return (f"header name {name[:60]!r} is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~, "
                f"at most {MAX_HEADER_NAME_CHARS} characters)")
    if len(value) > MAX_HEADER_VALUE_CHARS:
        return f"header {name!r}: the value is longer than {MAX_HEADER_VALUE_CHARS:,} characters"
    if any(char in value for char in "\r\n\x00") or any(ord(char) < 32 and char != "\t" for char in value):
        return f"header {name!r}: the value holds a control character (CR, LF or NUL)"
    return None


def viewport_problem(width: float, height: float, scale: float = 1.0) -> str | None:
    if not 1 <= width <= MAX_VIEWPORT_WIDTH or not 1 <= height <= MAX_VIEWPORT_HEIGHT:
        return (f"viewport {width:g}x{height:g} is out of range (at most {MAX_VIEWPORT_WIDTH}x"
                f"{MAX_VIEWPORT_HEIGHT})")
    if not 0 < scale <= MAX_DEVICE_SCALE_FACTOR:
        return f"deviceScaleFactor {scale:g} is out of range (above 0, at most {MAX_DEVICE_SCALE_FACTOR:g})"
    return None

MAX_OFFSET = 1_000_000_000  # `offset` of any list; deeper pages are reached with `before` (runs)
