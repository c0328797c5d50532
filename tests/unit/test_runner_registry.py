"""The step registry: every step a parser can produce has exactly one handler, and the mapping is fixed."""

from __future__ import annotations

import inspect

import pytest

from runner.formats import steps
from runner.formats.steps import Click, ElementStep, Step
from runner.replay.registry import HANDLER_TABLES, HANDLERS, join_handlers

# Bases of the step model, never produced themselves.
ABSTRACT_STEPS = {Step, ElementStep}


def step_classes() -> set[type[Step]]:
    """Every concrete step class of the step model (what the native, Recorder and SaveAction parsers make)."""
    return {cls for _, cls in inspect.getmembers(steps, inspect.isclass)
            if issubclass(cls, Step) and cls.__module__ == steps.__name__ and cls not in ABSTRACT_STEPS}


def test_every_step_class_has_exactly_one_handler() -> None:
    claims: dict[type[Step], list[str]] = {}
    for table in HANDLER_TABLES:
        for step_class, handler in table.items():
            claims.setdefault(step_class, []).append(f"{handler.__module__}.{handler.__qualname__}")

    missing = sorted(cls.__name__ for cls in step_classes() - claims.keys())
    assert not missing, f"no handler replays these step classes: {missing}"
    twice = {cls.__name__: where for cls, where in claims.items() if len(where) > 1}
    assert not twice, f"step classes with more than one handler: {twice}"
    assert set(HANDLERS) == step_classes()  # and nothing in the registry that is not a step of the model


def test_two_handlers_for_one_step_class_are_refused() -> None:
    async def other(*_: object) -> str | None:
        return None

    with pytest.raises(ValueError, match="two handlers for Click"):
        join_handlers((HANDLERS, {Click: other}))


def test_the_registry_cannot_be_changed() -> None:
    with pytest.raises(TypeError):
        HANDLERS[Click] = HANDLERS[Click]  # type: ignore[index]
