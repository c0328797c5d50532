"""Steps that only a Recorder extension can replay (`customStep`): none here has one, so the step is skipped with a
warning naming it, and the run passes or fails on its other steps (`strictCustomSteps` refuses the recording at
admission instead: `runner.formats.admission`)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from playwright.async_api import Frame, Page

from runner.formats.steps import CustomStep, Step
from runner.replay.context import Handler, StepContext


async def custom_step(ctx: StepContext, step: CustomStep, page: Page, frame: Frame, timeout_ms: int,
                      deadline: float) -> str | None:
    ctx.skip(f"customStep {step.name!r} needs the Recorder extension that defines it; not replayed")
    return None


HANDLERS: Mapping[type[Step], Handler] = MappingProxyType({CustomStep: custom_step})
