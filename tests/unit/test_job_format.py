"""The published job format (docs/job-format.schema.json) is the model the worker validates jobs with."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from pydantic import ValidationError

from contract.requests import RunRequest, run_request_json_schema

DOCS = Path(__file__).resolve().parents[2] / "docs"
REGENERATE = ("regenerate it: .venv/bin/python -c 'import json; from contract.requests import run_request_json_schema;"
              " print(json.dumps(run_request_json_schema(), indent=2, ensure_ascii=False))' "
              "> docs/job-format.schema.json")


def test_the_documented_schema_is_the_models() -> None:
    documented = json.loads((DOCS / "job-format.schema.json").read_text())
    assert documented == run_request_json_schema(), REGENERATE


def test_the_documented_example_is_a_valid_request_by_the_schema_and_the_model() -> None:
    example = json.loads(re.findall(r"```json\n(.*?)```", (DOCS / "job-format.md").read_text(), re.S)[0])
    jsonschema.validate(example, run_request_json_schema())
    request = RunRequest.model_validate(example)
    assert (request.priority, request.name) == ("high", "Sign up (from CI)")


def test_the_schema_refuses_what_the_model_refuses() -> None:
    bad = {"script": {"version": 1, "steps": []}, "priority": "urgent"}
    with pytest.raises(ValidationError, match="priority"):
        RunRequest.model_validate(bad)
    try:
        jsonschema.validate(bad, run_request_json_schema())
    except jsonschema.ValidationError as error:
        assert list(error.absolute_path) == ["priority"]
    else:
        raise AssertionError("the schema accepted priority 'urgent'")
