"""Why a step failed, as one of a few categories people can filter on (`contract.runs.FailureCategory`).

The raiser of `StepFailed` may name the category; otherwise it is inferred here from the kind of step and
the failure, in this order: navigation steps and missed navigations are `navigation_error`; assertions
(native asserts, and Recorder `waitForElement` steps that check properties, attributes or a count) are
`assertion_failed` unless no element matched at all; a selector that matched nothing is
`selector_not_found`; an expression that threw is `script_error`; anything else that ran out of time is
`timeout`.
"""

from __future__ import annotations

from contract.runs import FailureCategory
from runner.formats.steps import (
    AssertText,
    AssertUrl,
    AssertVisible,
    Navigate,
    Step,
    WaitForElement,
    WaitForExpression,
)


def _is_check(step: Step) -> bool:
    if isinstance(step, (AssertText, AssertVisible, AssertUrl)):
        return True
    if isinstance(step, WaitForElement):
        return bool(step.properties or step.attributes or step.operator != ">=" or step.count != 1
                    or not step.visible)
    return False


def categorize(step: Step, message: str, hint: FailureCategory | None = None) -> FailureCategory:
    if hint is not None:
        return hint
    if isinstance(step, Navigate) or "expected a navigation" in message or message.startswith("navigation to"):
        return FailureCategory.NAVIGATION_ERROR
    no_match = message.startswith("no element matched") or message.startswith("frame ")
    if _is_check(step) and not no_match:
        return FailureCategory.ASSERTION_FAILED
    if no_match:
        return FailureCategory.SELECTOR_NOT_FOUND
    if isinstance(step, WaitForExpression) and "failed:" in message:
        return FailureCategory.SCRIPT_ERROR
    if "unknown key" in message or "cannot replay steps" in message:
        return FailureCategory.SCRIPT_ERROR
    return FailureCategory.TIMEOUT
