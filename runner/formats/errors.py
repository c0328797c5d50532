"""The runner's exceptions, one tree (the base and the recording's error here, the replay's in
`runner.replay.errors`):

    RunnerError
     ├── InvalidScript   the recording cannot be replayed as written (`field` names the culprit, e.g.
     │                   `steps[2].selectors`); raised by the parsers and `prepare_script`, before any
     │                   browser is touched
     ├── BrowserError    infrastructure: Chromium missing or failing to launch, ffmpeg missing, a crash
     │                   (runner.replay.errors)
     └── StepFailed      one step did not replay (selector not found, timeout, assertion mismatch);
                         internal to the replay, it becomes a `failed` StepResult and never escapes `run()`
                         (runner.replay.errors)

A test failure is never raised to the runner's caller: `PlaywrightRunner.run` reports it in its RunResult.
"""

from __future__ import annotations


class RunnerError(Exception):
    """The runner could not do what was asked."""


class InvalidScript(RunnerError):
    """The recording is not a valid script; `field` is a path such as `steps[2].selector` ("" = the whole)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(field, message)  # both in args, so the exception pickles
        self.field = field
        self.message = message

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message
