"""What asks for a run: the body of `POST /api/runs`, also the data of a BullMQ job from any producer."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from contract import limits
from contract.options import RunOptions


def _steps(key: str) -> dict[str, Any]:
    return {"type": "array", "maxItems": limits.MAX_STEPS,
            "items": {"type": "object", "required": [key], "properties": {key: {"type": "string", "minLength": 1}}}}


# What the OpenAPI says a recording is: one of the three formats' outlines (runner.formats validates each in
# full: selectors, URLs, patterns, variables; GET /api/schema/script has the native format's whole schema).
SCRIPT_SCHEMA: dict[str, Any] = {"anyOf": [
    {"title": "Native script", "type": "object", "required": ["version", "steps"],
     "properties": {"version": {"const": 1}, "name": {"type": "string", "maxLength": limits.MAX_NAME_CHARS},
                    "steps": _steps("action")}},
    {"title": "Chrome Recorder recording", "type": "object", "required": ["title", "steps"],
     "properties": {"title": {"type": "string", "maxLength": limits.MAX_NAME_CHARS}, "steps": _steps("type")}},
    {"title": "SaveAction recording", "type": "object", "required": ["testName", "actions"],
     "properties": {"testName": {"type": "string", "maxLength": limits.MAX_NAME_CHARS}, "url": {"type": "string"},
                    "actions": _steps("type")}},
]}


def script_schema(schema: dict[str, Any]) -> None:
    schema.clear()
    schema.update(SCRIPT_SCHEMA)


class RunRequest(RunOptions):
    """A run to queue: the body of `POST /api/runs`, and the data of a job any BullMQ producer adds without a
    `runId` (docs/job-format.md)."""


    script: dict[str, Any] = Field(description="The recording: a Reprise native script, Chrome Recorder JSON or a "
                                               "SaveAction recording", json_schema_extra=script_schema)
    name: str | None = Field(default=None, max_length=limits.MAX_NAME_CHARS, pattern=r"^[^\x00]*$",
                             description="Defaults to the recording's title")


class RunBatchRequest(BaseModel):
    """Runs to queue at once: the body of `POST /api/runs/batch`."""

    model_config = ConfigDict(extra="forbid")

    runs: list[RunRequest] = Field(min_length=1, max_length=limits.MAX_BATCH_RUNS,
                                   description=f"1 to {limits.MAX_BATCH_RUNS:,} runs, each a `POST /api/runs` body; "
                                               "queued in this order")


def run_request_json_schema() -> dict[str, Any]:
    """The JSON Schema of a run request, as docs/job-format.schema.json publishes it for BullMQ producers."""
    schema = RunRequest.model_json_schema(by_alias=True)
    schema.pop("title", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Reprise run request",
        "description": "The data of a BullMQ job that asks Reprise for a run (job name: any, e.g. `run`), and the body "
                       "of POST /api/runs. Generated from contract/requests.py.",
        **schema,
    }
