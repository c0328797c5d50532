"""Base URL override: replay a recording made against one host (say staging) against another.

The recording's origin is the origin of its first navigation. Every URL in the script on that origin
(navigations, expected navigations, popup targets, URL assertions) moves to the new base, keeping its
path, query and fragment; URLs on other origins (a payment provider, say) are left alone.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from runner.formats.errors import InvalidScript
from runner.formats.steps import Navigate, Script, Step


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def recorded_origin(script: Script) -> tuple[str, str] | None:
    for step in script.steps:
        if isinstance(step, Navigate) and urlsplit(step.url).scheme in ("http", "https"):
            return _origin(step.url)
    return None


def rebase_script(script: Script, base_url: str) -> Script:
    base = urlsplit(base_url)
    if base.scheme not in ("http", "https") or not base.netloc:
        raise InvalidScript("", f"base URL {base_url!r} must be an absolute http(s) URL")
    origin = recorded_origin(script)
    if origin is None:
        return script

    def move(url: str | None) -> str | None:
        if not url or _origin(url) != origin:
            return url
        parts = urlsplit(url)
        path = base.path.rstrip("/") + parts.path if base.path not in ("", "/") else parts.path
        return urlunsplit((base.scheme, base.netloc, path, parts.query, parts.fragment))

    def moved(step: Step) -> Step:
        changes: dict[str, Any] = {}
        for name in ("url", "target", "expect_navigation"):
            if name in {field.name for field in fields(step)}:
                value = getattr(step, name)
                if isinstance(value, str) and move(value) != value:
                    changes[name] = move(value)
        return replace(step, **changes) if changes else step

    return replace(script, steps=[moved(step) for step in script.steps])
