"""Recorder selectors, parsed: which kind each part is, and why a part cannot be used.

Selector kinds (the prefixes of @puppeteer/replay; a part without one is CSS): CSS and `pierce/CSS`,
`xpath/EXPR`, `text/TEXT`, and `aria/NAME[role="ROLE"]` (a name, a role, or both). A chain
(`["my-host", "button"]`) looks each later part up inside what the earlier part matched. How each kind is
found in a page is the replay's business (`runner.replay.locate`); this module only reads the text, so the
parsers can refuse a selector that could never match without loading a browser driver.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, cast

SelectorKind = Literal["css", "xpath", "text", "aria", "pierce"]

# The roles Playwright's `get_by_role` accepts (the WAI-ARIA roles); a test keeps this equal to the installed
# Playwright's list.
ARIA_ROLES: frozenset[str] = frozenset({
    "alert", "alertdialog", "application", "article", "banner", "blockquote", "button", "caption", "cell",
    "checkbox", "code", "columnheader", "combobox", "complementary", "contentinfo", "definition", "deletion",
    "dialog", "directory", "document", "emphasis", "feed", "figure", "form", "generic", "grid", "gridcell",
    "group", "heading", "img", "insertion", "link", "list", "listbox", "listitem", "log", "main", "marquee",
    "math", "menu", "menubar", "menuitem", "menuitemcheckbox", "menuitemradio", "meter", "navigation", "none",
    "note", "option", "paragraph", "presentation", "progressbar", "radio", "radiogroup", "region", "row",
    "rowgroup", "rowheader", "scrollbar", "search", "searchbox", "separator", "slider", "spinbutton", "status",
    "strong", "subscript", "superscript", "switch", "tab", "table", "tablist", "tabpanel", "term", "textbox",
    "time", "timer", "toolbar", "tooltip", "tree", "treegrid", "treeitem",
})
# `[role="button"]` / `[name='Go']` at the end of an aria selector (quotes may be escaped inside).
_ARIA_ATTRIBUTE = re.compile(
    r"\[\s*(?P<attribute>\w+)\s*=\s*(?P<quote>[\"'])(?P<value>(?:\\.|(?!(?P=quote)).)*)(?P=quote)\s*\]"
)


@dataclass(frozen=True)
class SelectorPart:
    kind: SelectorKind
    value: str  # the selector without its prefix
    role: str | None = None  # aria only
    name: str | None = None  # aria only; None = any name


def parse_selector(text: str) -> SelectorPart:
    """One part of a chain; ValueError with a readable message when it cannot be used."""
    if not text.strip():
        raise ValueError("selector is empty")
    for kind in ("aria", "text", "xpath", "pierce"):
        prefix = f"{kind}/"
        if text.startswith(prefix):
            value = text[len(prefix):]
            if not value.strip():
                raise ValueError(f"selector {text!r} has nothing after {prefix!r}")
            if kind == "aria":
                return _parse_aria(value)
            return SelectorPart(kind=cast(SelectorKind, kind), value=value)
    return SelectorPart(kind="css", value=text)


def _parse_aria(value: str) -> SelectorPart:
    attributes: dict[str, str] = {}

    def take(match: re.Match[str]) -> str:
        attributes[match["attribute"]] = re.sub(r"\\(.)", r"\1", match["value"])
        return ""

    name = _ARIA_ATTRIBUTE.sub(take, value).strip()
    unknown = set(attributes) - {"role", "name"}
    if unknown:
        raise ValueError(f"aria selector attribute {sorted(unknown)[0]!r} is not supported (use role or name)")
    name = attributes.get("name", name)
    role = attributes.get("role")
    if role is not None and role not in ARIA_ROLES:
        raise ValueError(f"aria selector role {role!r} is not an ARIA role")
    if role is None and not name:
        raise ValueError(f"aria selector {'aria/' + value!r} names neither an accessible name nor a role")
    return SelectorPart(kind="aria", value=value, role=role, name=name or None)


def selector_problem(text: str) -> str | None:
    """Why this selector part cannot be used, or None; for the parsers' field errors."""
    try:
        parse_selector(text)
    except ValueError as error:
        return str(error)
    return None


def chain_text(chain: tuple[str, ...]) -> str:
    """A chain as one string, as messages and results name it: `host >> button`."""
    return " >> ".join(chain)
