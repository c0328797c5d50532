"""The replay's exceptions, below `runner.formats.errors.RunnerError` (the whole tree is drawn there)."""

from __future__ import annotations

from contract.runs import FailureCategory
from runner.formats.errors import RunnerError


class BrowserError(RunnerError):
    """The browser could not be started, or stopped answering (infrastructure, not the recording)."""


class StepFailed(RunnerError):
    """One step did not replay; the message is the step's error, without the `step N (type):` prefix.

    `category` says why, when the raiser knows; otherwise the runner infers it from the kind of step (see
    `runner.replay.categories`).
    """

    def __init__(self, message: str, category: FailureCategory | None = None) -> None:
        super().__init__(message)
        self.category = category
