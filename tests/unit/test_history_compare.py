"""How two runs' steps are set side by side (api.services.history.compare_steps): a value, no database."""

from __future__ import annotations

from api.services.history import compare_steps, first_difference, step_differs
from contract.results import StepResult
from contract.runs import StepStatus


def result(index: int, status: StepStatus = StepStatus.PASSED, duration_ms: int = 100, *,
           error: str | None = None, selector: str | None = None) -> StepResult:
    return StepResult(index=index, type="click", status=status, duration_ms=duration_ms, error=error,
                      selector=selector)


def test_a_step_differs_by_status_error_text_or_presence_never_by_duration() -> None:
    assert not step_differs(result(0, duration_ms=10), result(0, duration_ms=9_000))
    assert step_differs(result(0), result(0, StepStatus.FAILED, error="gone"))
    assert step_differs(result(0, StepStatus.FAILED, error="#a not found"),
                        result(0, StepStatus.FAILED, error="#a not visible"))
    assert not step_differs(result(0, StepStatus.FAILED, error="same"), result(0, StepStatus.FAILED, error="same"))
    assert not step_differs(result(0, error=""), result(0, error=None))
    assert step_differs(result(0), None) and step_differs(None, result(0))


def test_steps_are_paired_by_index_with_deltas_and_the_side_that_has_a_selector() -> None:
    a = [result(0, duration_ms=100), result(1, duration_ms=200, selector="#buy"), result(2, duration_ms=50)]
    b = [result(0, duration_ms=150), result(1, StepStatus.FAILED, 900, error="timeout"), result(3, duration_ms=1)]
    steps = compare_steps(a, b)
    assert [s.index for s in steps] == [0, 1, 2, 3]
    assert [s.duration_delta_ms for s in steps] == [50, 700, None, None]
    assert [s.differs for s in steps] == [False, True, True, True]
    assert steps[1].selector == "#buy" and steps[2].b is None and steps[3].a is None


def test_the_first_difference_is_the_lowest_differing_index_or_none() -> None:
    same = compare_steps([result(0), result(1)], [result(0, duration_ms=5), result(1, duration_ms=7)])
    assert first_difference(same) is None
    differing = compare_steps([result(0), result(1), result(2)], [result(0), result(1, StepStatus.FAILED)])
    assert first_difference(differing) == 1
    assert first_difference(compare_steps([], [result(0)])) == 0
