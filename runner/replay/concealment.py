"""What a run keeps out of its pixels: fields that receive a secret, and the regions the run's `maskSelectors` name.

A field a step is about to type a secret into (a `change`/`fill` or `type` step whose value holds a secret's value)
is concealed first (`conceal`): its own text is made invisible with inline `!important` styles (transparent text
and caret, no text shadow, discs for the characters), re-applied if the page rewrites its `style`. The value never
renders, so no screenshot, video frame or trace screencast frame shows it, and the trace's DOM snapshot of the field
carries the styles too (its value is scrubbed from the archive, `runner.replay.trace_scrub`). The field looks as it
does empty.

The run's mask selectors are painted out as solid boxes (`MASK_COLOR`, Playwright's own mask colour):
- in screenshots by Playwright's `mask` option (`mask_locators`);
- in the video (which records what renders) by an overlay that an init script adds to every document and frame
  of the run's context, after each navigation too (`mask_overlay_script`). A `<reprise-mask>` layer outside
  `<body>` (so recorded selectors into the body are unaffected) holds one box per matched element, moved to the
  element's box at every animation frame; it lets pointer events through.
A selector the browser cannot parse would mask nothing: the run fails before its first step instead
(`invalid_selectors`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from playwright.async_api import Locator, Page

MASK_COLOR = "#FF00FF"

_CONCEAL_JS = """element => {
  const hidden = [["color", "transparent"], ["-webkit-text-fill-color", "transparent"], ["text-shadow", "none"],
                  ["caret-color", "transparent"], ["-webkit-text-security", "disc"]];
  const apply = () => {
    for (const [name, value] of hidden) {
      if (element.style.getPropertyValue(name) !== value || element.style.getPropertyPriority(name) !== "important")
        element.style.setProperty(name, value, "important");
    }
  };
  apply();
  if (!element.hasAttribute("data-reprise-secret")) {
    element.setAttribute("data-reprise-secret", "");
    new MutationObserver(apply).observe(element, { attributes: true, attributeFilter: ["style"] });
  }
}"""

_OVERLAY_JS = """selectors => {
  if (window.__repriseMasks) return;
  window.__repriseMasks = true;
  const boxes = [];
  let layer = null;
  const fixed = (element, css) => {
    for (const [name, value] of Object.entries(css)) element.style.setProperty(name, value, "important");
  };
  const place = () => {
    const root = document.documentElement;
    if (root) {
      if (!layer || !layer.isConnected) {
        layer = document.createElement("reprise-mask");
        layer.setAttribute("aria-hidden", "true");
        fixed(layer, { position: "fixed", inset: "0", "pointer-events": "none", "z-index": "2147483647",
                       display: "block", overflow: "hidden", margin: "0", padding: "0", border: "0",
                       background: "none" });
        boxes.length = 0;
        root.appendChild(layer);
      }
      const rects = [];
      for (const selector of selectors) {
        let found = [];
        try { found = document.querySelectorAll(selector); } catch (error) { continue; }
        for (const element of found) {
          const rect = element.getBoundingClientRect();
          if (rect.width > 0 && rect.height > 0) rects.push(rect);
        }
      }
      while (boxes.length < rects.length) {
        const box = document.createElement("reprise-mask-box");
        fixed(box, { position: "absolute", "pointer-events": "none", background: "__COLOR__", margin: "0",
                     padding: "0", border: "0" });
        layer.appendChild(box);
        boxes.push(box);
      }
      boxes.forEach((box, index) => {
        const rect = rects[index];
        if (!rect) { fixed(box, { display: "none" }); return; }
        fixed(box, { display: "block", left: rect.left + "px", top: rect.top + "px", width: rect.width + "px",
                     height: rect.height + "px" });
      });
    }
    requestAnimationFrame(place);
  };
  place();
}""".replace("__COLOR__", MASK_COLOR)


_INVALID_JS = """selectors => selectors.filter(selector => {
  try { document.createDocumentFragment().querySelector(selector); return false; } catch (error) { return true; }
})"""


async def invalid_selectors(page: Page, selectors: Sequence[str]) -> list[str]:
    """The selectors the browser cannot parse as CSS (the overlay would mask nothing for them)."""
    refused: list[str] = await page.evaluate(_INVALID_JS, list(selectors))
    return refused


async def conceal(locator: Locator) -> None:
    """Make the element's text invisible before a secret is typed into it (see the module docstring)."""
    await locator.evaluate(_CONCEAL_JS)


def mask_overlay_script(selectors: Sequence[str]) -> str:
    """The init script that paints the selectors' elements out in every document of the context."""
    return f"({_OVERLAY_JS})({json.dumps(list(selectors))});"


def mask_locators(page: Page, selectors: Sequence[str]) -> list[Locator]:
    """Playwright's `mask` option for the page's screenshots (CSS selectors, as the overlay reads them)."""
    return [page.locator(f"css={selector}") for selector in selectors]
