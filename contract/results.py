"""What a replay reports: one result per step, the files it made, and the run's verdict.

`StepResult` is the one step model from the runner to the API's answer: the runner fills it, the worker
stores it (`run_steps`), storage reads it back and the API serves it as is (camelCase on the wire).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from contract.options import CamelModel
from contract.runs import FailureCategory, RunStatus, StepStatus

# `visual-*`: a compared `screenshot` step's image as taken (actual), the baseline it was compared with, and the
# difference (differing pixels in red over the faded actual); see contract/visual.py.
ArtifactKind = Literal["video", "screenshot", "trace", "html", "console", "har", "visual-actual", "visual-baseline",
                       "visual-diff"]


class StepResult(CamelModel):
    index: int = Field(description="0-based position in the recording (messages count from 1)")
    type: str = Field(description="The step's type in the recording's own words (`click`, `change`, `fill`)")
    status: StepStatus
    duration_ms: int
    started_offset_ms: int = Field(default=0, description="From the start of the run and of its video")
    selector: str | None = Field(default=None, description="The selector that matched, when the step has one")
    error: str | None = None
    category: FailureCategory | None = None
    warning: str | None = Field(default=None, description="What the step did other than the recording says, though "
                                "it did not fail: a click another element received, a step skipped because it needs "
                                "a Recorder extension")


@dataclass
class ArtifactFile:
    """A file the replay wrote into its output folder; the worker stores it and lists it with the run."""

    kind: ArtifactKind
    path: Path
    content_type: str
    step_index: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": str(self.path), "contentType": self.content_type,
                "stepIndex": self.step_index}


ReplayStatus = Literal[RunStatus.PASSED, RunStatus.FAILED, RunStatus.ERROR]


@dataclass
class RunResult:
    """`passed`: every step replayed; `failed`: the recording did not replay (a test failure);
    `error`: the infrastructure failed (browser crashed, page crashed), retried by the worker."""

    status: ReplayStatus
    steps: list[StepResult] = field(default_factory=list)
    artifacts: list[ArtifactFile] = field(default_factory=list)
    error: str | None = None
    duration_ms: int = 0
    category: FailureCategory | None = None

    @property
    def actions_executed(self) -> int:
        return sum(1 for step in self.steps if step.status != StepStatus.SKIPPED)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "error": self.error,
            "category": self.category.value if self.category else None,
            "durationMs": self.duration_ms,
            "steps": [step.model_dump(mode="json", by_alias=True) for step in self.steps],
            "artifacts": [artifact.to_json() for artifact in self.artifacts],
        }
