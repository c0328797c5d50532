"""`${NAME}` variables in recordings, and masking of secret values in everything a run reports.

Variables are substituted in every string of the decoded recording before it is parsed, so they work in
any field of any format (URLs, selectors, typed values). A reference to a name that was not given is an
InvalidScript naming the field. Secrets are variables whose values come from the environment of the
process that replays (`REPRISE_SECRET_<NAME>`), are never stored, and are replaced by `***` in every error,
log line and text artifact the runner writes (`SecretMasker`). `$${NAME}` stays a literal `${NAME}`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

from contract.options import NAME_PATTERN
from runner.formats.errors import InvalidScript

_REFERENCE = re.compile(r"\$(\$?)\{(" + NAME_PATTERN + r")\}")
VALID_NAME = re.compile(rf"^{NAME_PATTERN}$")
SECRET_ENV_PREFIX = "REPRISE_SECRET_"
MASK = "***"


def _child_path(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def references(data: Any, path: str = "") -> list[tuple[str, str]]:
    """Every `(field path, variable name)` the recording refers to, in document order."""
    found: list[tuple[str, str]] = []
    if isinstance(data, str):
        found.extend((path, match.group(2)) for match in _REFERENCE.finditer(data) if not match.group(1))
    elif isinstance(data, dict):
        for key, value in data.items():
            found.extend(references(value, _child_path(path, str(key))))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found.extend(references(value, _child_path(path, index)))
    return found


def substitute(data: Any, values: Mapping[str, str], path: str = "") -> Any:
    """A copy of `data` with each `${NAME}` replaced by its value; InvalidScript for an unknown name."""
    if isinstance(data, str):

        def replace(match: re.Match[str]) -> str:
            if match.group(1):
                return "${" + match.group(2) + "}"
            name = match.group(2)
            if name not in values:
                known = ", ".join(sorted(values)) or "none were given"
                raise InvalidScript(path, f"unknown variable ${{{name}}} (known: {known})")
            return values[name]

        return _REFERENCE.sub(replace, data)
    if isinstance(data, dict):
        return {key: substitute(value, values, _child_path(path, str(key))) for key, value in data.items()}
    if isinstance(data, list):
        return [substitute(value, values, _child_path(path, index)) for index, value in enumerate(data)]
    return data


def secret_env_name(name: str) -> str:
    return SECRET_ENV_PREFIX + name


def resolve_secrets(names: Iterable[str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Secret values from the environment; only `REPRISE_SECRET_*` variables can be read, so a recording
    can never type out the worker's other settings (its DATABASE_URL, say)."""
    environment = os.environ if environ is None else environ
    values: dict[str, str] = {}
    missing = []
    for name in names:
        value = environment.get(secret_env_name(name))
        if value is None:
            missing.append(secret_env_name(name))
        else:
            values[name] = value
    if missing:
        raise LookupError(f"secret(s) not set in this process's environment: {', '.join(missing)}")
    return values


def _spellings(value: str) -> set[str]:
    """The value as it may appear in text we write: as is, JSON-escaped (HAR; non-ASCII escaped or not, as Python
    and JavaScript write it), URL-encoded (form posts)."""
    return {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1], quote(value, safe=""),
            quote_plus(value)}


class SecretMasker:
    """Replaces every secret value with `***` (longest first, so overlapping values mask fully)."""

    def __init__(self, secret_values: Iterable[str] = ()) -> None:
        self.values = tuple(sorted({value for value in secret_values if value}, key=len, reverse=True))
        spellings = {spelling for value in self.values for spelling in _spellings(value)}
        self._values = sorted(spellings, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._values)

    def mask(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, MASK)
        return text

    def mask_optional(self, text: str | None) -> str | None:
        return None if text is None else self.mask(text)

    def reveals(self, text: str) -> bool:
        """`text` holds a secret value (a value a step is about to type: its field is masked first)."""
        return any(value in text for value in self._values)

    @property
    def spellings(self) -> tuple[str, ...]:
        """Every spelling masked (as is, JSON-escaped, URL-encoded), longest first."""
        return tuple(self._values)
