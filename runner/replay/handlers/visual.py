"""A `screenshot` step with `compare: true`: the image as taken now is compared with the saved recording's
approved baseline for the step and the viewport (`StepContext.visual`, handed in by the worker as bytes; the
replay never reads a database).

- no saved recording: the screenshot is taken as usual, with a warning that nothing was compared;
- no baseline yet: the image is kept as `visual-actual` (the proposed baseline), the step passes with a warning;
- a baseline: `visual-actual`, `visual-baseline` and `visual-diff` are kept; more differing pixels than the step
  allows fails it [visual_diff], and so do images of different sizes.

`maskSelectors` (in the page's main frame) are painted over by Playwright in the image taken and painted out of
both images before comparing, so a baseline taken before a mask was added compares as well.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from playwright.async_api import Frame, Locator, Page

from contract.results import ArtifactFile, ArtifactKind
from contract.runs import FailureCategory
from contract.visual import actual_name, viewport_key
from runner.formats.selectors import parse_selector
from runner.formats.steps import Screenshot
from runner.replay.context import StepContext, left_ms
from runner.replay.errors import StepFailed
from runner.replay.locate import apply_part
from runner.replay.visual_diff import MASK_RGB, Rect, SizeMismatch, VisualDiff, compare_images

NO_RECORDING = "not compared: visual comparison needs a saved recording (this run has none)"
PROPOSED = "no baseline yet: proposed (approve it on the run's page)"
MASK_COLOR = "#{:02X}{:02X}{:02X}".format(*MASK_RGB)


async def _masks(page: Page, step: Screenshot, element: Locator | None) -> tuple[list[Locator], list[Rect]]:
    """The mask selectors' elements and their boxes in the image's pixels."""
    locators = [apply_part(page.main_frame, parse_selector(text)) for text in step.mask_selectors]
    if not locators:
        return [], []
    scale, scroll_x, scroll_y = await page.evaluate("[devicePixelRatio, scrollX, scrollY]")
    origin_x, origin_y = (-scroll_x, -scroll_y) if step.full_page and element is None else (0.0, 0.0)
    if element is not None:
        box = await element.bounding_box()
        if box is not None:
            origin_x, origin_y = box["x"], box["y"]
    rects = []
    for locator in locators:
        for found in await locator.all():
            box = await found.bounding_box()
            if box is None:
                continue
            rects.append(Rect(x=int((box["x"] - origin_x) * scale), y=int((box["y"] - origin_y) * scale),
                              width=int(box["width"] * scale + 1.999), height=int(box["height"] * scale + 1.999)))
    return locators, rects


def _keep(ctx: StepContext, kind: ArtifactKind, path: Path | None, data: bytes) -> None:
    if path is None or ctx.artifacts is None:
        return
    path.write_bytes(data)
    ctx.artifacts.append(ArtifactFile(kind=kind, path=path, content_type="image/png", step_index=ctx.step_index))


def _verdict(diff: VisualDiff, step: Screenshot) -> str | None:
    """The step's error when too many pixels differ, else None."""
    if not diff.over(step.threshold, step.max_diff_pixels):
        return None
    allowed = (f"maxDiffPixels {step.max_diff_pixels}" if step.max_diff_pixels is not None
               else f"threshold {step.threshold:g} ({int(step.threshold * diff.total)} of {diff.total} pixels)")
    return (f"{diff.differing} pixels differ from the baseline ({diff.ratio:.4%} of {diff.width}x{diff.height}), "
            f"more than its {allowed} allows")


async def compared_screenshot(ctx: StepContext, step: Screenshot, page: Page, frame: Frame, timeout_ms: int,
                              deadline: float) -> str | None:
    visual = ctx.visual
    assert visual is not None and visual.recording and ctx.step_index is not None
    index = ctx.step_index
    selector = None
    element = None
    if step.selectors is not None:
        element, selector = await ctx.element(frame, step.selectors, timeout_ms, deadline)
    locators, rects = await _masks(page, step, element)
    viewport = page.viewport_size or {"width": 0, "height": 0}
    scale = await page.evaluate("devicePixelRatio")
    key = viewport_key(viewport["width"], viewport["height"], float(scale))
    shots: list[bytes] = []

    async def take() -> None:
        if element is not None:
            shots.append(await element.screenshot(timeout=left_ms(deadline), animations="disabled", mask=locators,
                                                  mask_color=MASK_COLOR))
        else:
            shots.append(await page.screenshot(full_page=step.full_page, timeout=left_ms(deadline),
                                               animations="disabled", mask=locators, mask_color=MASK_COLOR))

    await ctx.act("captured", selector or "page", timeout_ms, take())
    actual = shots[0]
    folder = ctx.screenshot_dir
    _keep(ctx, "visual-actual", folder / actual_name(index, key) if folder else None, actual)
    baseline = visual.baseline(index, key)
    if baseline is None:
        ctx.warn(f"{PROPOSED}; viewport {key}")
        return selector
    _keep(ctx, "visual-baseline", folder / f"visual-baseline-{index:03}-{key}.png" if folder else None, baseline)
    try:
        diff = await asyncio.to_thread(compare_images, baseline, actual, masks=rects)
    except SizeMismatch as error:
        raise StepFailed(str(error), category=FailureCategory.VISUAL_DIFF) from None
    _keep(ctx, "visual-diff", folder / f"visual-diff-{index:03}-{key}.png" if folder else None, diff.diff_png)
    verdict = _verdict(diff, step)
    if verdict is not None:
        raise StepFailed(verdict, category=FailureCategory.VISUAL_DIFF)
    if diff.differing:
        ctx.warn(f"{diff.differing} pixels differ from the baseline, within the step's allowance")
    return selector
