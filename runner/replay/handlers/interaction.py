"""Steps that act on the page as a person would: click, hover, fill, select, type, keys, check, upload,
scroll, drag and drop.

Each finds its element first (`StepContext.element`, visible unless said otherwise) and names the selector
that matched. An action the element refuses outright (not a checkbox, not a file input, not fillable) is a
`script_error`: the recording is wrong, waiting longer would not help.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from types import MappingProxyType
from typing import Any, cast

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Frame, Locator, Page
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from contract.runs import FailureCategory
from runner.formats.steps import (
    Click,
    DragAndDrop,
    Fill,
    Hover,
    KeyDown,
    KeyUp,
    ModifierClick,
    MouseButton,
    Press,
    Scroll,
    ScrollIntoView,
    SelectOption,
    SetChecked,
    Step,
    TypeText,
    Upload,
)
from runner.replay.concealment import conceal
from runner.replay.context import Handler, StepContext, left_ms
from runner.replay.errors import StepFailed
from runner.replay.locate import find_element, first_line, is_closed_error

# What `change`/`fill` does with an element, as @puppeteer/replay's `Locator.fill` decides it.
_FILL_KIND_JS = """element => {
  if (element instanceof HTMLSelectElement) return 'select';
  if (element instanceof HTMLTextAreaElement) return 'typeable';
  if (element instanceof HTMLInputElement) {
    if (element.type === 'checkbox' || element.type === 'radio') return 'checkable';
    return ['text', 'url', 'tel', 'search', 'password', 'number', 'email'].includes(element.type)
      ? 'typeable' : 'other-input';
  }
  if (['checkbox', 'radio', 'switch'].includes(element.getAttribute('role'))) return 'checkable';
  if (element.isContentEditable) return 'typeable';
  return 'unknown';
}"""

# Checked state of a checkbox, radio or switch: true, false, or "mixed".
_CHECKED_JS = """element => (element.indeterminate || element.getAttribute('aria-checked') === 'mixed') ? 'mixed'
  : Boolean(element.checked || element.getAttribute('aria-checked') === 'true')"""

_SET_VALUE_JS = """(element, value) => {
  element.focus();
  if (element.value === value) return;
  element.value = value;
  element.dispatchEvent(new Event('input', { bubbles: true }));
  element.dispatchEvent(new Event('change', { bubbles: true }));
}"""


async def _keyboard(action: Awaitable[Any], key: str) -> None:
    try:
        await action
    except PlaywrightTimeoutError:
        raise
    except PlaywrightError as error:
        if "Unknown key" in str(error):
            raise StepFailed(f"unknown key {key!r}") from None
        raise


async def _refused(description: str, selector: str, action: Awaitable[Any]) -> None:
    """An action the browser refuses outright (not a checkbox, not a file input): the script is wrong."""
    try:
        await action
    except PlaywrightTimeoutError:
        raise
    except PlaywrightError as error:
        if is_closed_error(error):
            raise
        raise StepFailed(f'element matched selector "{selector}" but could not be {description}: '
                         f"{first_line(error)}", category=FailureCategory.SCRIPT_ERROR) from None


def _position(offset: tuple[float, float] | None) -> Any:
    return {"x": offset[0], "y": offset[1]} if offset else None


async def click(ctx: StepContext, step: Click, page: Page, frame: Frame, timeout_ms: int,
                deadline: float) -> str | None:
    locator, selector = await ctx.element(frame, step.selectors, timeout_ms, deadline)
    if ctx.strict_clicks and step.button in ("left", "middle", "right"):
        await ctx.act("clicked", selector, timeout_ms, locator.click(
            button=cast(MouseButton, step.button), click_count=step.click_count, delay=step.delay_ms,
            position=_position(step.offset), timeout=left_ms(deadline)))
        return selector
    x, y = await _click_point(ctx, locator, selector, page, step.offset, timeout_ms, deadline)
    if step.button in ("back", "forward"):
        await _press_extra_button(page, step.button, x, y, step.delay_ms)
    else:
        await page.mouse.click(x, y, button=cast(MouseButton, step.button), click_count=step.click_count,
                               delay=step.delay_ms or 0)
    return selector


# As Chrome's replay readies an element to click (Puppeteer's locators): wait while it is a disabled form control,
# scroll it to the middle of the viewport unless it is wholly inside, wait until its box is the same in two
# animation frames; then the point to click (its top-left corner + offset, else its centre) in the frame's
# viewport, and what is at that point when it is not the element or inside it.
_CLICK_POINT_JS = """async (element, [offset, timeoutMs]) => {
  const deadline = performance.now() + timeoutMs;
  const frame = () => new Promise(resolve => requestAnimationFrame(() => resolve()));
  while (element.disabled === true) {
    if (performance.now() > deadline) return { problem: "is disabled" };
    await frame();
  }
  const view = element.ownerDocument.defaultView;
  let box = element.getBoundingClientRect();
  // In an iframe the frame itself may be out of the page's view: scrolled always (it scrolls the page too).
  if (view !== view.top || box.top < 0 || box.left < 0 || box.bottom > view.innerHeight
      || box.right > view.innerWidth) {
    element.scrollIntoView({ block: "center", inline: "center", behavior: "instant" });
  }
  let last = null;
  for (;;) {
    await frame();
    box = element.getBoundingClientRect();
    if (last && box.x === last.x && box.y === last.y && box.width === last.width && box.height === last.height) break;
    if (performance.now() > deadline) return { problem: "kept moving" };
    last = box;
  }
  const x = offset ? box.left + offset[0] : box.left + box.width / 2;
  const y = offset ? box.top + offset[1] : box.top + box.height / 2;
  const root = element.getRootNode();
  const hit = (typeof root.elementFromPoint === "function" ? root : element.ownerDocument).elementFromPoint(x, y);
  for (let node = hit; node; node = node.parentNode || node.host) {
    if (node === element) return { x, y, left: box.left, top: box.top, inTop: view === view.top, hit: null };
  }
  let name = "nothing (the point is outside the page)";
  if (hit) {
    name = "<" + hit.localName + ">";
    if (hit.id) name = "<" + hit.localName + ' id="' + hit.id + '">';
    else if (hit.classList.length) name = "<" + hit.localName + ' class="' + hit.getAttribute("class") + '">';
  }
  return { x, y, left: box.left, top: box.top, inTop: view === view.top, hit: name };
}"""


async def _click_point(ctx: StepContext, locator: Locator, selector: str, page: Page,
                       offset: tuple[float, float] | None, timeout_ms: int,
                       deadline: float) -> tuple[float, float]:
    """The point to click in the page's viewport, the element readied as Chrome's replay readies it; a step warning
    when something else is at that point (it receives the click, as in Chrome)."""
    try:
        found = await locator.evaluate(_CLICK_POINT_JS, [list(offset) if offset else None, left_ms(deadline)],
                                       timeout=left_ms(deadline))
    except PlaywrightTimeoutError:
        raise StepFailed(f'element matched selector "{selector}" but could not be clicked within {timeout_ms} ms: '
                         "it went away") from None
    if "problem" in found:
        raise StepFailed(f'element matched selector "{selector}" but {found["problem"]} after {timeout_ms} ms')
    x, y = float(found["x"]), float(found["y"])
    if not found["inTop"]:  # in an iframe (the step's frame, or a selector chain into one): to the page's viewport
        box = await locator.bounding_box(timeout=left_ms(deadline))
        if box is not None:
            x, y = box["x"] + x - float(found["left"]), box["y"] + y - float(found["top"])
    if found["hit"] is not None:
        ctx.warn(f'the click at ({x:.0f}, {y:.0f}) reached {found["hit"]}, not the element matched by "{selector}" '
                 "(clicked as Chrome's replay clicks; strictClicks refuses it)")
    return x, y


# The buttons' bits in CDP's `buttons` (Input.dispatchMouseEvent), which Playwright's mouse cannot press.
_EXTRA_BUTTON_BITS = {"back": 8, "forward": 16}


async def _press_extra_button(page: Page, button: str, x: float, y: float, delay_ms: float | None) -> None:
    session = await page.context.new_cdp_session(page)
    try:
        await session.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})
        await session.send("Input.dispatchMouseEvent", {"type": "mousePressed", "x": x, "y": y, "button": button,
                                                        "buttons": _EXTRA_BUTTON_BITS[button], "clickCount": 1})
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        await session.send("Input.dispatchMouseEvent", {"type": "mouseReleased", "x": x, "y": y, "button": button,
                                                        "buttons": 0, "clickCount": 1})
    finally:
        await session.detach()


async def modifier_click(ctx: StepContext, step: ModifierClick, page: Page, frame: Frame, timeout_ms: int,
                         deadline: float) -> str | None:
    locator, selector = await ctx.element(frame, step.selectors, timeout_ms, deadline)
    await ctx.act("clicked", selector, timeout_ms, locator.click(
        button=step.button, click_count=step.click_count, modifiers=list(step.modifiers),
        position=_position(step.offset), timeout=left_ms(deadline)))
    return selector


async def hover(ctx: StepContext, step: Hover, page: Page, frame: Frame, timeout_ms: int,
                deadline: float) -> str | None:
    locator, selector = await ctx.element(frame, step.selectors, timeout_ms, deadline)
    await ctx.act("hovered", selector, timeout_ms, locator.hover(timeout=left_ms(deadline)))
    return selector


async def fill(ctx: StepContext, step: Fill, page: Page, frame: Frame, timeout_ms: int,
               deadline: float) -> str | None:
    """As @puppeteer/replay's `change`: a <select> picks the option, a checkbox, radio or switch is clicked
    when its checked state differs from the value's truthiness (any non-empty value checks it), text
    fields and contenteditable elements are filled, other inputs (range, color, date, ...) get the value
    set with input and change events, and any other element cannot be filled."""
    locator, selector = await ctx.element(frame, step.selectors, timeout_ms, deadline)
    if ctx.secrets.reveals(step.value):
        await conceal(locator)
    await _fill(ctx, locator, selector, step.value, timeout_ms, deadline)
    return selector


async def _fill(ctx: StepContext, locator: Locator, selector: str, value: str, timeout_ms: int,
                deadline: float) -> None:
    kind = await locator.evaluate(_FILL_KIND_JS)
    if kind == "select":
        await ctx.act(f"set to option {value!r}", selector, timeout_ms,
                      locator.select_option(value, timeout=left_ms(deadline)))
    elif kind == "checkable":
        if await locator.evaluate(_CHECKED_JS) != bool(value):
            await ctx.act("clicked", selector, timeout_ms, locator.click(timeout=left_ms(deadline)))
    elif kind == "typeable":
        await ctx.act("filled", selector, timeout_ms, locator.fill(value, timeout=left_ms(deadline)))
    elif kind == "other-input":
        await locator.evaluate(_SET_VALUE_JS, value)
    else:
        tag = await locator.evaluate("element => element.localName")
        raise StepFailed(f'element matched selector "{selector}" is a <{tag}>, which cannot be filled (expected '
                         "an input, textarea, select or contenteditable element)",
                         category=FailureCategory.SCRIPT_ERROR)


async def type_text(ctx: StepContext, step: TypeText, page: Page, frame: Frame, timeout_ms: int,
                    deadline: float) -> str | None:
    locator, selector = await ctx.element(frame, step.selectors, timeout_ms, deadline)
    if ctx.secrets.reveals(step.value):
        await conceal(locator)
    await ctx.act("typed into", selector, timeout_ms, locator.press_sequentially(
        step.value, delay=step.delay_ms, timeout=left_ms(deadline)))
    return selector


async def select_option(ctx: StepContext, step: SelectOption, page: Page, frame: Frame, timeout_ms: int,
                        deadline: float) -> str | None:
    locator, selector = await ctx.element(frame, step.selectors, timeout_ms, deadline)
    await ctx.act(f"set to option {step.value!r}", selector, timeout_ms,
                  locator.select_option(step.value, timeout=left_ms(deadline)))
    return selector


async def set_checked(ctx: StepContext, step: SetChecked, page: Page, frame: Frame, timeout_ms: int,
                      deadline: float) -> str | None:
    locator, selector = await ctx.element(frame, step.selectors, timeout_ms, deadline)
    verb = "checked" if step.checked else "unchecked"
    await ctx.act(verb, selector, timeout_ms, _refused(verb, selector, locator.set_checked(
        step.checked, timeout=left_ms(deadline))))
    return selector


async def upload(ctx: StepContext, step: Upload, page: Page, frame: Frame, timeout_ms: int,
                 deadline: float) -> str | None:
    locator, selector = await ctx.element(frame, step.selectors, timeout_ms, deadline, visible=False)
    files: Any = [{"name": file.name, "mimeType": file.mime_type, "buffer": file.content} for file in step.files]
    await ctx.act("given files", selector, timeout_ms, _refused(
        "given files", selector, locator.set_input_files(files, timeout=left_ms(deadline))))
    return selector


async def key_down(ctx: StepContext, step: KeyDown, page: Page, frame: Frame, timeout_ms: int,
                   deadline: float) -> str | None:
    await _keyboard(page.keyboard.down(step.key), step.key)
    return None


async def key_up(ctx: StepContext, step: KeyUp, page: Page, frame: Frame, timeout_ms: int,
                 deadline: float) -> str | None:
    await _keyboard(page.keyboard.up(step.key), step.key)
    return None


async def press(ctx: StepContext, step: Press, page: Page, frame: Frame, timeout_ms: int,
                deadline: float) -> str | None:
    if step.selectors is None:
        await _keyboard(page.keyboard.press(step.key), step.key)
        return None
    locator, selector = await ctx.element(frame, step.selectors, timeout_ms, deadline)
    await ctx.act(f"sent key {step.key!r}", selector, timeout_ms,
                  _keyboard(locator.press(step.key, timeout=left_ms(deadline)), step.key))
    return selector


async def scroll(ctx: StepContext, step: Scroll, page: Page, frame: Frame, timeout_ms: int,
                 deadline: float) -> str | None:
    if step.selectors is None:
        await frame.evaluate("([x, y]) => window.scroll(x, y)", [step.x, step.y])
        return None
    match = await find_element(frame, step.selectors, left_ms(deadline), report_timeout_ms=timeout_ms,
                               state="attached")
    await match.locator.evaluate("(e, [x, y]) => { e.scrollLeft = x; e.scrollTop = y; }", [step.x, step.y])
    return match.selector


async def scroll_into_view(ctx: StepContext, step: ScrollIntoView, page: Page, frame: Frame, timeout_ms: int,
                           deadline: float) -> str | None:
    locator, selector = await ctx.element(frame, step.selectors, timeout_ms, deadline, visible=False)
    await ctx.act("scrolled into view", selector, timeout_ms,
                  locator.scroll_into_view_if_needed(timeout=left_ms(deadline)))
    return selector


async def drag_and_drop(ctx: StepContext, step: DragAndDrop, page: Page, frame: Frame, timeout_ms: int,
                        deadline: float) -> str | None:
    source, selector = await ctx.element(frame, step.selectors, timeout_ms, deadline)
    target, target_selector = await ctx.element(frame, step.target_selectors, timeout_ms, deadline)
    await ctx.act(f'dragged onto "{target_selector}"', selector, timeout_ms,
                  source.drag_to(target, timeout=left_ms(deadline)))
    return selector


HANDLERS: Mapping[type[Step], Handler] = MappingProxyType({
    Click: click,
    ModifierClick: modifier_click,
    Hover: hover,
    Fill: fill,
    TypeText: type_text,
    SelectOption: select_option,
    SetChecked: set_checked,
    Upload: upload,
    KeyDown: key_down,
    KeyUp: key_up,
    Press: press,
    Scroll: scroll,
    ScrollIntoView: scroll_into_view,
    DragAndDrop: drag_and_drop,
})
