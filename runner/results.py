"""What a replay produces: one result per step, the artifact files, and the run's verdict.

The runner knows nothing of queues or databases: these plain dataclasses are its whole output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

RunStatus = Literal["passed", "failed", "error"]
StepStatus = Literal["passed", "failed", "skipped"]
ArtifactKind = Literal["video", "screenshot", "trace", "html", "console", "har"]
# Why a step or run did not pass. `failed` runs carry the first four or `script_error`/`invalid_script`;
# `error` runs (infrastructure) carry `browser_crashed`.
FailureCategory = Literal[
    "selector_not_found",
    "timeout",
    "assertion_failed",
    "navigation_error",
    "script_error",
    "browser_crashed",
    "invalid_script",
]


@dataclass
class StepResult:
    index: int
    type: str
    status: StepStatus
    duration_ms: int
    error: str | None = None
    selector: str | None = None  # the selector that matched, when the step has one
    started_offset_ms: int = 0  # from the start of the run (and of its video)
    category: FailureCategory | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "type": self.type,
            "status": self.status,
            "durationMs": self.duration_ms,
            "error": self.error,
            "selector": self.selector,
            "startedOffsetMs": self.started_offset_ms,
            "category": self.category,
        }


@dataclass
class ArtifactFile:
    kind: ArtifactKind
    path: Path
    content_type: str
    step_index: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": str(self.path), "contentType": self.content_type,
                "stepIndex": self.step_index}


@dataclass
class RunResult:
    status: RunStatus
    steps: list[StepResult] = field(default_factory=list)
    artifacts: list[ArtifactFile] = field(default_factory=list)
    error: str | None = None
    duration_ms: int = 0
    category: FailureCategory | None = None

    @property
    def actions_executed(self) -> int:
        return sum(1 for step in self.steps if step.status != "skipped")

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "error": self.error,
            "category": self.category,
            "durationMs": self.duration_ms,
            "steps": [step.to_json() for step in self.steps],
            "artifacts": [artifact.to_json() for artifact in self.artifacts],
        }
